package main_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/sim"
)

// The templates API test runs on the console tenant (startConsoleNode); the names it had for its own stay.
const (
	tplPhone  = conPhone
	tplWABA   = conWABA
	tplAdmin  = conAlice
	tplOp     = conBob
	tplConfig = conConfig
)

type tplView struct {
	Name, Language, Status, Category, Reason string
	Params                                   int
	Header                                   *struct{ Format string }
}

// listTemplates is acme-wa's template catalogue as its operator sees it, by "name/language".
func listTemplates(t *testing.T, n *node) map[string]tplView {
	t.Helper()
	body := mustGetJSON[struct{ Templates []tplView }](n, "/v1/templates?channel_id=acme-wa", conBob)
	out := map[string]tplView{}
	for _, v := range body.Templates {
		out[v.Name+"/"+v.Language] = v
	}
	return out
}

// TestTemplatesThroughSimulator: the node syncs the simulator's catalogue at start; a template goes out with its
// parameters and image header, named parameters, a dynamic URL button, a location header, a named header and a
// coupon code, each as the simulator (playing Meta) accepts it; one whose buttons or location do not fit is refused
// 400 before it leaves; Meta pauses it (the simulator posts the signed status webhook) and the next send is
// refused 422 before it leaves; unknown and not-approved ones are refused; an admin syncs on demand.
func TestTemplatesThroughSimulator(t *testing.T) {
	n, s := startConsoleNode(t)

	eventually.True(t, 30*time.Second, 20*time.Millisecond, func() bool {
		return len(listTemplates(t, n)) == len(sim.SeedTemplates)
	}, "the catalogue synced at start")
	ts := listTemplates(t, n)
	if o := ts["order_update/en_US"]; o.Status != "APPROVED" || o.Params != 2 || o.Category != "UTILITY" {
		t.Errorf("order_update = %+v", o)
	}
	if s := ts["spring_sale/en_US"]; s.Header == nil || s.Header.Format != "IMAGE" || s.Params != 1 {
		t.Errorf("spring_sale = %+v", s)
	}

	from := "34600123456"
	customerWrites(t, n, named(from, "Lucía Gómez", "wamid.t1", "Hola", time.Now()))
	id := conversation.ID("acme-wa", from)
	eventually.True(t, 30*time.Second, 20*time.Millisecond, func() bool {
		code, _ := n.conversation(conBob, id)
		return code == 200
	}, "the conversation exists")
	n.mustCall("POST", "/v1/conversations/"+id+"/take", conBob, nil, 200)

	send := func(tpl map[string]any) (int, []byte) {
		return n.call("POST", "/v1/conversations/"+id+"/messages", conBob, map[string]any{"type": "template", "template": tpl})
	}
	if code, b := send(map[string]any{"name": "order_update", "language": "en_US", "params": []string{"", "R-77"},
		"params_from": []string{"contact.name"}}); code != 201 {
		t.Fatalf("order_update: %d %s", code, b)
	}
	if code, b := send(map[string]any{"name": "spring_sale", "language": "en_US", "params": []string{"Lucía"},
		"header": map[string]string{"type": "image", "link": "https://cdn.example.com/sale.jpg"}}); code != 201 {
		t.Fatalf("spring_sale: %d %s", code, b)
	}
	simReceived(t, s, from, "order_update with its parameters", `"name":"order_update"`, `"text":"Lucía Gómez"`, `"text":"R-77"`)
	simReceived(t, s, from, "spring_sale with its image header", `"name":"spring_sale"`, `"type":"header"`,
		`"link":"https://cdn.example.com/sale.jpg"`)

	// Named parameters go to Meta with their names.
	if code, b := send(map[string]any{"name": "appointment_reminder", "language": "en_US",
		"params": []string{"Lucía", "Madrid", "May 3"}}); code != 201 {
		t.Fatalf("appointment_reminder: %d %s", code, b)
	}
	simReceived(t, s, from, "appointment_reminder with named parameters", `"name":"appointment_reminder"`,
		`"parameter_name":"first_name"`, `"parameter_name":"city"`, `"text":"Madrid"`)

	// A dynamic URL button's suffix, a LOCATION header's place, a named TEXT header and a COPY_CODE's code: the
	// simulator checks each against its template as Meta does and records only what it accepts.
	if code, b := send(map[string]any{"name": "order_tracking", "language": "en_US", "params": []string{"Lucía", "R-77"},
		"buttons": []map[string]any{{"sub_type": "url", "index": 0, "params": []string{"R-77"}}}}); code != 201 {
		t.Fatalf("order_tracking: %d %s", code, b)
	}
	if code, b := send(map[string]any{"name": "pickup_ready", "language": "en_US", "params": []string{"Lucía", "R-77"},
		"header": map[string]any{"type": "location", "location": map[string]any{"latitude": 40.4168, "longitude": -3.7038,
			"name": "Madrid store", "address": "Gran Vía 1, Madrid"}}}); code != 201 {
		t.Fatalf("pickup_ready: %d %s", code, b)
	}
	if code, b := send(map[string]any{"name": "flash_sale", "language": "en_US", "params": []string{"Lucía"},
		"header":  map[string]any{"type": "text", "text": "Flash sale"},
		"buttons": []map[string]any{{"sub_type": "copy_code", "index": 0, "params": []string{"SAVE20"}}}}); code != 201 {
		t.Fatalf("flash_sale: %d %s", code, b)
	}
	simReceived(t, s, from, "order_tracking with its URL suffix", `"name":"order_tracking"`,
		`{"index":"0","parameters":[{"text":"R-77","type":"text"}],"sub_type":"url","type":"button"}`)
	simReceived(t, s, from, "pickup_ready with its location", `"name":"pickup_ready"`,
		`{"address":"Gran Vía 1, Madrid","latitude":"40.4168","longitude":"-3.7038","name":"Madrid store"}`)
	simReceived(t, s, from, "flash_sale with its named header and code", `"name":"flash_sale"`,
		`"parameter_name":"sale_name","text":"Flash sale"`, `"coupon_code":"SAVE20"`)
	for _, tc := range []struct {
		tpl map[string]any
		in  string
	}{
		{map[string]any{"name": "order_tracking", "language": "en_US", "params": []string{"a", "b"}}, `button 0 (URL \"Track order\"`},
		{map[string]any{"name": "order_tracking", "language": "en_US", "params": []string{"a", "b"},
			"buttons": []map[string]any{{"sub_type": "url", "index": 0, "params": []string{"R"}}, {"sub_type": "url", "index": 1, "params": []string{"x"}}}},
			`takes sub_type \"quick_reply\", not \"url\"`},
		{map[string]any{"name": "pickup_ready", "language": "en_US", "params": []string{"a", "b"},
			"header": map[string]any{"type": "location", "location": map[string]any{"latitude": 95, "longitude": 0, "name": "x", "address": "y"}}},
			"latitude 95 is not between -90 and 90"},
	} {
		code, b := send(tc.tpl)
		if code != 400 || !strings.Contains(string(b), "invalid_template_params") || !strings.Contains(string(b), tc.in) {
			t.Errorf("%v: %d %s, want 400 invalid_template_params saying %s", tc.tpl["name"], code, b, tc.in)
		}
	}

	n.refused("POST", "/v1/conversations/"+id+"/messages", conBob, map[string]any{"type": "template",
		"template": map[string]any{"name": "no_such", "language": "en_US"}}, 400, "template_not_found")
	n.refused("POST", "/v1/conversations/"+id+"/messages", conBob, map[string]any{"type": "template",
		"template": map[string]any{"name": "welcome_offer", "language": "en_US", "params": []string{"a", "b"}}}, 422, "template_not_approved")
	n.refused("POST", "/v1/conversations/"+id+"/messages", conBob, map[string]any{"type": "template",
		"template": map[string]any{"name": "order_update", "language": "en_US", "params": []string{"a"}}}, 400, "invalid_template_params")

	// Meta pauses order_update: the simulator posts the signed webhook, answered 200 once the node produced it.
	resp, err := http.Post(s.URL()+"/sim/templates/order_update/status", "application/json",
		strings.NewReader(`{"language":"en_US","status":"PAUSED","reason":"LOW_QUALITY","waba":"`+conWABA+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(b, []byte(`"webhooks":[200]`)) {
		t.Fatalf("sim status change: %d %s", resp.StatusCode, b)
	}
	eventually.True(t, 30*time.Second, 20*time.Millisecond, func() bool {
		return listTemplates(t, n)["order_update/en_US"].Status == "PAUSED"
	}, "order_update paused in the catalogue")
	code, b := send(map[string]any{"name": "order_update", "language": "en_US", "params": []string{"a", "b"}})
	if code != 422 || !strings.Contains(string(b), "template_not_approved") || !strings.Contains(string(b), "PAUSED") {
		t.Errorf("send of the paused template: %d %s, want 422 template_not_approved naming PAUSED", code, b)
	}
	// The other language of it is still approved.
	if code, b := send(map[string]any{"name": "order_update", "language": "pt_BR", "params": []string{"a", "b"}}); code != 201 {
		t.Errorf("order_update pt_BR: %d %s", code, b)
	}

	// An operator may not sync; an admin may, and the catalogue follows the listing again (Meta's listing says
	// PAUSED too, so nothing changes).
	n.refused("POST", "/v1/templates/sync", conBob, nil, 403, "forbidden")
	b = n.mustCall("POST", "/v1/templates/sync", conAlice, nil, 200)
	if !strings.Contains(string(b), `"waba":"`+conWABA+`"`) || !strings.Contains(string(b), fmt.Sprintf(`"templates":%d`, len(sim.SeedTemplates))) {
		t.Errorf("sync: %s", b)
	}
	if got := listTemplates(t, n)["order_update/en_US"].Status; got != "PAUSED" {
		t.Errorf("after the sync order_update is %s", got)
	}
	if v := n.metric("switchboard_template_syncs_total", "result", "ok"); v < 2 {
		t.Errorf("switchboard_template_syncs_total{result=ok} = %v, want at least 2", v)
	}
}
