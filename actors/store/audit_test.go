package store

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/audit"
)

func TestAuditPagesNewestFirst(t *testing.T) {
	s := openStore(t, t.TempDir())
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	// Five entries of tenant a, two at the same millisecond, one of tenant ab (a prefix sibling) in between.
	commitWait(t, s, func(b *Batch) error {
		for i := range 5 {
			e := audit.Entry{ID: audit.ID(int64(10+i), 0, 0), TenantID: "a", At: t0.Add(time.Duration(i/2*2) * time.Second),
				ActorID: []string{"ana", "bob"}[i%2], Action: []string{audit.ActionSettingsChanged, audit.ActionChannelAdded}[i%2]}
			if err := b.PutAudit("a", &e); err != nil {
				return err
			}
		}
		return b.PutAudit("ab", &audit.Entry{ID: "1-0-0", TenantID: "ab", At: t0.Add(time.Second), ActorID: "ana"})
	})
	ids := func(es []audit.Entry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	var all []string
	cursor := ""
	for page := 0; ; page++ {
		es, next, err := s.Audit("a", AuditQuery{Cursor: cursor, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ids(es)...)
		if next == "" {
			break
		}
		if page > 5 {
			t.Fatal("paging does not end")
		}
		cursor = next
	}
	if want := []string{"14-0-0", "13-0-0", "12-0-0", "11-0-0", "10-0-0"}; !slices.Equal(all, want) {
		t.Errorf("pages = %v, want %v", all, want)
	}
	cases := []struct {
		q    AuditQuery
		want []string
	}{
		{AuditQuery{Actor: "bob"}, []string{"13-0-0", "11-0-0"}},
		{AuditQuery{Action: "channel."}, []string{"13-0-0", "11-0-0"}},
		{AuditQuery{From: t0.Add(2 * time.Second)}, []string{"14-0-0", "13-0-0", "12-0-0"}},
		{AuditQuery{To: t0.Add(2 * time.Second)}, []string{"11-0-0", "10-0-0"}},
		{AuditQuery{From: t0.Add(2 * time.Second), To: t0.Add(3 * time.Second), Actor: "ana"}, []string{"12-0-0"}},
	}
	for _, c := range cases {
		es, _, err := s.Audit("a", c.q)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(es); !slices.Equal(got, c.want) {
			t.Errorf("%+v: %v, want %v", c.q, got, c.want)
		}
	}
	if es, _, _ := s.Audit("ab", AuditQuery{}); fmt.Sprint(ids(es)) != "[1-0-0]" {
		t.Errorf("tenant ab sees %v", ids(es))
	}
	// Within one millisecond, entries sort by input position, numerically.
	t1 := t0.Add(time.Hour)
	commitWait(t, s, func(b *Batch) error {
		for _, id := range []string{"9-0-0", "10-0-0", "10-1-0", "100-0-0"} {
			if err := b.PutAudit("c", &audit.Entry{ID: id, TenantID: "c", At: t1}); err != nil {
				return err
			}
		}
		return nil
	})
	if es, _, _ := s.Audit("c", AuditQuery{}); fmt.Sprint(ids(es)) != "[100-0-0 10-1-0 10-0-0 9-0-0]" {
		t.Errorf("one millisecond's entries, newest first: %v", ids(es))
	}
	if _, _, err := s.Audit("a", AuditQuery{Cursor: "nope"}); !errors.Is(err, ErrBadCursor) {
		t.Errorf("bad cursor: %v", err)
	}
}

// TestPruneAudit: entries older than the cut are deleted oldest first, at most limit per batch; the tenant whose id
// extends this one's ("ab" beside "a") and the entries at or after the cut stay.
func TestPruneAudit(t *testing.T) {
	s := openStore(t, t.TempDir())
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	commitWait(t, s, func(b *Batch) error {
		for i := range 7 {
			e := audit.Entry{ID: audit.ID(int64(i), 0, 0), TenantID: "a", At: t0.Add(time.Duration(i) * time.Hour)}
			if err := b.PutAudit("a", &e); err != nil {
				return err
			}
		}
		return b.PutAudit("ab", &audit.Entry{ID: "1-0-0", TenantID: "ab", At: t0})
	})
	left := func(tenant string) []string {
		es, _, err := s.Audit(tenant, AuditQuery{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	cut := t0.Add(5 * time.Hour) // entries 0-4 are older
	for i, want := range []struct {
		n    int
		more bool
		left []string
	}{
		{2, true, []string{"6-0-0", "5-0-0", "4-0-0", "3-0-0", "2-0-0"}},
		{2, true, []string{"6-0-0", "5-0-0", "4-0-0"}},
		{1, false, []string{"6-0-0", "5-0-0"}},
		{0, false, []string{"6-0-0", "5-0-0"}},
	} {
		var n int
		var more bool
		commitWait(t, s, func(b *Batch) (err error) {
			n, more, err = b.PruneAudit("a", cut, 2)
			return err
		})
		if n != want.n || more != want.more || !slices.Equal(left("a"), want.left) {
			t.Errorf("step %d: pruned %d more %v, left %v; want %d %v %v", i, n, more, left("a"), want.n, want.more, want.left)
		}
	}
	if got := left("ab"); !slices.Equal(got, []string{"1-0-0"}) {
		t.Errorf("tenant ab lost its entry: %v", got)
	}
}
