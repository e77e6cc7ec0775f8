package schema

// The audit log in ClickHouse: audit.recorded events (actors/audit) are stored in a table of their own,
// switchboard.audit, not in switchboard.events. The events table is the conversations' history: its type column is
// an Enum8 of conversation event types, every row has a conversation, and the insights' materialized views read
// every row inserted into it; an audit entry has none of that and carries its changes, which no conversation event
// has. A table of its own keeps the insights' queries and views untouched and lets the audit log be kept (or
// dropped) on its own terms.

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/switchboard-hq/switchboard/actors/audit"
)

// EventAuditRecorded is the type of audit events: stored in switchboard.audit (AuditOf, InsertAudit), never in
// switchboard.events.
const EventAuditRecorded = audit.EventRecorded

// AuditRow is one row of switchboard.audit: an audit entry, its changes as JSON.
type AuditRow struct {
	ID        string
	TenantID  string
	At        time.Time
	ActorID   string
	ActorRole string
	Action    string
	Target    string
	// Changes is the entry's changes as a JSON array (secrets already shown as "(changed)").
	Changes   string
	RequestID string
}

// createAudit is the audit table. ReplacingMergeTree by (tenant_id, at, id): the sink is at-least-once and an entry
// replayed by the router is published again under the same id; readers deduplicate by id (ReadAudit uses FINAL).
const createAudit = `CREATE TABLE IF NOT EXISTS switchboard.audit (
	id String,
	tenant_id String,
	at DateTime,
	at_ns UInt32,
	actor_id String,
	actor_role String,
	action String,
	target String,
	changes String,
	request_id String,
	inserted_at DateTime
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(at)
ORDER BY (tenant_id, at, id)`

// AuditOf reports whether data, a record value of switchboard.events, is an audit.recorded event, and its row. A
// malformed one is reported with an error wrapping ErrMalformed.
func AuditOf(data []byte) (AuditRow, bool, error) {
	var ev audit.Event
	if err := json.Unmarshal(data, &ev); err != nil || ev.Type != audit.EventRecorded {
		return AuditRow{}, false, nil
	}
	switch {
	case ev.ID == "" || ev.TenantID == "" || ev.Action == "":
		return AuditRow{}, true, fmt.Errorf("%w: audit event %q without an id, a tenant or an action", ErrMalformed, ev.ID)
	case ev.At.Unix() <= 0 || ev.At.Unix() > math.MaxUint32:
		return AuditRow{}, true, fmt.Errorf("%w: audit event %s has at %v, outside DateTime's range", ErrMalformed, ev.ID, ev.At)
	}
	changes := []byte("[]")
	if len(ev.Changes) > 0 {
		var err error
		if changes, err = json.Marshal(ev.Changes); err != nil {
			return AuditRow{}, true, fmt.Errorf("%w: audit event %s: %v", ErrMalformed, ev.ID, err)
		}
	}
	return AuditRow{ID: ev.ID, TenantID: ev.TenantID, At: ev.At.UTC(), ActorID: ev.ActorID, ActorRole: ev.ActorRole,
		Action: ev.Action, Target: ev.Target, Changes: string(changes), RequestID: ev.RequestID}, true, nil
}

const insertAudit = `INSERT INTO switchboard.audit (id, tenant_id, at, at_ns, actor_id, actor_role, action, target,
	changes, request_id, inserted_at)`

// InsertAudit stores rows in switchboard.audit as one batch; storing a row again is harmless (ReadAudit dedupes).
func InsertAudit(ctx context.Context, conn driver.Conn, rows []AuditRow) error {
	if len(rows) == 0 {
		return nil
	}
	b, err := conn.PrepareBatch(ctx, insertAudit)
	if err != nil {
		return fmt.Errorf("insert %d audit rows: prepare: %w", len(rows), err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	for _, r := range rows {
		if err := b.Append(r.ID, r.TenantID, r.At, uint32(r.At.Nanosecond()), r.ActorID, r.ActorRole, r.Action,
			r.Target, r.Changes, r.RequestID, now); err != nil {
			_ = b.Abort()
			return fmt.Errorf("insert %d audit rows: %w", len(rows), err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert %d audit rows: send: %w", len(rows), err)
	}
	return nil
}

// ReadAudit returns tenant's audit rows, each id once, oldest first.
func ReadAudit(ctx context.Context, conn driver.Conn, tenant string) ([]AuditRow, error) {
	rows, err := conn.Query(ctx, `SELECT id, tenant_id, at, at_ns, actor_id, actor_role, action, target, changes,
		request_id FROM switchboard.audit FINAL WHERE tenant_id = ? ORDER BY at, at_ns, id`, tenant)
	if err != nil {
		return nil, fmt.Errorf("read audit: %w", err)
	}
	defer rows.Close()
	var out []AuditRow
	for rows.Next() {
		var r AuditRow
		var ns uint32
		if err := rows.Scan(&r.ID, &r.TenantID, &r.At, &ns, &r.ActorID, &r.ActorRole, &r.Action, &r.Target,
			&r.Changes, &r.RequestID); err != nil {
			return nil, fmt.Errorf("read audit: %w", err)
		}
		r.At = r.At.Add(time.Duration(ns)).UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read audit: %w", err)
	}
	return out, nil
}

// AuditPrune is an audit.pruned entry's order: the tenant's entries before Before leave switchboard.audit too.
type AuditPrune struct {
	TenantID string
	Before   time.Time
}

// AuditPruneOf reports whether r is an audit.pruned entry (the tenant actor removed the tenant's entries older than
// its retention from Pebble), and the cut it names.
func AuditPruneOf(r AuditRow) (AuditPrune, bool) {
	if r.Action != audit.ActionPruned {
		return AuditPrune{}, false
	}
	var changes []audit.Change
	if json.Unmarshal([]byte(r.Changes), &changes) != nil {
		return AuditPrune{}, false
	}
	for _, c := range changes {
		var s string
		if c.Field != "before" || json.Unmarshal(c.To, &s) != nil {
			continue
		}
		before, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || before.Unix() <= 0 {
			return AuditPrune{}, false
		}
		return AuditPrune{TenantID: r.TenantID, Before: before}, true
	}
	return AuditPrune{}, false
}

// PruneAudit removes each tenant's rows of switchboard.audit older than its cut (to the second: a row in the cut's
// own second stays until the next cut), one ALTER TABLE … DELETE mutation per tenant: ClickHouse 18.16 has no TTL,
// and the table's monthly partitions hold every tenant, so none can be dropped for one. ClickHouse runs mutations in
// the background; running one again is harmless.
func PruneAudit(ctx context.Context, conn driver.Conn, prunes []AuditPrune) error {
	latest := map[string]time.Time{}
	for _, p := range prunes {
		if p.Before.After(latest[p.TenantID]) {
			latest[p.TenantID] = p.Before
		}
	}
	for tenant, before := range latest {
		if err := conn.Exec(ctx, `ALTER TABLE switchboard.audit DELETE WHERE tenant_id = ? AND at < toDateTime(?)`,
			tenant, before.Unix()); err != nil {
			return fmt.Errorf("prune the audit log of %s before %v: %w", tenant, before, err)
		}
	}
	return nil
}
