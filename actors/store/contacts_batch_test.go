package store

import (
	"fmt"
	"testing"

	crec "github.com/switchboard-hq/switchboard/actors/contact"
	"github.com/switchboard-hq/switchboard/actors/conversation"
)

// ContactsByID finds what Contact finds, for many ids at once: across a flush (memtable and tables), missing ids
// and another tenant's contact left out, an id given twice read once.
func TestContactsByID(t *testing.T) {
	s := openStore(t, t.TempDir())
	put := func(tenant string, from, to int) { putPeople(t, s, tenant, from, to) }
	put("acme", 0, 300)
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	put("acme", 300, 400) // in the memtable
	put("globex", 1000, 1010)
	var ids []string
	for i := 0; i < 1010; i += 3 {
		ids = append(ids, conversation.ContactID(fmt.Sprintf("1555123%04d", i)))
	}
	ids = append(ids, ids[0])
	got, err := s.ContactsByID("acme", ids)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, id := range ids[:len(ids)-1] {
		c, err := s.Contact("acme", id)
		if err != nil {
			if got[id] != nil {
				t.Errorf("%s: found %+v, Contact says %v", id, got[id], err)
			}
			continue
		}
		want++
		if g := got[id]; g == nil || g.Name != c.Name || g.ID != id {
			t.Errorf("%s = %+v, want %+v", id, g, c)
		}
	}
	if len(got) != want || want != 134 {
		t.Fatalf("%d found, want %d (134)", len(got), want)
	}
	var none map[string]*crec.Contact
	if none, err = s.ContactsByID("acme", nil); err != nil || len(none) != 0 {
		t.Fatalf("no ids: %v %v", none, err)
	}
}

// EachContactID lists the tenant's contact ids, in the memtable and the tables, and no other tenant's.
func TestEachContactID(t *testing.T) {
	s := openStore(t, t.TempDir())
	want := map[string]bool{}
	for _, id := range putPeople(t, s, "acme", 0, 300) {
		want[id] = true
	}
	if err := s.db.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, id := range putPeople(t, s, "acme", 300, 400) {
		want[id] = true
	}
	putPeople(t, s, "acmex", 1000, 1010) // a tenant whose name extends acme's
	got := map[string]bool{}
	if err := s.EachContactID("acme", func(id string) { got[id] = true }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d ids, want %d", len(got), len(want))
	}
	for id := range want {
		if !got[id] {
			t.Errorf("id %s missing", id)
		}
	}
}

// BenchmarkEachContactID is the scan the catalogue's id filter starts from, over a million flushed contacts.
func BenchmarkEachContactID(b *testing.B) {
	const n = 1_000_000
	s := openStore(b, b.TempDir())
	for from := 0; from < n; from += 10_000 {
		commitWait(b, s, func(bt *Batch) error {
			for i := from; i < from+10_000; i++ {
				c := person(fmt.Sprintf("49151%08d", i), fmt.Sprintf("Person %d", i), nil)
				if err := bt.PutContact("acme", nil, &c); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := s.db.Flush(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		count := 0
		if err := s.EachContactID("acme", func(string) { count++ }); err != nil || count != n {
			b.Fatalf("%d ids, %v", count, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/contact")
}

// putPeople writes the tenant's contacts +1555123<i> for i in [from, to) and returns their ids.
func putPeople(t *testing.T, s *Store, tenant string, from, to int) []string {
	var ids []string
	commitWait(t, s, func(b *Batch) error {
		for i := from; i < to; i++ {
			c := person(fmt.Sprintf("1555123%04d", i), fmt.Sprintf("P%d", i), nil)
			ids = append(ids, c.ID)
			if err := b.PutContact(tenant, nil, &c); err != nil {
				return err
			}
		}
		return nil
	})
	return ids
}
