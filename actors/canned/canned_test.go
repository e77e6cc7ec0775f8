package canned

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/refusal"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

const id1 = "d0123456789abcdef0123456789abcdef"

var t0 = time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)

func in(title, category, text string) inbox.CannedInput {
	return inbox.CannedInput{ID: id1, Title: title, Category: category, Text: text}
}

func code(err error) string {
	var r *refusal.Refusal
	if errors.As(err, &r) {
		return r.Code
	}
	if err != nil {
		return "error: " + err.Error()
	}
	return ""
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   inbox.CannedInput
		ok   bool
	}{
		{"plain", in("Greeting", "", "Hello!"), true},
		{"variables", in("Greeting", "Sales", "Hi {{contact.name}}, {{ operator.name }} here; your city {{contact.fields.city}}, number {{contact.phone}}"), true},
		{"100 character title", in(strings.Repeat("é", 100), "", "x"), true},
		{"4096 character text", in("t", "", strings.Repeat("é", 4096)), true},
		{"blank title", in("  ", "", "x"), false},
		{"101 character title", in(strings.Repeat("é", 101), "", "x"), false},
		{"empty text", in("t", "", ""), false},
		{"blank text", in("t", "", " \n "), false},
		{"4097 character text", in("t", "", strings.Repeat("a", 4097)), false},
		{"51 character category", in("t", strings.Repeat("c", 51), "x"), false},
		{"unknown variable", in("t", "", "Hi {{customer.name}}"), false},
		{"bad field key", in("t", "", "Hi {{contact.fields.City}}"), false},
		{"empty variable", in("t", "", "Hi {{}}"), false},
		{"invalid UTF-8", in("t", "", "Hi \xff"), false},
		{"unclosed braces are text", in("t", "", "Hi {{contact.name"), true},
	} {
		r := Validate(tc.in)
		if (r == nil) != tc.ok {
			t.Errorf("%s: Validate = %v, want ok %v", tc.name, r, tc.ok)
		}
		if r != nil && r.Code != CodeInvalid {
			t.Errorf("%s: code %s", tc.name, r.Code)
		}
	}
	for media, ok := range map[string]bool{
		`{"type":"image","id":"m1"}`:          true,
		`{"type":"document","id":"m1"}`:       true,
		`{"type":"sticker","id":"m1"}`:        false,
		`{"type":"image"}`:                    false,
		`{"type":"image","link":"http://x"}`:  false,
		`{"type":"image","id":"m1","x":true}`: false,
		`"m1"`:                                false,
	} {
		c := in("t", "", "x")
		c.Media = json.RawMessage(media)
		if r := Validate(c); (r == nil) != ok {
			t.Errorf("media %s: Validate = %v, want ok %v", media, r, ok)
		}
	}
}

// The lifecycle: create, a replayed create, update, a replayed update, delete; each change one event whose id is
// the same on every replay.
func TestApply(t *testing.T) {
	n := 0
	admin := func(typ string, i inbox.CannedInput, at time.Time) Command {
		n++
		return Command{Type: typ, OperatorID: "root", Role: "admin", Input: i, At: at, Pos: conversation.Position{Offset: int64(n)}}
	}
	create := admin(Create, in(" Greeting ", "Sales", "Hi {{contact.name}}"), t0)
	r, ev, err := Apply(nil, 0, "acme", create)
	if err != nil {
		t.Fatal(err)
	}
	want := &Response{ID: id1, Title: "Greeting", Category: "Sales", Text: "Hi {{contact.name}}", CreatedAt: t0,
		UpdatedAt: t0, UpdatedBy: "root", Version: 1, Applied: create.Pos}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("created %+v, want %+v", r, want)
	}
	wantEv := &Event{ID: id1 + "-1", Type: EventChanged, TenantID: "acme", At: t0, CannedID: id1, Action: "created", ActorID: "root"}
	if !reflect.DeepEqual(ev, wantEv) {
		t.Errorf("event %+v, want %+v", ev, wantEv)
	}
	// A replay of the create finds it applied and changes nothing; a create of the same response too.
	if again, ev, err := Apply(r, 1, "acme", create); err != nil || again != r || ev != nil {
		t.Errorf("replayed create = %+v, %+v, %v", again, ev, err)
	}
	if again, ev, err := Apply(r, 1, "acme", admin(Create, in("Greeting", "Sales", "Hi {{contact.name}}"), t0)); err != nil || again != r || ev != nil {
		t.Errorf("repeated create = %+v, %+v, %v", again, ev, err)
	}
	if _, _, err := Apply(r, 1, "acme", admin(Create, in("Other", "", "x"), t0)); code(err) != CodeExists {
		t.Errorf("create over another = %v, want %s", err, CodeExists)
	}
	n++
	update := Command{Type: Update, OperatorID: "carol", Role: "builder", Input: in("Greeting", "", "Hello {{contact.name}}"),
		At: t0.Add(time.Hour), Pos: conversation.Position{Offset: int64(n)}}
	u, ev, err := Apply(r, 1, "acme", update)
	if err != nil {
		t.Fatal(err)
	}
	if u.Version != 2 || u.Category != "" || u.Text != "Hello {{contact.name}}" || !u.CreatedAt.Equal(t0) ||
		!u.UpdatedAt.Equal(t0.Add(time.Hour)) || u.UpdatedBy != "carol" || u.Applied != update.Pos {
		t.Errorf("updated %+v", u)
	}
	if ev == nil || ev.ID != id1+"-2" || ev.Action != "updated" {
		t.Errorf("update event %+v", ev)
	}
	if same, ev, err := Apply(u, 1, "acme", admin(Update, in("Greeting", "", "Hello {{contact.name}}"), t0.Add(2*time.Hour))); err != nil || same != u || ev != nil {
		t.Errorf("update to the same = %+v, %+v, %v", same, ev, err)
	}
	gone, ev, err := Apply(u, 1, "acme", admin(Delete, inbox.CannedInput{ID: id1}, t0.Add(3*time.Hour)))
	if err != nil || gone == nil || !gone.Deleted || gone.Text != "" || gone.Version != 3 || ev == nil || ev.ID != id1+"-3" || ev.Action != "deleted" {
		t.Errorf("delete = %+v, %+v, %v", gone, ev, err)
	}
	// Replayed after the delete, the create and the update change nothing: the tombstone is ahead of them.
	for _, cmd := range []Command{create, update} {
		if again, ev, err := Apply(gone, 0, "acme", cmd); err != nil || again != gone || ev != nil {
			t.Errorf("%s replayed after the delete = %+v, %+v, %v", cmd.Type, again, ev, err)
		}
	}
	// New commands see the tombstone as nothing, and its id as taken.
	if _, _, err := Apply(gone, 0, "acme", admin(Update, in("t", "", "x"), t0)); code(err) != CodeNotFound {
		t.Errorf("update of a deleted response = %v", err)
	}
	if _, _, err := Apply(gone, 0, "acme", admin(Delete, inbox.CannedInput{ID: id1}, t0)); code(err) != CodeNotFound {
		t.Errorf("delete of a deleted response = %v", err)
	}
	if _, _, err := Apply(gone, 0, "acme", admin(Create, in("Greeting", "", "Hello {{contact.name}}"), t0)); code(err) != CodeExists {
		t.Errorf("create over a tombstone = %v", err)
	}
}

func TestApplyRefusals(t *testing.T) {
	stored := &Response{ID: id1, Title: "t", Text: "x", Version: 1}
	ok := in("t", "", "y")
	for _, tc := range []struct {
		name  string
		prev  *Response
		count int
		cmd   Command
		code  string
	}{
		{"operator", nil, 0, Command{Type: Create, Role: "operator", Input: ok}, CodeForbidden},
		{"no role", nil, 0, Command{Type: Create, Input: ok}, CodeForbidden},
		{"bad id", nil, 0, Command{Type: Create, Role: "admin", Input: inbox.CannedInput{ID: "x", Title: "t", Text: "y"}}, CodeNotFound},
		{"bad input", nil, 0, Command{Type: Create, Role: "admin", Input: in("", "", "y")}, CodeInvalid},
		{"too many", nil, MaxPerTenant, Command{Type: Create, Role: "admin", Input: ok}, CodeTooMany},
		{"update missing", nil, 0, Command{Type: Update, Role: "admin", Input: ok}, CodeNotFound},
		{"delete missing", nil, 0, Command{Type: Delete, Role: "admin", Input: inbox.CannedInput{ID: id1}}, CodeNotFound},
		{"bad update", stored, 1, Command{Type: Update, Role: "admin", Input: in("t", "", "{{nope}}")}, CodeInvalid},
		{"unknown type", stored, 1, Command{Type: "canned_rename", Role: "admin", Input: ok}, CodeInvalid},
	} {
		if _, _, err := Apply(tc.prev, tc.count, "acme", tc.cmd); code(err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
}

func TestRender(t *testing.T) {
	v := Vars{ContactName: "Ann", ContactPhone: "+15551234567", Fields: map[string]string{"city": "Lyon", "plan": ""},
		OperatorName: "Alice"}
	for _, tc := range []struct {
		text, want string
		missing    []string
	}{
		{"Hello", "Hello", nil},
		{"Hi {{contact.name}}, {{ operator.name }} here.", "Hi Ann, Alice here.", nil},
		{"{{contact.phone}} in {{contact.fields.city}}", "+15551234567 in Lyon", nil},
		{"Plan {{contact.fields.plan}}, birthday {{contact.fields.birthday}}, again {{contact.fields.plan}}",
			"Plan {{contact.fields.plan}}, birthday {{contact.fields.birthday}}, again {{contact.fields.plan}}",
			[]string{"contact.fields.plan", "contact.fields.birthday"}},
		{"{{weird}} and {{contact.name", "{{weird}} and {{contact.name", []string{"weird"}},
		// A value is inserted as it is, never expanded again.
		{"{{contact.name}}", "{{operator.name}}", nil},
	} {
		vv := v
		if tc.want == "{{operator.name}}" {
			vv.ContactName = "{{operator.name}}"
		}
		got, missing := Render(tc.text, vv)
		if got != tc.want || !reflect.DeepEqual(missing, tc.missing) {
			t.Errorf("Render(%q) = %q, %q; want %q, %q", tc.text, got, missing, tc.want, tc.missing)
		}
	}
	if got := Variables("a {{ x }} b {{y}} {{x}} {{z"); !reflect.DeepEqual(got, []string{"x", "y", "x"}) {
		t.Errorf("Variables = %q", got)
	}
}

// With no values, rendering changes nothing and lists every variable once; with a value for every known variable
// (a text holding braces itself), only unknown ones are left.
func FuzzRender(f *testing.F) {
	for _, s := range []string{"", "Hi {{contact.name}}", "{{a}}{{ a }}{{b", "}}{{", "{{{{x}}}}", "é {{contact.fields.city}} ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		out, missing := Render(text, Vars{})
		if out != text {
			t.Fatalf("Render(%q) without values = %q", text, out)
		}
		var want []string
		for _, v := range Variables(text) {
			if v != "" && !slices.Contains(want, v) {
				want = append(want, v)
			}
		}
		var got []string
		for _, v := range missing {
			if v != "" {
				got = append(got, v)
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Render(%q) missing %q, want %q", text, missing, want)
		}
		all := Vars{ContactName: "{{x}}", ContactPhone: "{{x}}", OperatorName: "{{x}}", Fields: map[string]string{}}
		for _, v := range Variables(text) {
			if k, ok := strings.CutPrefix(v, "contact.fields."); ok {
				all.Fields[k] = "{{x}}"
			}
		}
		_, missing = Render(text, all)
		for _, v := range missing {
			if knownVariable(v) {
				t.Fatalf("Render(%q) left %q with a value for it", text, v)
			}
		}
	})
}
