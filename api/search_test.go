package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/store"
)

type searchBody struct {
	Results []struct {
		conversation.Conversation
		Match struct {
			Field   string `json:"field"`
			Snippet string `json:"snippet"`
			Seq     uint64 `json:"seq"`
		} `json:"match"`
	} `json:"results"`
	NextCursor string `json:"next_cursor"`
}

func (b searchBody) ids() []string {
	var out []string
	for _, r := range b.Results {
		out = append(out, r.ID)
	}
	return out
}

// putText writes one message of a conversation.
func (e *env) putText(t *testing.T, tn, convID string, seq uint64, text string) {
	t.Helper()
	e.commit(t, func(b *store.Batch) error {
		m := conversation.Message{ConversationID: convID, Seq: seq, ID: fmt.Sprintf("wamid.%s.%d", convID, seq),
			Direction: conversation.DirIn, Type: "text", Text: text, Status: conversation.Received,
			SentAt: at, CreatedAt: at.Add(time.Duration(seq) * time.Second)}
		return b.PutMessage(tn, &m)
	})
}

func named(c conversation.Conversation, name, phone string) conversation.Conversation {
	c.Contact.Name, c.Contact.WaID = name, phone
	return c
}

func seedSearch(t *testing.T, e *env) {
	e.putConvs(t,
		named(conv("acme", "c0000000000000001", conversation.Assigned, "alice"), "Ana Lima", "5511987650001"),
		named(conv("acme", "c0000000000000002", conversation.Unassigned, ""), "Bruno <b>Costa</b>", "5511987650002"),
		named(conv("acme", "c0000000000000003", conversation.Closed, ""), "Carla Dias", "351912340003"),
		named(conv("globex", "c0000000000000004", conversation.Assigned, "dave"), "Ana Secret", "5511987650004"),
	)
	e.putText(t, "acme", "c0000000000000001", 1, "My parcel never arrived")
	e.putText(t, "acme", "c0000000000000002", 1, "<script>alert('parcel')</script> refund please")
	e.putText(t, "acme", "c0000000000000003", 1, "Thanks, the parcel came")
	e.putText(t, "globex", "c0000000000000004", 1, "parcel of globex: secret")
}

func TestSearch(t *testing.T) {
	e := start(t, options{})
	seedSearch(t, e)
	for _, tc := range []struct {
		q, token string
		want     []string // "<id> <field> <seq> <snippet>"
	}{
		{"ana", aliceToken, []string{"c0000000000000001 contact_name 0 Ana Lima"}},
		{"+55 11 98765", aliceToken, []string{"c0000000000000001 phone 0 5511987650001", "c0000000000000002 phone 0 5511987650002"}},
		{"0003", aliceToken, []string{"c0000000000000003 phone 0 351912340003"}},
		{"parcel", aliceToken, []string{
			"c0000000000000001 message 1 My parcel never arrived",
			"c0000000000000002 message 1 <script>alert('parcel')</script> refund please",
			"c0000000000000003 message 1 Thanks, the parcel came"}},
		{"parcel arr", aliceToken, []string{"c0000000000000001 message 1 My parcel never arrived"}},
		{"costa", aliceToken, []string{"c0000000000000002 contact_name 0 Bruno <b>Costa</b>"}},
		{"<script>", aliceToken, []string{"c0000000000000002 message 1 <script>alert('parcel')</script> refund please"}},
		{"secret", aliceToken, nil},        // globex's words
		{"5511987650004", aliceToken, nil}, // globex's phone
		{"ana", daveToken, []string{"c0000000000000004 contact_name 0 Ana Secret"}},
		{"parcel", daveToken, []string{"c0000000000000004 message 1 parcel of globex: secret"}},
		{"x", aliceToken, nil}, // no term
	} {
		r := e.do(t, http.MethodGet, "/v1/search?q="+url.QueryEscape(tc.q), tc.token, "")
		if r.status != http.StatusOK {
			t.Errorf("search %q = %s", tc.q, r)
			continue
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(r.body, &raw); err != nil {
			t.Fatal(err)
		}
		if string(raw["results"]) == "null" {
			t.Errorf("search %q: results is null, want a list", tc.q)
		}
		var body searchBody
		if err := json.Unmarshal(r.body, &body); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, res := range body.Results {
			got = append(got, fmt.Sprintf("%s %s %d %s", res.ID, res.Match.Field, res.Match.Seq, res.Match.Snippet))
			want := "acme"
			if tc.token == daveToken {
				want = "globex"
			}
			if res.TenantID != want {
				t.Errorf("search %q as %s found %s of tenant %s", tc.q, tc.token[:4], res.ID, res.TenantID)
			}
			if res.Labels == nil || res.Status == "" || res.Contact.Name == "" {
				t.Errorf("search %q: result %s is not the whole conversation: %+v", tc.q, res.ID, res.Conversation)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("search %q as %s = %q, want %q", tc.q, tc.token[:4], got, tc.want)
		}
		// HTML in a query or a result is data: JSON escapes it and it never becomes markup of the answer.
		if strings.Contains(string(r.body), "<script>") || strings.Contains(string(r.body), "<b>") {
			t.Errorf("search %q: the body has raw HTML: %s", tc.q, r.body)
		}
	}
}

// Pages of limit follow the cursor to the end: every match once, in id order, none of another tenant.
func TestSearchPagination(t *testing.T) {
	e := start(t, options{})
	var want []string
	var cs []conversation.Conversation
	for i := 1; i <= 23; i++ {
		id := fmt.Sprintf("c%016d", i)
		cs = append(cs, named(conv("acme", id, conversation.Unassigned, ""), fmt.Sprintf("Maria %d", i), ""))
		want = append(want, id)
	}
	cs = append(cs, named(conv("globex", "c0000000000000099", conversation.Unassigned, ""), "Maria Globex", ""))
	e.putConvs(t, cs...)
	for _, limit := range []int{1, 5, 23, 100} {
		var all []string
		cursor := ""
		for page := 0; ; page++ {
			if page > 30 {
				t.Fatalf("limit %d: the cursor does not end", limit)
			}
			path := fmt.Sprintf("/v1/search?q=mar&limit=%d&cursor=%s", limit, url.QueryEscape(cursor))
			var body searchBody
			e.getJSON(t, path, aliceToken, &body)
			if len(body.Results) > limit {
				t.Fatalf("%s: %d results", path, len(body.Results))
			}
			all = append(all, body.ids()...)
			if body.NextCursor == "" {
				break
			}
			cursor = body.NextCursor
		}
		if !slices.Equal(all, want) {
			t.Errorf("limit %d: pages gave %v, want %v", limit, all, want)
		}
	}
	var body searchBody
	e.getJSON(t, "/v1/search?q=maria", aliceToken, &body)
	if len(body.Results) != 20 || body.NextCursor == "" {
		t.Errorf("default limit: %d results, cursor %q; want 20 and a cursor", len(body.Results), body.NextCursor)
	}
}

func TestSearchValidation(t *testing.T) {
	e := start(t, options{})
	seedSearch(t, e)
	for _, q := range []string{"", "q=", "q=" + strings.Repeat("a", 201), "q=" + strings.Repeat("é", 201), "q=%ff%fe", "limit=5"} {
		wantError(t, "GET /v1/search?"+q, e.do(t, http.MethodGet, "/v1/search?"+q, aliceToken, ""), http.StatusBadRequest, "invalid_query")
	}
	for _, q := range []string{"limit=0", "limit=101", "limit=-1", "limit=ten"} {
		wantError(t, "GET ?"+q, e.do(t, http.MethodGet, "/v1/search?q=ana&"+q, aliceToken, ""), http.StatusBadRequest, "invalid_limit")
	}
	var body searchBody
	e.getJSON(t, "/v1/search?q="+strings.Repeat("é", 200), aliceToken, &body) // 200 characters, 400 bytes: accepted
	wantError(t, "no token", e.do(t, http.MethodGet, "/v1/search?q=ana", "", ""), http.StatusUnauthorized, "unauthorized")
	wantError(t, "POST", e.do(t, http.MethodPost, "/v1/search?q=ana", aliceToken, ""), http.StatusMethodNotAllowed, "method_not_allowed")
	// A cursor is opaque but cannot reach another tenant: globex's match sorts after it, and stays unseen.
	e.getJSON(t, "/v1/search?q=ana&cursor="+url.QueryEscape("c0000000000000003/../../globex"), aliceToken, &body)
	if len(body.Results) != 0 {
		t.Errorf("a crafted cursor found %v", body.ids())
	}
}

// Each search result is the conversation as GET /v1/conversations lists it for the caller (the same item: last
// message, the caller's unread count and mention, waiting and window times, closed_by; no operator's read marks or
// mentions but the caller's own) plus "match".
func TestSearchResultsAreListItems(t *testing.T) {
	e := start(t, options{})
	c := lived(t, e, "15550077")
	// Bob reads it all: his read mark is his, not alice's (her unread count stays 2).
	next, _, err := conversation.ApplyCommand(c, conversation.Command{Type: conversation.CmdRead, OperatorID: "bob", Role: "admin"},
		conversation.Policy{}, at.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	e.commit(t, func(b *store.Batch) error { return b.PutConversation(&c, &next) })
	if len(next.ReadBy) == 0 || len(next.MentionMarks) == 0 {
		t.Fatalf("the conversation has no read marks or mentions to hide: %+v", next)
	}

	for _, token := range []string{aliceToken, bobToken} {
		var list struct {
			Conversations []map[string]json.RawMessage `json:"conversations"`
		}
		e.getJSON(t, "/v1/conversations?status=closed", token, &list)
		var search struct {
			Results []map[string]json.RawMessage `json:"results"`
		}
		e.getJSON(t, "/v1/search?q=15550077", token, &search)
		if len(list.Conversations) != 1 || len(search.Results) != 1 {
			t.Fatalf("%s: %d listed, %d found; want the one conversation each", token[:4], len(list.Conversations), len(search.Results))
		}
		item, res := list.Conversations[0], search.Results[0]
		var m struct {
			Field string `json:"field"`
			Seq   uint64 `json:"seq"`
		}
		if err := json.Unmarshal(res["match"], &m); err != nil || m.Field != "phone" {
			t.Errorf("%s: match = %s, want the phone", token[:4], res["match"])
		}
		delete(res, "match")
		if len(res) != len(item) {
			t.Errorf("%s: result has %d fields, the list item %d:\n%v\n%v", token[:4], len(res), len(item), keys(res), keys(item))
		}
		for k, v := range item {
			if string(res[k]) != string(v) {
				t.Errorf("%s: result's %q = %s, the list item's %s", token[:4], k, res[k], v)
			}
		}
		for _, k := range []string{"last_message", "unread", "waiting_since", "window_expires_at", "last_activity_at", "closed_by"} {
			if _, ok := res[k]; !ok {
				t.Errorf("%s: result lacks %q", token[:4], k)
			}
		}
		for _, k := range []string{"read_by", "mention_marks"} {
			if _, ok := res[k]; ok {
				t.Errorf("%s: result shows %q, which is every operator's: %s", token[:4], k, res[k])
			}
		}
		// The caller's own view: alice has 2 unread and bob's unread mention of her; bob read everything and is
		// mentioned nowhere.
		want := map[string][2]string{aliceToken: {"2", `{"seq":3,"at":`}, bobToken: {"0", ""}}[token]
		if string(res["unread"]) != want[0] {
			t.Errorf("%s: unread = %s, want %s", token[:4], res["unread"], want[0])
		}
		if got, ok := res["mention"]; want[1] == "" && ok || want[1] != "" && !strings.HasPrefix(string(got), want[1]) {
			t.Errorf("%s: mention = %s, want %q…", token[:4], got, want[1])
		}
	}
}

func keys(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
