package node

// The API reads state through api.Reader, in its own terms, so it links no store; this adapts the node's store.

import (
	"errors"
	"fmt"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/operator"
	"github.com/switchboard-hq/switchboard/actors/routing"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/template"
	"github.com/switchboard-hq/switchboard/api"
)

// APIReader is the node's store as the API reads it. It is safe for concurrent use, as the store is.
func APIReader(st *store.Store) api.Reader { return storeReader{st} }

type storeReader struct{ st *store.Store }

func (r storeReader) Conversation(tenant, id string) (conversation.Conversation, error) {
	c, err := r.st.Conversation(tenant, id)
	if errors.Is(err, store.ErrNotFound) {
		return c, fmt.Errorf("conversation %s of tenant %s: %w", id, tenant, api.ErrNotFound)
	}
	return c, err
}

func (r storeReader) ListConversations(tenant string, q api.ListQuery) ([]conversation.Conversation, string, error) {
	sort := q.Sort
	if sort == api.SortLastActivity {
		sort = store.SortActivity
	}
	list, next, err := r.st.ListConversations(tenant, store.ListQuery{Status: q.Status, Owner: q.Assignee,
		Unowned: q.Unassigned, MentionsOf: q.MentionsOf, Sort: sort, Desc: q.Desc, Label: q.Label, Channel: q.Channel,
		ClosedBy: q.ClosedBy, UnreadFor: q.UnreadFor, Cursor: q.Cursor, Limit: q.Limit})
	if errors.Is(err, store.ErrBadCursor) {
		return nil, "", fmt.Errorf("list conversations of tenant %s: %w", tenant, api.ErrBadCursor)
	}
	return list, next, err
}

func (r storeReader) InboxCounts(tenant, operator string) (api.InboxCounts, error) {
	c, err := r.st.InboxCounts(tenant, operator)
	return api.InboxCounts{Unassigned: c.Unassigned, Mine: c.Mine, All: c.All, Snoozed: c.Snoozed, Closed: c.Closed,
		Mentions: c.Mentions, Unread: c.Unread}, err
}

func (r storeReader) Messages(tenant, conv string, before uint64, limit int) ([]conversation.Message, error) {
	return r.st.Messages(tenant, conv, before, limit)
}

func (r storeReader) Operators(tenant string) ([]operator.State, error) {
	stored, err := r.st.Operators(tenant)
	if err != nil {
		return nil, err
	}
	out := make([]operator.State, len(stored))
	for i, o := range stored {
		out[i] = operator.State{ID: o.ID, Availability: routing.Availability(o.Availability), Capacity: o.Capacity,
			Role: o.Role, Skills: o.Skills, IdleSince: o.IdleSince}
	}
	return out, nil
}

func (r storeReader) OperatorLoads(tenant string) (map[string]int, error) {
	return r.st.OperatorLoads(tenant)
}

func (r storeReader) Search(tenant string, q api.SearchQuery) ([]api.SearchHit, string, error) {
	hits, next, err := r.st.Search(tenant, store.SearchQuery{Text: q.Text, After: q.After, Limit: q.Limit})
	if err != nil {
		return nil, "", err
	}
	out := make([]api.SearchHit, len(hits))
	for i, h := range hits {
		out[i] = api.SearchHit{Conversation: h.Conversation, Match: api.SearchMatch{Field: h.Field, Snippet: h.Snippet, Seq: h.Seq}}
	}
	return out, next, nil
}

func (r storeReader) Templates(tenant, waba string) ([]template.Template, error) {
	list, err := r.st.Templates(tenant, waba)
	if err != nil {
		return nil, err
	}
	out := make([]template.Template, len(list))
	for i := range list {
		out[i] = list[i].Template
	}
	return out, nil
}

func (r storeReader) Template(tenant, waba, name, language string) (template.Template, error) {
	t, err := r.st.Template(tenant, waba, name, language)
	if errors.Is(err, store.ErrNotFound) {
		return t.Template, fmt.Errorf("template %s/%s/%s of tenant %s: %w", waba, name, language, tenant, api.ErrNotFound)
	}
	return t.Template, err
}
