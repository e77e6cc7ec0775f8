package node

import (
	"errors"
	"fmt"

	"github.com/switchboard-hq/switchboard/actors/audit"
	"github.com/switchboard-hq/switchboard/actors/contact"
	"github.com/switchboard-hq/switchboard/actors/search"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/api"
)

func (r storeReader) Contact(tenant, id string) (contact.Contact, error) {
	c, err := r.st.Contact(tenant, id)
	if errors.Is(err, store.ErrNotFound) {
		return c, fmt.Errorf("contact %s of tenant %s: %w", id, tenant, api.ErrNotFound)
	}
	return c, err
}

func (r storeReader) Contacts(tenant string, q api.ContactQuery) ([]contact.Contact, string, error) {
	f := store.ContactFilter{Blocked: q.Blocked, After: q.After, Limit: q.Limit}
	if q.Text != "" {
		f.Query = search.ParseQuery(q.Text)
		if len(f.Query.Terms) == 0 {
			return nil, "", nil // only one-letter words: nothing matches
		}
	}
	return r.st.Contacts(tenant, f)
}

func (r storeReader) Audit(tenant string, q api.AuditQuery) ([]audit.Entry, string, error) {
	es, next, err := r.st.Audit(tenant, store.AuditQuery{From: q.From, To: q.To, Actor: q.Actor, Action: q.Action,
		Cursor: q.Cursor, Limit: q.Limit})
	if errors.Is(err, store.ErrBadCursor) {
		return nil, "", fmt.Errorf("%w: %v", api.ErrBadCursor, err)
	}
	return es, next, err
}
