package schema

// Erasing a contact from the analytics tables (issue 12). switchboard.events holds no text and no name; a row's
// personal data are contact_id, a hash of the contact's phone number (conversation.ContactID), which anyone holding
// the number can compute, and message_id: a WhatsApp message id (wamid) is the base64 of a record holding the
// customer's number itself. Erasing a contact therefore blanks contact_id and message_id on the contact's rows (a
// mutation, ALTER TABLE … UPDATE), and keeps the rows: every figure of the insights (waits, first responses,
// handling, counts) stays exact, since none reads contact_id or message_id. conversation_id is kept too, as the conversations
// aggregate is keyed by it; it is a hash of the channel and the phone number, so it stays linkable to a number by
// whoever holds the number and the channel id — the README says so.

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/switchboard-hq/switchboard/actors/contact"
	"github.com/switchboard-hq/switchboard/actors/conversation"
)

// The event types that erase a contact. The catalogue publishes contact.erased once per contact; each of the
// contact's conversations publishes conversation.erased. Neither is stored as a row (Decode refuses them with
// ErrNotStored); both are erasures (ErasureOf).
const (
	EventContactErased      = contact.EventErased
	EventConversationErased = conversation.EventErased
)

// Erasure names a contact whose data leaves the analytics tables.
type Erasure struct {
	TenantID  string
	ContactID string
}

// ErasureOf reports whether data, a record value of switchboard.events, is an erasure event, and whose.
func ErasureOf(data []byte) (Erasure, bool) {
	var e struct {
		Type      string `json:"type"`
		TenantID  string `json:"tenant_id"`
		ContactID string `json:"contact_id"`
	}
	if json.Unmarshal(data, &e) != nil || (e.Type != EventContactErased && e.Type != EventConversationErased) ||
		e.TenantID == "" || e.ContactID == "" {
		return Erasure{}, false
	}
	return Erasure{TenantID: e.TenantID, ContactID: e.ContactID}, true
}

// Anonymise blanks the contact_id and message_id of every row of the erased contacts in switchboard.events: one mutation per
// tenant. ClickHouse runs mutations in the background, on the parts that exist when it is submitted, so the caller
// submits it after inserting every event that came before the erasure. Running it again is harmless.
func Anonymise(ctx context.Context, conn driver.Conn, erasures []Erasure) error {
	byTenant := map[string][]string{}
	for _, e := range erasures {
		if !slices.Contains(byTenant[e.TenantID], e.ContactID) {
			byTenant[e.TenantID] = append(byTenant[e.TenantID], e.ContactID)
		}
	}
	for _, tenant := range slices.Sorted(maps.Keys(byTenant)) {
		ids := byTenant[tenant]
		// One placeholder per id: a bound slice arrives as an Array, which a mutation's IN refuses when it runs (in
		// the background, where a failing mutation is retried forever and holds back the ones after it).
		args := make([]any, 0, 1+len(ids))
		args = append(args, tenant)
		for _, id := range ids {
			args = append(args, id)
		}
		q := `ALTER TABLE switchboard.events UPDATE contact_id = '', message_id = '' WHERE tenant_id = ? AND contact_id IN (?` +
			strings.Repeat(", ?", len(ids)-1) + `)`
		if err := conn.Exec(ctx, q, args...); err != nil {
			return fmt.Errorf("anonymise %d contacts of tenant %s: %w", len(ids), tenant, err)
		}
	}
	return nil
}

// MutationsDone reports whether ClickHouse has finished every mutation of switchboard.events.
func MutationsDone(ctx context.Context, conn driver.Conn) (bool, error) {
	var pending uint64
	row := conn.QueryRow(ctx, `SELECT count() FROM system.mutations
		WHERE database = 'switchboard' AND table = 'events' AND is_done = 0`)
	if err := row.Scan(&pending); err != nil {
		return false, fmt.Errorf("read mutations: %w", err)
	}
	return pending == 0, nil
}
