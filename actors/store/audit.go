package store

// The audit log: one JSON entry (actors/audit.Entry) per change under t/<tenant>/z/<at ms:8>/<id>, written in the
// batch of the change it describes by the actor that applies it, so the log is ordered by time and a page newest
// first is one reverse scan. A replay writes the same entry again under the same key.

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/switchboard-hq/switchboard/actors/audit"
)

// PutAudit writes an audit entry of tenant.
func (b *Batch) PutAudit(tenant string, e *audit.Entry) error {
	return b.putJSON(auditKey(tenant, ms(e.At), e.ID), e)
}

// AuditQuery selects a page of a tenant's audit log, newest first: entries at or after From and before To (zero for
// no bound), by Actor and of Action (audit.Entry.Matches), before Cursor (the Next of the previous page).
type AuditQuery struct {
	From, To      time.Time
	Actor, Action string
	Cursor        string
	Limit         int
}

// Audit returns a page of tenant's audit log and the cursor of the next page ("" when none).
func (s *Store) Audit(tenant string, q AuditQuery) ([]audit.Entry, string, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	prefix := tenantKey(0, tenant, 'z')
	lower, upper := prefix, prefixEnd(prefix)
	if !q.From.IsZero() {
		lower = binary.BigEndian.AppendUint64(append([]byte{}, prefix...), ms(q.From))
	}
	if !q.To.IsZero() {
		upper = binary.BigEndian.AppendUint64(append([]byte{}, prefix...), ms(q.To))
	}
	if q.Cursor != "" {
		at, id, ok := strings.Cut(q.Cursor, "~")
		n, err := strconv.ParseUint(at, 10, 64)
		if !ok || err != nil || id == "" {
			return nil, "", fmt.Errorf("%w: audit cursor %q", ErrBadCursor, q.Cursor)
		}
		if k := auditKey(tenant, n, id); string(k) < string(upper) {
			upper = k
		}
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, "", err
	}
	defer it.Close()
	var out []audit.Entry
	for ok := it.Last(); ok; ok = it.Prev() {
		var e audit.Entry
		if err := json.Unmarshal(it.Value(), &e); err != nil {
			return nil, "", fmt.Errorf("decode audit entry %q: %w", it.Key(), err)
		}
		if !e.Matches(q.From, q.To, q.Actor, q.Action) {
			continue
		}
		if len(out) == q.Limit {
			last := out[len(out)-1]
			return out, strconv.FormatUint(ms(last.At), 10) + "~" + last.ID, it.Error()
		}
		out = append(out, e)
	}
	return out, "", it.Error()
}

// PruneAudit deletes in b up to limit of tenant's audit entries older than before (their time, to the millisecond),
// oldest first, reading them from the batch's store. It returns how many it deleted and whether older ones remain.
func (b *Batch) PruneAudit(tenant string, before time.Time, limit int) (n int, more bool, err error) {
	prefix := tenantKey(0, tenant, 'z')
	upper := binary.BigEndian.AppendUint64(append([]byte{}, prefix...), ms(before))
	it, err := b.s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: upper})
	if err != nil {
		return 0, false, err
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if n == limit {
			return n, true, it.Error()
		}
		if err := b.b.Delete(it.Key(), nil); err != nil {
			return n, false, fmt.Errorf("delete audit entry %q: %w", it.Key(), err)
		}
		n++
	}
	return n, false, it.Error()
}

// ms is t in Unix milliseconds, times before 1970 as 0.
func ms(t time.Time) uint64 { return uint64(max(t.UnixMilli(), 0)) }

// auditKey is an entry's key. Entries of one millisecond sort by input position: an id of the form
// "<offset>-<index>-<n>" is written with its numbers zero-padded (so "10-0-0" sorts after "9-0-0").
func auditKey(tenant string, at uint64, id string) []byte {
	sid := sortableID(id)
	k := binary.BigEndian.AppendUint64(tenantKey(9+len(sid), tenant, 'z'), at)
	return append(append(k, '/'), sid...)
}

func sortableID(id string) string {
	parts := strings.Split(id, "-")
	if len(parts) != 3 {
		return id
	}
	var n [3]uint64
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return id
		}
		n[i] = v
	}
	return fmt.Sprintf("%020d-%010d-%05d", n[0], n[1], n[2])
}
