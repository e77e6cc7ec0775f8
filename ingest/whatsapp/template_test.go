package whatsapp

import (
	"encoding/json"
	"testing"

	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// TestParseTemplateChanges: Meta's template webhooks (entry.id is the business account) become KindTemplate items
// of the tenant whose channels have that waba_id, with the value exactly as Meta sent it.
func TestParseTemplateChanges(t *testing.T) {
	dir := testDirectory(t)
	for _, tc := range []struct{ file, field string }{
		{"template_status_paused.json", "message_template_status_update"},
		{"template_quality_update.json", "message_template_quality_update"},
		{"template_category_update.json", "template_category_update"},
	} {
		body := readTestdata(t, tc.file)
		recs, err := Parse(body, dir, ingestAt)
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if len(recs) != 1 || recs[0].Tenant != "acme" || len(recs[0].Items) != 1 {
			t.Fatalf("%s: records %+v, want one of acme with one item", tc.file, recs)
		}
		it := recs[0].Items[0]
		if it.Kind != inbox.KindTemplate || it.Channel != "acme-wa" || it.Template == nil ||
			it.Template.WABA != "200300400500" || it.Template.Field != tc.field {
			t.Fatalf("%s: item %+v", tc.file, it)
		}
		var want struct {
			Entry []struct {
				Changes []struct {
					Value json.RawMessage `json:"value"`
				} `json:"changes"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(body, &want); err != nil {
			t.Fatal(err)
		}
		if got := string(it.Template.Value); got != string(want.Entry[0].Changes[0].Value) {
			t.Errorf("%s: value %s, want it as sent: %s", tc.file, got, want.Entry[0].Changes[0].Value)
		}
		// The record survives its wire form.
		b, err := recs[0].Encode(nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := inbox.Decode(b); err != nil {
			t.Errorf("%s: %v", tc.file, err)
		}
	}
}

// TestParseTemplateMixed: a payload mixing another account's template webhook, a message and this account's
// template webhook gives the message and the known account's change, in payload order; the unknown account's
// change is skipped, not an error for the whole payload.
func TestParseTemplateMixed(t *testing.T) {
	var stats parseStats
	recs, chans, err := parse(readTestdata(t, "template_mixed.json"), testDirectory(t), ingestAt, nil, &stats)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || len(recs[0].Items) != 2 {
		t.Fatalf("records %+v", recs)
	}
	if k := recs[0].Items[0].Kind; k != inbox.KindMessage {
		t.Errorf("first item %s, want the message", k)
	}
	if it := recs[0].Items[1]; it.Kind != inbox.KindTemplate || it.Template.Field != "message_template_status_update" {
		t.Errorf("second item %+v, want the template change", it)
	}
	if stats.unknownAccounts != 1 {
		t.Errorf("unknown accounts %d, want 1", stats.unknownAccounts)
	}
	if len(chans) != 1 || chans[0].ID != "acme-wa" {
		t.Errorf("channels %v", chans)
	}
}

// TestHandlerTemplateChanges: a template webhook is answered 200 once produced; one of an unknown account is 200
// with nothing produced and counted; one of initech's account signed by the BSP app is refused.
func TestHandlerTemplateChanges(t *testing.T) {
	s := startServer(t, &memProducer{}, 0)
	paused := readTestdata(t, "template_status_paused.json")
	if r := s.do(t, "POST", "", sign(bspSecret, paused), paused); r.status != 200 {
		t.Fatalf("paused: %d %s", r.status, r.body)
	}
	if _, acked := s.prod.state(); len(acked) != 1 || acked[0][0].Items[0].Kind != inbox.KindTemplate {
		t.Fatalf("produced %+v, want the template change", acked)
	}
	unknown := readTestdata(t, "template_status_update.json")
	if r := s.do(t, "POST", "", sign(bspSecret, unknown), unknown); r.status != 200 {
		t.Fatalf("unknown account: %d %s", r.status, r.body)
	}
	if _, acked := s.prod.state(); len(acked) != 1 {
		t.Errorf("an unknown account's change was produced (%d payloads)", len(acked))
	}
	if m := findSeries(t, s.reg, "switchboard_webhook_template_changes_ignored_total"); m == nil || m.GetCounter().GetValue() != 1 {
		t.Errorf("ignored template changes = %v, want 1", m)
	}
	var other map[string]any
	_ = json.Unmarshal(paused, &other)
	other["entry"].([]any)[0].(map[string]any)["id"] = "700600500400" // initech's account, another app
	b, _ := json.Marshal(other)
	if r := s.do(t, "POST", "", sign(bspSecret, b), b); r.status != 401 {
		t.Errorf("initech's account signed by the BSP app: %d, want 401", r.status)
	}
	if _, acked := s.prod.state(); len(acked) != 1 {
		t.Errorf("a refused payload was produced")
	}
}
