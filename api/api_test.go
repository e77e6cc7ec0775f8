package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/store/storetest"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/api"
	"github.com/switchboard-hq/switchboard/cmd/switchboard/node"
)

func TestNewValidates(t *testing.T) {
	cfg, err := tenant.Load("testdata/tenants.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := tenant.NewDirectory(cfg)
	st := storetest.Open(t, store.Config{})
	for name, c := range map[string]api.Config{
		"no directory":              {Reader: node.APIReader(st)},
		"no reader":                 {Directory: dir},
		"producer without outcomes": {Directory: dir, Reader: node.APIReader(st), Producer: &recorder{}},
	} {
		if _, err := api.New(c); err == nil {
			t.Errorf("%s: New succeeded, want an error", name)
		}
	}
	if _, err := api.New(api.Config{Directory: dir, Reader: node.APIReader(st)}); err != nil {
		t.Errorf("read-only API: %v", err)
	}
}

// Every endpoint needs a known bearer token; without one it answers 401 in the error shape and does nothing.
func TestAuthentication(t *testing.T) {
	// Many unknown tokens from one address: the guessing limit (TestUnknownBearerTokensAreChargedToTheAddress) is
	// raised so that each is answered on its own.
	e := start(t, options{configure: func(c *api.Config) { c.SignInFailures = 1000 }})
	e.putConvs(t, conv("acme", "c0000000000000001", conversation.Unassigned, ""))
	endpoints := []struct{ method, path, body string }{
		{http.MethodGet, "/v1/conversations", ""},
		{http.MethodGet, "/v1/conversations/c0000000000000001", ""},
		{http.MethodGet, "/v1/conversations/c0000000000000001/messages", ""},
		{http.MethodPost, "/v1/conversations/c0000000000000001/take", ""},
		{http.MethodGet, "/v1/operators", ""},
		{http.MethodPut, "/v1/operators/me/availability", `{"availability":"online"}`},
		{http.MethodPatch, "/v1/operators/alice", `{"capacity":1}`},
		{http.MethodGet, "/v1/nothing-here", ""},
	}
	for _, ep := range endpoints {
		what := ep.method + " " + ep.path
		wantError(t, what+" without a token", e.do(t, ep.method, ep.path, "", ep.body), http.StatusUnauthorized, "unauthorized")
		wantError(t, what+" with an unknown token", e.do(t, ep.method, ep.path, "not-a-token-0123456789", ep.body), http.StatusUnauthorized, "unauthorized")
		for name, h := range map[string]string{
			"basic auth":        "Basic " + aliceToken,
			"empty bearer":      "Bearer ",
			"token only":        aliceToken,
			"token with suffix": "Bearer " + aliceToken + "x",
		} {
			req, err := http.NewRequest(ep.method, e.url+ep.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", h)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s with %s: %d, want 401", what, name, resp.StatusCode)
			}
		}
	}
	if n := len(e.prod.records()); n != 0 {
		t.Errorf("%d records produced by unauthenticated calls", n)
	}
	var list struct{ Conversations []conversation.Conversation }
	e.getJSON(t, "/v1/conversations", aliceToken, &list)
}

type listBody struct {
	Conversations []conversation.Conversation `json:"conversations"`
	NextCursor    string                      `json:"next_cursor"`
}

func ids(cs []conversation.Conversation) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

// seedList writes 12 acme conversations in mixed states and two of globex, one with an id acme also uses.
func seedList(t *testing.T, e *env) {
	t.Helper()
	var cs []conversation.Conversation
	for i := 1; i <= 12; i++ {
		id := fmt.Sprintf("c%016d", i) // conversation.ID's format, in id order
		switch i % 4 {
		case 0:
			cs = append(cs, conv("acme", id, conversation.Unassigned, ""))
		case 1:
			cs = append(cs, conv("acme", id, conversation.Assigned, "alice", "vip"))
		case 2:
			cs = append(cs, conv("acme", id, conversation.Assigned, "bob"))
		case 3:
			c := conv("acme", id, conversation.Closed, "")
			c.LastOperatorID, c.ClosedBy = "alice", "alice"
			cs = append(cs, c)
		}
	}
	cs = append(cs, conv("globex", "c0000000000000001", conversation.Assigned, "dave"), conv("globex", "c00000000000000g1", conversation.Unassigned, ""))
	e.putConvs(t, cs...)
}

// The conversation comes with the contract's fields and its most recent 50 messages, oldest first.
func TestGetConversation(t *testing.T) {
	e := start(t, options{})
	seedList(t, e)
	e.putMessages(t, "acme", "c0000000000000001", 60)
	e.putMessages(t, "acme", "c0000000000000002", 3)

	r := e.do(t, http.MethodGet, "/v1/conversations/c0000000000000001", aliceToken, "")
	if r.status != http.StatusOK {
		t.Fatalf("GET c0000000000000001 = %s", r)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &raw); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"id", "tenant_id", "channel_id", "contact", "status", "assignee_id", "labels",
		"window_expires_at", "created_at", "updated_at", "last_inbound_at", "messages"} {
		if _, ok := raw[f]; !ok {
			t.Errorf("GET c0000000000000001: no field %q in %s", f, r.body)
		}
	}
	var contact map[string]string
	if err := json.Unmarshal(raw["contact"], &contact); err != nil || contact["id"] != "kc0000000000000001" || contact["wa_id"] != "1555c0000000000000001" || contact["name"] != "Customer c0000000000000001" {
		t.Errorf("contact = %s (%v)", raw["contact"], err)
	}
	var got struct {
		conversation.Conversation
		Messages []conversation.Message `json:"messages"`
	}
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	want := conv("acme", "c0000000000000001", conversation.Assigned, "alice", "vip")
	if got.ID != want.ID || got.Status != want.Status || got.AssigneeID != want.AssigneeID ||
		!slices.Equal(got.Labels, want.Labels) || !got.CreatedAt.Equal(want.CreatedAt) || !got.WindowExpiresAt.Equal(want.WindowExpiresAt) {
		t.Errorf("GET c0000000000000001 = %+v, want %+v", got.Conversation, want)
	}
	if len(got.Messages) != 50 {
		t.Fatalf("GET c0000000000000001: %d messages, want the latest 50", len(got.Messages))
	}
	for i, m := range got.Messages {
		if m.Seq != uint64(11+i) || m.ConversationID != "c0000000000000001" {
			t.Fatalf("message %d is %s/%d, want c0000000000000001/%d (the latest 50, oldest first)", i, m.ConversationID, m.Seq, 11+i)
		}
	}

	// A conversation without labels or messages shows empty lists, not null.
	r = e.do(t, http.MethodGet, "/v1/conversations/c0000000000000004", aliceToken, "")
	if err := json.Unmarshal(r.body, &raw); err != nil {
		t.Fatal(err)
	}
	if string(raw["labels"]) != "[]" || string(raw["messages"]) != "[]" {
		t.Errorf("GET c0000000000000004: labels %s, messages %s; want [] and []", raw["labels"], raw["messages"])
	}

	wantError(t, "GET unknown", e.do(t, http.MethodGet, "/v1/conversations/nope", aliceToken, ""), http.StatusNotFound, "conversation_not_found")
	wantError(t, "GET another tenant's", e.do(t, http.MethodGet, "/v1/conversations/c00000000000000g1", aliceToken, ""), http.StatusNotFound, "conversation_not_found")
	// Same id in two tenants: each sees its own.
	var g struct{ conversation.Conversation }
	e.getJSON(t, "/v1/conversations/c0000000000000001", daveToken, &g)
	if g.TenantID != "globex" || g.AssigneeID != "dave" {
		t.Errorf("globex's c0000000000000001 = %+v", g.Conversation)
	}
}

func TestListMessages(t *testing.T) {
	e := start(t, options{})
	seedList(t, e)
	e.putMessages(t, "acme", "c0000000000000001", 60)
	e.putMessages(t, "acme", "c0000000000000001"+"0", 5) // an id that extends c0000000000000001 must not leak into its messages
	seqs := func(path string) []uint64 {
		t.Helper()
		var body struct {
			Messages []conversation.Message `json:"messages"`
		}
		e.getJSON(t, path, aliceToken, &body)
		if body.Messages == nil {
			t.Errorf("GET %s: messages is null", path)
		}
		out := []uint64{}
		for _, m := range body.Messages {
			if m.ConversationID != "c0000000000000001" {
				t.Errorf("GET %s: message of %s", path, m.ConversationID)
			}
			out = append(out, m.Seq)
		}
		return out
	}
	span := func(from, to uint64) []uint64 {
		out := []uint64{}
		for s := from; s <= to; s++ {
			out = append(out, s)
		}
		return out
	}
	for _, tc := range []struct {
		query string
		want  []uint64
	}{
		{"", span(11, 60)},
		{"?limit=10", span(51, 60)},
		{"?before=51&limit=10", span(41, 50)},
		{"?before=5", span(1, 4)},
		{"?before=1", span(1, 0)},
		{"?before=0&limit=3", span(58, 60)}, // 0 means from the newest
		{"?before=1000&limit=2", span(59, 60)},
		{"?limit=500", span(1, 60)},
	} {
		if got := seqs("/v1/conversations/c0000000000000001/messages" + tc.query); !slices.Equal(got, tc.want) {
			t.Errorf("messages%s = %v, want %v", tc.query, got, tc.want)
		}
	}
	for _, q := range []string{"before=x", "before=-1", "before=1.5"} {
		wantError(t, "messages?"+q, e.do(t, http.MethodGet, "/v1/conversations/c0000000000000001/messages?"+q, aliceToken, ""), http.StatusBadRequest, "invalid_before")
	}
	for _, q := range []string{"limit=0", "limit=501", "limit=x"} {
		wantError(t, "messages?"+q, e.do(t, http.MethodGet, "/v1/conversations/c0000000000000001/messages?"+q, aliceToken, ""), http.StatusBadRequest, "invalid_limit")
	}
	wantError(t, "messages of unknown", e.do(t, http.MethodGet, "/v1/conversations/nope/messages", aliceToken, ""), http.StatusNotFound, "conversation_not_found")
	wantError(t, "messages of another tenant's", e.do(t, http.MethodGet, "/v1/conversations/c00000000000000g1/messages", aliceToken, ""), http.StatusNotFound, "conversation_not_found")
}

func TestRouting404And405(t *testing.T) {
	e := start(t, options{})
	seedList(t, e)
	for _, tc := range []struct{ method, path string }{
		{http.MethodDelete, "/v1/conversations"},
		{http.MethodPut, "/v1/conversations/c0000000000000001"},
		{http.MethodDelete, "/v1/conversations/c0000000000000001"},
		{http.MethodPut, "/v1/conversations/c0000000000000001/messages"},
		{http.MethodGet, "/v1/conversations/c0000000000000001/take"},
		{http.MethodDelete, "/v1/operators"},
		{http.MethodGet, "/v1/operators/me/availability"},
		{http.MethodPost, "/v1/operators/me/availability"},
		{http.MethodPut, "/v1/operators/alice"},
		{http.MethodPut, "/v1/settings"},
		{http.MethodPut, "/v1/channels/acme-wa"},
	} {
		wantError(t, tc.method+" "+tc.path, e.do(t, tc.method, tc.path, aliceToken, ""), http.StatusMethodNotAllowed, "method_not_allowed")
	}
	for _, p := range []string{"/v1/", "/v1/nothing", "/v1/nothing/x"} {
		wantError(t, "GET "+p, e.do(t, http.MethodGet, p, aliceToken, ""), http.StatusNotFound, "not_found")
	}
	wantError(t, "unknown action", e.do(t, http.MethodPost, "/v1/conversations/c0000000000000001/explode", aliceToken, ""), http.StatusNotFound, "not_found")
	if n := len(e.prod.records()); n != 0 {
		t.Errorf("%d records produced", n)
	}
}

// GET /v1/operators shows the configured operators with what the store says changed at runtime and their load.
func TestListOperators(t *testing.T) {
	e := start(t, options{})
	e.putConvs(t,
		conv("acme", "a1", conversation.Assigned, "alice"),
		conv("acme", "a2", conversation.Assigned, "alice"),
		conv("acme", "a3", conversation.Assigned, "bob"),
		conv("acme", "a4", conversation.Closed, "bob"),                      // closed: holds nothing
		conv("acme", "a5", conversation.Unassigned, ""),                     // waiting: nobody's
		conv("globex", "c00000000000000g1", conversation.Assigned, "alice"), // another tenant's alice-named assignee
	)
	e.commit(t, func(b *store.Batch) error {
		if err := b.PutOperator("acme", &store.OperatorState{ID: "alice", Availability: "online", Capacity: 4,
			Role: "operator", Skills: []string{"es"}}); err != nil {
			return err
		}
		// State of an operator no longer in the config is not shown.
		return b.PutOperator("acme", &store.OperatorState{ID: "ghost", Availability: "online", Capacity: 9, Role: "admin"})
	})
	var body struct {
		Operators []api.OperatorView `json:"operators"`
	}
	e.getJSON(t, "/v1/operators", carolToken, &body)
	want := []api.OperatorView{
		// Alice's stored state says capacity 4 and skills es (written by an earlier version): only its availability
		// counts; capacity, role and skills are the configuration's (issue 13: the stored state shadowed them).
		{ID: "alice", Name: "Alice", Role: "operator", Availability: "online", Capacity: 2, Skills: []string{}, Load: new(2)},
		{ID: "bob", Name: "Bob", Role: "admin", Availability: "offline", Capacity: 3, Skills: []string{"billing"}, Load: new(1)},
		{ID: "carol", Name: "Carol", Role: "builder", Availability: "offline", Capacity: tenant.DefaultCapacity, Skills: []string{}, Load: new(0)},
	}
	if len(body.Operators) != len(want) {
		t.Fatalf("operators = %+v, want %+v", body.Operators, want)
	}
	for i := range want {
		g, w := body.Operators[i], want[i]
		if g.ID != w.ID || g.Name != w.Name || g.Role != w.Role || g.Availability != w.Availability ||
			g.Capacity != w.Capacity || !slices.Equal(g.Skills, w.Skills) || g.Load == nil || *g.Load != *w.Load {
			t.Errorf("operator %d = %+v, want %+v", i, g, w)
		}
	}
	r := e.do(t, http.MethodGet, "/v1/operators", carolToken, "")
	var raw struct {
		Operators []map[string]json.RawMessage `json:"operators"`
	}
	if err := json.Unmarshal(r.body, &raw); err != nil {
		t.Fatal(err)
	}
	if s := string(raw.Operators[2]["skills"]); s != "[]" {
		t.Errorf("carol's skills = %s, want []", s)
	}

	var g struct {
		Operators []api.OperatorView `json:"operators"`
	}
	e.getJSON(t, "/v1/operators", daveToken, &g)
	if len(g.Operators) != 1 || g.Operators[0].ID != "dave" || g.Operators[0].Load == nil || *g.Operators[0].Load != 0 {
		t.Errorf("globex operators = %+v", g.Operators)
	}
}

// A snoozed conversation that keeps its operator counts against that operator's capacity in the router
// (routing.Holds), so the load the API shows must count it too, or an operator the router sees as
// full looks free.
func TestListOperatorsLoadCountsHeldSnoozed(t *testing.T) {
	e := start(t, options{})
	e.putConvs(t,
		conv("acme", "a1", conversation.Assigned, "alice"),
		conv("acme", "a2", conversation.Snoozed, "alice"),
		conv("acme", "a3", conversation.Snoozed, ""), // snoozed from the queue: nobody's
	)
	var body struct {
		Operators []api.OperatorView `json:"operators"`
	}
	e.getJSON(t, "/v1/operators", aliceToken, &body)
	if body.Operators[0].ID != "alice" || body.Operators[0].Load == nil || *body.Operators[0].Load != 2 {
		t.Errorf("alice = %+v, want load 2 (one assigned, one snoozed she holds)", body.Operators[0])
	}
}
