package template_test

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/refusal"
	"github.com/switchboard-hq/switchboard/actors/template"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

var at = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

// listed reads the Graph API listing in testdata (Meta's message_templates shape) into records.
func listed(t *testing.T) map[string]template.Template {
	t.Helper()
	b, err := os.ReadFile("testdata/message_templates.json")
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Data []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &page); err != nil {
		t.Fatal(err)
	}
	out := map[string]template.Template{}
	for _, raw := range page.Data {
		tp, err := template.FromMeta("102290129340398", raw, at)
		if err != nil {
			t.Fatal(err)
		}
		out[tp.Name] = tp
	}
	return out
}

func TestFromMeta(t *testing.T) {
	ts := listed(t)
	o := ts["order_update"]
	if o.ID != "1092841637210001" || o.WABA != "102290129340398" || o.Language != "en_US" || o.Category != "UTILITY" ||
		o.Status != "APPROVED" || o.Params != 2 || o.Header != nil || !o.UpdatedAt.Equal(at) {
		t.Errorf("order_update = %+v", o)
	}
	if !strings.Contains(string(o.Components), `"FOOTER"`) {
		t.Errorf("components not kept as Meta listed them: %s", o.Components)
	}
	s := ts["spring_sale"]
	if s.Header == nil || s.Header.Format != "IMAGE" || !s.Header.Media() || s.Params != 1 || s.Quality != "GREEN" {
		t.Errorf("spring_sale = %+v header %+v", s, s.Header)
	}
	n := ts["ticket_named"]
	if strings.Join(n.ParamNames, ",") != "first_name,ticket" || o.ParamNames != nil {
		t.Errorf("param names %v (named) and %v (positional)", n.ParamNames, o.ParamNames)
	}
	if n.Params != 2 || n.Header == nil || n.Header.Format != "TEXT" || n.Header.Params != 1 || n.Header.Media() ||
		n.Status != "REJECTED" || n.Reason != "INVALID_FORMAT" {
		t.Errorf("ticket_named = %+v header %+v", n, n.Header)
	}
	d := ts["delivery_pickup"]
	if d.Header == nil || d.Header.Format != template.HeaderLocation || d.Header.Media() || len(d.Buttons) != 4 {
		t.Fatalf("delivery_pickup = %+v header %+v", d, d.Header)
	}
	for i, want := range []template.Button{
		{Type: "URL", Text: "Track", URL: "https://shop.example.com/track/{{1}}", SubType: "url", Required: true},
		{Type: "URL", Text: "Help", URL: "https://shop.example.com/help"},
		{Type: "PHONE_NUMBER", Text: "Call us"},
		{Type: "QUICK_REPLY", Text: "Stop", SubType: "quick_reply"},
	} {
		if d.Buttons[i] != want {
			t.Errorf("delivery_pickup button %d = %+v, want %+v", i, d.Buttons[i], want)
		}
	}
	c := ts["coupon_named_header"]
	if c.Header == nil || c.Header.Params != 1 || c.Header.ParamName != "sale_name" || len(c.Buttons) != 1 ||
		c.Buttons[0] != (template.Button{Type: "COPY_CODE", SubType: "copy_code", Required: true}) {
		t.Errorf("coupon_named_header = %+v header %+v", c, c.Header)
	}
	if n.Header.ParamName != "" {
		t.Errorf("a positional header has no parameter name: %+v", n.Header)
	}
	if l := ts["login_code"]; len(l.Buttons) != 1 || l.Buttons[0].SubType != "url" || !l.Buttons[0].Required {
		t.Errorf("login_code buttons = %+v: an OTP button takes its code as a url parameter", l.Buttons)
	}
	// A record stored before buttons were derived gets them from its components.
	old := d
	old.Buttons, old.Header = nil, nil
	old.Derive()
	if len(old.Buttons) != 4 || old.Header == nil || old.Header.Format != template.HeaderLocation || old.Params != 1 {
		t.Errorf("Derive of a stored record = %+v", old)
	}
	partial := template.Template{Name: "p", Status: "APPROVED", Partial: true}
	if partial.Derive(); partial.Buttons != nil || partial.Header != nil {
		t.Errorf("Derive of a partial record = %+v", partial)
	}
	for _, bad := range []string{`{"name":"x"}`, `{"language":"en"}`, `[1]`, `{"name":"x","language":"en","components":"no"}`} {
		if _, err := template.FromMeta("w", json.RawMessage(bad), at); !errors.Is(err, template.ErrInvalid) {
			t.Errorf("FromMeta(%s) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestCountParams(t *testing.T) {
	for text, want := range map[string]int{
		"":                               0,
		"no params":                      0,
		"{{1}} and {{2}}":                2,
		"{{2}} only":                     2,
		"{{ 1 }} spaced, {{1}} again":    1,
		"{{name}} {{other}} {{name}}":    2,
		"{{not a param}} {{1":            0,
		"{{1}}{{3}}{{2}}":                3,
		"{{{1}}}":                        0, // "{1" is not a name
		"price {{1}} for {{first_name}}": 1,
	} {
		if got := template.CountParams(text); got != want {
			t.Errorf("CountParams(%q) = %d, want %d", text, got, want)
		}
	}
}

func TestParseChangeAndApply(t *testing.T) {
	ts := listed(t)
	o := ts["order_update"]
	later := at.Add(time.Hour)
	for _, tc := range []struct {
		name, field, value string
		prev               *template.Template
		ok                 bool
		check              func(template.Template) bool
	}{
		{"paused", template.FieldStatus,
			`{"event":"PAUSED","message_template_id":1092841637210001,"message_template_name":"order_update","message_template_language":"en_US","reason":"LOW_QUALITY"}`,
			&o, true, func(n template.Template) bool {
				return n.Status == "PAUSED" && n.Reason == "LOW_QUALITY" && n.Params == 2 && n.UpdatedAt.Equal(later)
			}},
		{"approved again, reason NONE dropped", template.FieldStatus,
			`{"event":"REINSTATED","message_template_id":1092841637210001,"message_template_name":"order_update","message_template_language":"en_US","reason":"NONE"}`,
			&template.Template{Name: "order_update", Language: "en_US", Status: "PAUSED", Reason: "LOW_QUALITY"}, true,
			func(n template.Template) bool { return n.Status == "APPROVED" && n.Reason == "" }},
		{"same status changes nothing", template.FieldStatus,
			`{"event":"APPROVED","message_template_id":1092841637210001,"message_template_name":"order_update","message_template_language":"en_US","reason":"NONE"}`,
			&o, false, nil},
		{"flagged keeps it sendable, quality red", template.FieldStatus,
			`{"event":"FLAGGED","message_template_id":1092841637210001,"message_template_name":"order_update","message_template_language":"en_US","reason":"NONE"}`,
			&o, true, func(n template.Template) bool { return n.Status == "APPROVED" && n.Quality == "RED" }},
		{"unknown template approved: partial", template.FieldStatus,
			`{"event":"APPROVED","message_template_id":77,"message_template_name":"new_one","message_template_language":"de","reason":"NONE"}`,
			nil, true, func(n template.Template) bool {
				return n.Partial && n.ID == "77" && n.Name == "new_one" && n.WABA == "102290129340398" && n.Status == "APPROVED"
			}},
		{"quality", template.FieldQuality,
			`{"previous_quality_score":"GREEN","new_quality_score":"YELLOW","message_template_id":1092841637210001,"message_template_name":"order_update","message_template_language":"en_US"}`,
			&o, true, func(n template.Template) bool { return n.Quality == "YELLOW" && n.Status == "APPROVED" }},
		{"quality of an unknown template", template.FieldQuality,
			`{"previous_quality_score":"GREEN","new_quality_score":"RED","message_template_id":5,"message_template_name":"x","message_template_language":"en"}`,
			nil, false, nil},
		{"category changed", template.FieldCategory,
			`{"message_template_id":1092841637210001,"message_template_name":"order_update","message_template_language":"en_US","previous_category":"UTILITY","new_category":"MARKETING"}`,
			&o, true, func(n template.Template) bool { return n.Category == "MARKETING" }},
		{"impending category change changes nothing yet", template.FieldCategory,
			`{"message_template_id":1092841637210001,"message_template_name":"order_update","message_template_language":"en_US","correct_category":"MARKETING","new_category":"UTILITY","category_update_timestamp":1764720000}`,
			&o, false, nil},
	} {
		c, err := template.ParseChange(tc.field, json.RawMessage(tc.value))
		if err != nil {
			t.Errorf("%s: ParseChange: %v", tc.name, err)
			continue
		}
		n, ok := template.Apply(tc.prev, "102290129340398", c, later)
		if ok != tc.ok {
			t.Errorf("%s: ok = %v, want %v (%+v)", tc.name, ok, tc.ok, n)
			continue
		}
		if ok && !tc.check(n) {
			t.Errorf("%s: got %+v", tc.name, n)
		}
	}
	for _, bad := range []struct{ field, value string }{
		{template.FieldStatus, `{"message_template_name":"a","message_template_language":"en"}`},
		{template.FieldStatus, `{"event":"APPROVED","message_template_language":"en"}`},
		{template.FieldQuality, `{"message_template_name":"a","message_template_language":"en"}`},
		{"account_update", `{"message_template_name":"a","message_template_language":"en"}`},
		{template.FieldStatus, `[]`},
	} {
		if _, err := template.ParseChange(bad.field, json.RawMessage(bad.value)); !errors.Is(err, template.ErrInvalid) {
			t.Errorf("ParseChange(%s, %s) = %v, want ErrInvalid", bad.field, bad.value, err)
		}
	}
}

func TestCheck(t *testing.T) {
	ts := listed(t)
	o, s, n := ts["order_update"], ts["spring_sale"], ts["ticket_named"]
	paused := o
	paused.Status, paused.Reason = "PAUSED", "LOW_QUALITY"
	partial := template.Template{Name: "p", Language: "en", Status: "APPROVED", Partial: true}
	approvedNamed := n
	approvedNamed.Status = "APPROVED"
	for _, tc := range []struct {
		name  string
		t     *template.Template
		found bool
		m     inbox.Template
		code  string
		in    string // in the message
	}{
		{"ok", &o, true, inbox.Template{Name: "order_update", Language: "en_US", Params: []string{"Ana", "R-1"}}, "", ""},
		{"unknown", nil, false, inbox.Template{Name: "nope", Language: "en"}, template.CodeNotFound, `"nope"`},
		{"paused", &paused, true, inbox.Template{Name: "order_update", Language: "en_US", Params: []string{"a", "b"}},
			template.CodeNotApproved, "is PAUSED, not APPROVED (LOW_QUALITY)"},
		{"rejected", &n, true, inbox.Template{Name: "ticket_named", Language: "pt_BR"}, template.CodeNotApproved, "REJECTED"},
		{"too few", &o, true, inbox.Template{Name: "order_update", Language: "en_US", Params: []string{"Ana"}},
			template.CodeInvalidParams, "takes 2 body parameters, 1 given"},
		{"blank", &o, true, inbox.Template{Name: "order_update", Language: "en_US", Params: []string{"Ana", " "}},
			template.CodeInvalidParams, "parameter 2"},
		{"header missing", &s, true, inbox.Template{Name: "spring_sale", Language: "en_US", Params: []string{"Ana"}},
			template.CodeInvalidParams, "image header"},
		{"header of the wrong type", &s, true, inbox.Template{Name: "spring_sale", Language: "en_US", Params: []string{"Ana"},
			Header: &inbox.TemplateHeader{Type: "video", ID: "m"}}, template.CodeInvalidParams, "image header"},
		{"header with id and link", &s, true, inbox.Template{Name: "spring_sale", Language: "en_US", Params: []string{"Ana"},
			Header: &inbox.TemplateHeader{Type: "image", ID: "m", Link: "https://x/a.png"}}, template.CodeInvalidParams, "image header"},
		{"image header ok", &s, true, inbox.Template{Name: "spring_sale", Language: "en_US", Params: []string{"Ana"},
			Header: &inbox.TemplateHeader{Type: "image", Link: "https://x/a.png"}}, "", ""},
		{"needless header", &o, true, inbox.Template{Name: "order_update", Language: "en_US", Params: []string{"a", "b"},
			Header: &inbox.TemplateHeader{Type: "image", ID: "m"}}, template.CodeInvalidParams, "no header"},
		{"text header parameter missing", &approvedNamed, true, inbox.Template{Name: "ticket_named", Language: "pt_BR",
			Params: []string{"Ana", "T-9"}}, template.CodeInvalidParams, "header parameter"},
		{"text header ok", &approvedNamed, true, inbox.Template{Name: "ticket_named", Language: "pt_BR",
			Params: []string{"Ana", "T-9"}, Header: &inbox.TemplateHeader{Type: "text", Text: "T-9"}}, "", ""},
		{"partial: status only", &partial, true, inbox.Template{Name: "p", Language: "en", Params: []string{"x"}}, "", ""},
	} {
		r := template.Check(tc.t, tc.found, &tc.m)
		wantRefusal(t, tc.name, r, tc.code, tc.in)
		if r != nil && !errors.Is(r, &refusal.Refusal{Code: r.Code}) {
			t.Errorf("%s: not a refusal", tc.name)
		}
	}
}

func TestRender(t *testing.T) {
	ts := listed(t)
	o := ts["order_update"]
	p := template.Render(&o, []string{"Ana", "R-1"}, "")
	if p.Body != "Hi Ana, your order R-1 has shipped." || p.Footer != "Reply STOP to opt out" ||
		len(p.Buttons) != 1 || p.Buttons[0] != "Track it" || p.HeaderFormat != "" {
		t.Errorf("order_update preview = %+v", p)
	}
	if p := template.Render(&o, []string{"Ana"}, ""); p.Body != "Hi Ana, your order {{2}} has shipped." {
		t.Errorf("a missing parameter must stay visible: %q", p.Body)
	}
	n := ts["ticket_named"]
	if p := template.Render(&n, []string{"Ana", "T-9"}, "T-9"); p.Body != "Hello Ana, ticket T-9 is Ana's." ||
		p.Header != "Ticket T-9" || p.HeaderFormat != "TEXT" {
		t.Errorf("named preview = %+v", p)
	}
	s := ts["spring_sale"]
	if p := template.Render(&s, []string{"<b>Ana</b>"}, ""); p.HeaderFormat != "IMAGE" || p.Body != "<b>Ana</b>, our spring sale starts today!" {
		t.Errorf("image preview = %+v", p)
	}
}

func f(v float64) *float64 { return &v }

// TestCheckHeadersAndButtons: a named TEXT header, a LOCATION header and button parameters against the template's
// buttons.
func TestCheckHeadersAndButtons(t *testing.T) {
	ts := listed(t)
	d, c, l, o, n := ts["delivery_pickup"], ts["coupon_named_header"], ts["login_code"], ts["order_update"], ts["ticket_named"]
	n.Status = "APPROVED"
	place := func(lat, long *float64, name, addr string) *inbox.TemplateHeader {
		return &inbox.TemplateHeader{Type: "location", Location: &inbox.TemplateLocation{Latitude: lat, Longitude: long, Name: name, Address: addr}}
	}
	here := place(f(38.7223), f(-9.1393), "Depot", "Rua Augusta 1, Lisboa")
	track := []inbox.TemplateButton{{SubType: "url", Index: 0, Params: []string{"R-1"}}}
	dm := func(h *inbox.TemplateHeader, b ...inbox.TemplateButton) inbox.Template {
		return inbox.Template{Name: d.Name, Language: d.Language, Params: []string{"R-1"}, Header: h, Buttons: b}
	}
	coupon := []inbox.TemplateButton{{SubType: "copy_code", Index: 0, Params: []string{"SAVE20"}}}
	cm := func(h *inbox.TemplateHeader, b ...inbox.TemplateButton) inbox.Template {
		return inbox.Template{Name: c.Name, Language: c.Language, Params: []string{"Ana"}, Header: h, Buttons: b}
	}
	text := func(v, name string) *inbox.TemplateHeader {
		return &inbox.TemplateHeader{Type: "text", Text: v, ParameterName: name}
	}
	for _, tc := range []struct {
		name string
		t    *template.Template
		m    inbox.Template
		code string
		in   string
	}{
		{"location and url button", &d, dm(here, track...), "", ""},
		{"location at 0,0 and the edges", &d, dm(place(f(-90), f(180), "Pole", "South"), track...), "", ""},
		{"location on the equator", &d, dm(place(f(0), f(0), "Null Island", "Gulf of Guinea"), track...), "", ""},
		{"quick reply payload too", &d, dm(here, track[0], inbox.TemplateButton{SubType: "quick_reply", Index: 3, Params: []string{"stop"}}), "", ""},
		{"location missing", &d, dm(nil, track...), template.CodeInvalidParams, "location header"},
		{"location of another type", &d, dm(&inbox.TemplateHeader{Type: "image", Link: "https://x/a.png"}, track...),
			template.CodeInvalidParams, "location header"},
		{"location without coordinates", &d, dm(place(nil, f(1), "a", "b"), track...), template.CodeInvalidParams, "latitude and a longitude"},
		{"latitude out of range", &d, dm(place(f(90.5), f(1), "a", "b"), track...), template.CodeInvalidParams, "latitude 90.5"},
		{"longitude out of range", &d, dm(place(f(1), f(-180.01), "a", "b"), track...), template.CodeInvalidParams, "longitude -180.01"},
		{"location without a name", &d, dm(place(f(1), f(1), " ", "b"), track...), template.CodeInvalidParams, "name and an address"},
		{"location without an address", &d, dm(place(f(1), f(1), "a", ""), track...), template.CodeInvalidParams, "name and an address"},
		{"dynamic url without its parameter", &d, dm(here), template.CodeInvalidParams, `button 0 (URL "Track" https://shop.example.com/track/{{1}}) of template "delivery_pickup" needs its parameter`},
		{"url parameter empty", &d, dm(here, inbox.TemplateButton{SubType: "url", Index: 0, Params: []string{" "}}),
			template.CodeInvalidParams, "button 0 (URL \"Track\""},
		{"url with two parameters", &d, dm(here, inbox.TemplateButton{SubType: "url", Index: 0, Params: []string{"a", "b"}}),
			template.CodeInvalidParams, "exactly one non-empty parameter, 2 given"},
		{"sub_type not the button's", &d, dm(here, inbox.TemplateButton{SubType: "quick_reply", Index: 0, Params: []string{"a"}}),
			template.CodeInvalidParams, `takes sub_type "url", not "quick_reply"`},
		{"static url takes none", &d, dm(here, track[0], inbox.TemplateButton{SubType: "url", Index: 1, Params: []string{"x"}}),
			template.CodeInvalidParams, `button 1 (URL "Help" https://shop.example.com/help) of template "delivery_pickup" takes no parameter`},
		{"phone number takes none", &d, dm(here, track[0], inbox.TemplateButton{SubType: "url", Index: 2, Params: []string{"x"}}),
			template.CodeInvalidParams, `button 2 (PHONE_NUMBER "Call us")`},
		{"no such button", &d, dm(here, track[0], inbox.TemplateButton{SubType: "quick_reply", Index: 4, Params: []string{"x"}}),
			template.CodeInvalidParams, "has no button 4 (it has 4)"},
		{"button given twice", &d, dm(here, track[0], track[0]), template.CodeInvalidParams, "given twice"},
		{"buttons on a template without", &o, inbox.Template{Name: o.Name, Language: o.Language, Params: []string{"a", "b"},
			Buttons: []inbox.TemplateButton{{SubType: "url", Index: 1, Params: []string{"x"}}}}, template.CodeInvalidParams, "has no button 1 (it has 1)"},
		{"named header by name", &c, cm(text("Black Friday", "sale_name"), coupon...), "", ""},
		{"named header without its name (the API fills it)", &c, cm(text("Black Friday", ""), coupon...), "", ""},
		{"named header of another name", &c, cm(text("Black Friday", "sale"), coupon...), template.CodeInvalidParams, `named "sale_name", not "sale"`},
		{"named header missing", &c, cm(nil, coupon...), template.CodeInvalidParams, "header parameter"},
		{"copy code missing", &c, cm(text("Black Friday", "")), template.CodeInvalidParams, `button 0 (COPY_CODE "") of template "coupon_named_header" needs its parameter`},
		{"copy code as url", &c, cm(text("Black Friday", ""), inbox.TemplateButton{SubType: "url", Index: 0, Params: []string{"X"}}),
			template.CodeInvalidParams, `takes sub_type "copy_code"`},
		{"positional header given a name", &n, inbox.Template{Name: n.Name, Language: n.Language, Params: []string{"Ana", "T-9"},
			Header: text("T-9", "ticket")}, template.CodeInvalidParams, "positional: give no parameter_name"},
		{"otp code", &l, inbox.Template{Name: l.Name, Language: l.Language, Params: []string{"123456"},
			Buttons: []inbox.TemplateButton{{SubType: "url", Index: 0, Params: []string{"123456"}}}}, "", ""},
		{"otp without its code", &l, inbox.Template{Name: l.Name, Language: l.Language, Params: []string{"123456"}},
			template.CodeInvalidParams, "OTP"},
	} {
		wantRefusal(t, tc.name, template.Check(tc.t, true, &tc.m), tc.code, tc.in)
	}
}

// wantRefusal checks the outcome of a send check: accepted when code is "", else refused with code, the message
// containing in.
func wantRefusal(t *testing.T, name string, r *template.Refusal, code, in string) {
	t.Helper()
	switch {
	case code == "" && r != nil:
		t.Errorf("%s: refused %v", name, r)
	case code != "" && r == nil:
		t.Errorf("%s: accepted, want %s", name, code)
	case code != "" && (r.Code != code || !strings.Contains(r.Message, in)):
		t.Errorf("%s: %v, want %s containing %q", name, r, code, in)
	}
}
