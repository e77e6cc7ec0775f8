package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// item is a list item as a client decodes it.
type item struct {
	conversation.Conversation
	LastMessage *conversation.LastMessage `json:"last_message"`
	Unread      int                       `json:"unread"`
	ClosedBy    string                    `json:"closed_by"`
}

type itemsBody struct {
	Conversations []item `json:"conversations"`
	NextCursor    string `json:"next_cursor"`
}

func itemIDs(cs []item) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

// listPages follows next_cursor from the first page to the last with the given limit and returns every id listed.
func (e *env) listPages(t *testing.T, query, token string, limit int) []string {
	t.Helper()
	var all []string
	cursor := ""
	for page := 0; ; page++ {
		if page > 100 {
			t.Fatalf("%s: cursor does not end", query)
		}
		path := fmt.Sprintf("/v1/conversations?%s&limit=%d", query, limit)
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		var body itemsBody
		e.getJSON(t, path, token, &body)
		if len(body.Conversations) > limit {
			t.Fatalf("%s: %d conversations on a page of %d", path, len(body.Conversations), limit)
		}
		all = append(all, itemIDs(body.Conversations)...)
		if body.NextCursor == "" {
			return all
		}
		cursor = body.NextCursor
	}
}

func TestListConversationsFilters(t *testing.T) {
	e := start(t, options{})
	seedList(t, e)
	id := func(ns ...int) []string {
		out := []string{}
		for _, n := range ns {
			out = append(out, fmt.Sprintf("c%016d", n))
		}
		return out
	}
	for _, tc := range []struct {
		query, token string
		want         []string
	}{
		{"", aliceToken, id(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)},
		{"status=assigned", aliceToken, id(1, 2, 5, 6, 9, 10)},
		{"status=unassigned", aliceToken, id(4, 8, 12)},
		{"status=closed", aliceToken, id(3, 7, 11)},
		{"status=snoozed", aliceToken, id()},
		{"assignee=me", aliceToken, id(1, 3, 5, 7, 9, 11)},
		{"assignee=me", bobToken, id(2, 6, 10)},
		{"assignee=bob", aliceToken, id(2, 6, 10)},
		{"assignee=none", aliceToken, id(4, 8, 12)},
		{"assignee=me&status=assigned", aliceToken, id(1, 5, 9)},
		// Closing clears the assignee; for a closed conversation assignee means who held it last.
		{"status=closed&assignee=me", aliceToken, id(3, 7, 11)},
		{"status=closed&assignee=me", bobToken, id()},
		{"closed_by=me", aliceToken, id(3, 7, 11)},
		{"closed_by=alice", bobToken, id(3, 7, 11)},
		{"closed_by=me", bobToken, id()},
		{"label=vip", aliceToken, id(1, 5, 9)},
		{"label=vip&status=closed", aliceToken, id()},
		{"channel=acme-wa", aliceToken, id(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)},
		{"unread=true", aliceToken, id()},
		{"unread=false", aliceToken, id(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)},
		{"mentions=me", aliceToken, id()},
		// The other tenant sees only its own, even for an id acme also uses.
		{"", daveToken, []string{"c0000000000000001", "c00000000000000g1"}},
		{"assignee=me", daveToken, id(1)},
		{"label=vip", daveToken, id()},
	} {
		q := tc.query + "&sort=created&order=asc"
		var body itemsBody
		e.getJSON(t, "/v1/conversations?"+q, tc.token, &body)
		if got := itemIDs(body.Conversations); !slices.Equal(got, tc.want) {
			t.Errorf("GET ?%s as %s = %v, want %v", q, tc.token[:5], got, tc.want)
		}
		for _, c := range body.Conversations {
			if (c.TenantID == "globex") != (tc.token == daveToken) {
				t.Errorf("GET ?%s as %s listed %s of tenant %s", q, tc.token[:5], c.ID, c.TenantID)
			}
		}
	}
}

// Every sort in both directions lists in the order of its time, and every page size visits each conversation
// exactly once, in that order.
func TestListConversationsSortsAndPages(t *testing.T) {
	e := start(t, options{})
	var cs []conversation.Conversation
	for i := 1; i <= 11; i++ {
		c := conv("acme", fmt.Sprintf("c%016d", i), conversation.Unassigned, "")
		// Three different orders: created ascending with i, activity descending with i, waiting by i mod 4.
		c.CreatedAt = at.Add(time.Duration(i) * time.Minute)
		c.LastActivityAt = at.Add(time.Duration(100-i) * time.Minute)
		c.WaitingSince = at.Add(time.Duration(i%4)*time.Hour + time.Duration(i)*time.Second)
		cs = append(cs, c)
	}
	e.putConvs(t, cs...)
	order := func(key func(c conversation.Conversation) time.Time, desc bool) []string {
		s := slices.Clone(cs)
		slices.SortFunc(s, func(a, b conversation.Conversation) int { return key(a).Compare(key(b)) })
		var ids []string
		for _, c := range s {
			ids = append(ids, c.ID)
		}
		if desc {
			slices.Reverse(ids)
		}
		return ids
	}
	created := func(c conversation.Conversation) time.Time { return c.CreatedAt }
	activity := func(c conversation.Conversation) time.Time { return c.LastActivityAt }
	waiting := func(c conversation.Conversation) time.Time { return c.WaitingSince }
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", order(activity, true)}, // the default: last activity, newest first
		{"sort=last_activity&order=asc", order(activity, false)},
		{"sort=created", order(created, true)},
		{"sort=created&order=asc", order(created, false)},
		{"sort=waiting", order(waiting, false)}, // waiting defaults to the longest waiting first
		{"sort=waiting&order=desc", order(waiting, true)},
		{"status=unassigned&sort=waiting", order(waiting, false)},
	} {
		for _, limit := range []int{1, 2, 3, 5, 11, 500} {
			if got := e.listPages(t, tc.query, aliceToken, limit); !slices.Equal(got, tc.want) {
				t.Errorf("?%s limit %d = %v, want %v", tc.query, limit, got, tc.want)
			}
		}
	}
}

func TestListConversationsValidation(t *testing.T) {
	e := start(t, options{})
	seedList(t, e)
	for _, tc := range []struct{ query, code string }{
		{"status=open", "invalid_status"}, {"status=ASSIGNED", "invalid_status"}, {"status=closed,assigned", "invalid_status"},
		{"limit=0", "invalid_limit"}, {"limit=-1", "invalid_limit"}, {"limit=501", "invalid_limit"}, {"limit=ten", "invalid_limit"},
		{"sort=name", "invalid_sort"}, {"sort=waiting_since", "invalid_sort"},
		{"order=up", "invalid_order"}, {"order=DESC", "invalid_order"},
		{"assignee=nobody", "invalid_filter"}, {"assignee=dave", "invalid_filter"}, // dave is globex's
		{"closed_by=dave", "invalid_filter"}, {"closed_by=none", "invalid_filter"},
		{"label=VIP", "invalid_filter"}, {"label=a%20b", "invalid_filter"},
		{"channel=globex-wa", "invalid_filter"}, {"channel=nope", "invalid_filter"},
		{"unread=yes", "invalid_filter"}, {"mentions=bob", "invalid_filter"},
		{"cursor=c0000000000000005", "invalid_cursor"}, {"cursor=%%%", "invalid_cursor"},
	} {
		wantError(t, "GET ?"+tc.query, e.do(t, http.MethodGet, "/v1/conversations?"+tc.query, aliceToken, ""), http.StatusBadRequest, tc.code)
	}
}

// lived builds a conversation with the real rules: a customer writes twice (an image, then text), alice takes it,
// bob writes a note mentioning alice, and alice answers and closes it. Each step is stored as the router would.
func lived(t *testing.T, e *env, customer string) conversation.Conversation {
	t.Helper()
	p := conversation.Policy{}
	var c conversation.Conversation
	put := func(next conversation.Conversation) {
		prev := c
		e.commit(t, func(b *store.Batch) error { return b.PutConversation(&prev, &next) })
		c = next
	}
	step := at
	for i, m := range []inbox.Message{
		{ID: "wamid." + customer + ".1", From: customer, Type: "image", Timestamp: at.Unix(), Content: json.RawMessage(`{"id":"m1"}`)},
		{ID: "wamid." + customer + ".2", From: customer, Type: "text", Timestamp: at.Unix() + 1, Text: "where is my <b>order</b>?"},
	} {
		next, _, _ := conversation.Receive(c, conversation.Inbound{TenantID: "acme", ChannelID: "acme-wa", Message: &m,
			At: step.Add(time.Duration(i) * time.Second)}, p)
		put(next)
	}
	for i, cmd := range []conversation.Command{
		{Type: conversation.CmdTake, OperatorID: "alice", Role: "operator"},
		{Type: conversation.CmdNote, OperatorID: "bob", Role: "admin", Note: "@alice see the photo", MessageID: "n1"},
		{Type: conversation.CmdClose, OperatorID: "alice", Role: "operator"},
	} {
		next, _, err := conversation.ApplyCommand(c, cmd, p, step.Add(time.Duration(i+1)*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		put(next)
	}
	return c
}

// What a list item carries, for a conversation that went through the rules: after alice closes it, it is hers in
// Closed (closed_by me, assignee me), with its last message, her unread count and bob's mention of her.
func TestListItemFields(t *testing.T) {
	e := start(t, options{})
	c := lived(t, e, "15550009")
	r := e.do(t, http.MethodGet, "/v1/conversations?status=closed&assignee=me", aliceToken, "")
	var raw struct {
		Conversations []map[string]json.RawMessage `json:"conversations"`
	}
	if err := json.Unmarshal(r.body, &raw); err != nil || len(raw.Conversations) != 1 {
		t.Fatalf("GET ?status=closed&assignee=me = %s, want alice's closed conversation", r)
	}
	it := raw.Conversations[0]
	for _, k := range []string{"id", "status", "last_message", "unread", "waiting_since", "window_expires_at", "last_activity_at", "closed_by", "labels"} {
		if _, ok := it[k]; !ok {
			t.Errorf("item lacks %q: %s", k, r.body)
		}
	}
	for _, k := range []string{"read_by", "mention_marks"} {
		if _, ok := it[k]; ok {
			t.Errorf("item shows %q, which is every operator's: %s", k, r.body)
		}
	}
	var body itemsBody
	e.getJSON(t, "/v1/conversations?closed_by=me", aliceToken, &body)
	if len(body.Conversations) != 1 {
		t.Fatalf("closed_by=me listed %v", itemIDs(body.Conversations))
	}
	got := body.Conversations[0]
	if got.ID != c.ID || got.ClosedBy != "alice" || got.Unread != 2 || got.LastMessage == nil ||
		got.LastMessage.Seq != 3 || got.LastMessage.Type != "note" || got.LastMessage.Preview != "@alice see the photo" {
		t.Errorf("item = %+v last %+v", got, got.LastMessage)
	}
	var mentioned struct {
		Conversations []struct {
			ID      string `json:"id"`
			Mention *struct {
				Seq    uint64 `json:"seq"`
				Unread bool   `json:"unread"`
			} `json:"mention"`
		} `json:"conversations"`
	}
	e.getJSON(t, "/v1/conversations?mentions=me", aliceToken, &mentioned)
	if len(mentioned.Conversations) != 1 || mentioned.Conversations[0].ID != c.ID || mentioned.Conversations[0].Mention == nil ||
		mentioned.Conversations[0].Mention.Seq != 3 || !mentioned.Conversations[0].Mention.Unread {
		t.Errorf("mentions=me as alice = %+v, want %s with its unread mention at message 3", mentioned, c.ID)
	}
	e.getJSON(t, "/v1/conversations?mentions=me", bobToken, &body)
	if len(body.Conversations) != 0 {
		t.Errorf("mentions=me as bob (the author) = %v", itemIDs(body.Conversations))
	}
	var counts map[string]int
	e.getJSON(t, "/v1/inbox/counts", aliceToken, &counts)
	if want := map[string]int{"unassigned": 0, "mine": 0, "all": 0, "snoozed": 0, "closed": 1, "mentions": 1, "unread": 0}; !mapsEqual(counts, want) {
		t.Errorf("counts = %v, want %v", counts, want)
	}
	e.getJSON(t, "/v1/inbox/counts", daveToken, &counts)
	if counts["closed"] != 0 || counts["mentions"] != 0 {
		t.Errorf("globex counts = %v, want none of acme's", counts)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// The counts of seedList's tenant: each tab, for two operators.
func TestInboxCounts(t *testing.T) {
	e := start(t, options{})
	seedList(t, e)
	for _, tc := range []struct {
		token string
		want  map[string]int
	}{
		{aliceToken, map[string]int{"unassigned": 3, "mine": 3, "all": 6, "snoozed": 0, "closed": 3, "mentions": 0, "unread": 0}},
		{bobToken, map[string]int{"unassigned": 3, "mine": 3, "all": 6, "snoozed": 0, "closed": 3, "mentions": 0, "unread": 0}},
		{daveToken, map[string]int{"unassigned": 1, "mine": 1, "all": 1, "snoozed": 0, "closed": 0, "mentions": 0, "unread": 0}},
	} {
		var got map[string]int
		e.getJSON(t, "/v1/inbox/counts", tc.token, &got)
		if !mapsEqual(got, tc.want) {
			t.Errorf("counts as %s = %v, want %v", tc.token[:5], got, tc.want)
		}
	}
	wantError(t, "POST counts", e.do(t, http.MethodPost, "/v1/inbox/counts", aliceToken, ""), http.StatusMethodNotAllowed, "method_not_allowed")
}

// POST /read produces a read command for the caller, and answers its mark and unread count from the outcome, which
// the router publishes as the conversation after the command (here the rules applied to the stored conversation).
func TestMarkRead(t *testing.T) {
	e := start(t, options{})
	c := lived(t, e, "15550010")
	e.prod.set(nil, func(cmd inbox.Command) (outcome.Result, bool) {
		tn := "acme"
		if cmd.OperatorID == "dave" {
			tn = "globex"
		}
		stored, err := e.store.Conversation(tn, cmd.ConversationID)
		if err != nil {
			return outcome.Result{Code: conversation.CodeNotFound, Message: "no such conversation"}, true
		}
		next, _, err := conversation.ApplyCommand(stored, conversation.Command{Type: conversation.CommandType(cmd.Type),
			OperatorID: cmd.OperatorID, Seq: cmd.Seq, Inbound: min(cmd.Seq, 2)}, conversation.Policy{}, now) // messages 1 and 2 are the customer's
		if err != nil {
			r := err.(*conversation.Refusal)
			return outcome.Result{Code: r.Code, Message: r.Message}, true
		}
		return outcome.Result{Body: next}, true
	})
	for _, tc := range []struct {
		body   string
		status int
		want   string
	}{
		{`{"seq":1}`, 200, `{"conversation_id":"` + c.ID + `","seq":1,"unread":1}`},
		{``, 200, `{"conversation_id":"` + c.ID + `","seq":3,"unread":0}`},
		{`{}`, 200, `{"conversation_id":"` + c.ID + `","seq":3,"unread":0}`},
		{`{"seq":9}`, 400, "invalid_seq"},
		{`{"seq":0}`, 400, "invalid_seq"},
		{`{"seq":-2}`, 400, "invalid_seq"},
		{`{"seq":"x"}`, 400, "invalid_json"},
		{`{"sequence":1}`, 400, "invalid_json"},
	} {
		r := e.do(t, http.MethodPost, "/v1/conversations/"+c.ID+"/read", aliceToken, tc.body)
		if tc.status != 200 {
			wantError(t, "read "+tc.body, r, tc.status, tc.want)
			continue
		}
		if r.status != 200 || strings.TrimSpace(string(r.body)) != tc.want {
			t.Errorf("read %s = %s, want 200 %s", tc.body, r, tc.want)
		}
	}
	recs := e.prod.records()
	if len(recs) == 0 {
		t.Fatal("no record produced")
	}
	last := recs[len(recs)-1].Items[0].Command
	if last.Type != "read" || last.OperatorID != "alice" || last.ConversationID != c.ID || recs[len(recs)-1].Tenant != "acme" {
		t.Errorf("record %+v, want alice's read of %s in acme", last, c.ID)
	}
	n := len(recs)
	wantError(t, "read of a malformed id", e.do(t, http.MethodPost, "/v1/conversations/nope/read", aliceToken, ""), http.StatusNotFound, "conversation_not_found")
	// Another tenant's conversation is not found: dave's command names it in globex, which has no such conversation.
	wantError(t, "read of acme's id by dave", e.do(t, http.MethodPost, "/v1/conversations/"+c.ID+"/read", daveToken, ""), http.StatusNotFound, "conversation_not_found")
	if got := len(e.prod.records()); got != n+1 {
		t.Errorf("%d records after a malformed id and another tenant's, want %d", got, n+1)
	}
	wantError(t, "GET read", e.do(t, http.MethodGet, "/v1/conversations/"+c.ID+"/read", aliceToken, ""), http.StatusMethodNotAllowed, "method_not_allowed")
}
