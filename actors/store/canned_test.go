package store

import (
	"errors"
	"reflect"
	"testing"

	"github.com/switchboard-hq/switchboard/actors/canned"
)

// Canned responses round-trip, list in id order per tenant (a tenant whose id begins another's sees only its own),
// count, and delete.
func TestCannedResponses(t *testing.T) {
	s := openStore(t, t.TempDir())
	a := canned.Response{ID: "d0000000000000000000000000000000a", Title: "Hello", Category: "Sales", Text: "Hi {{contact.name}}",
		CreatedAt: at, UpdatedAt: at, UpdatedBy: "root", Version: 1}
	b := canned.Response{ID: "d0000000000000000000000000000000b", Title: "Bye", Text: "Bye", Media: []byte(`{"type":"image","id":"m1"}`),
		CreatedAt: at, UpdatedAt: at, Version: 2}
	other := canned.Response{ID: "d0000000000000000000000000000000c", Title: "Other", Text: "x", CreatedAt: at, UpdatedAt: at}
	commitWait(t, s, func(bt *Batch) error {
		for _, r := range []*canned.Response{&b, &a} {
			if err := bt.PutCanned("acme", r); err != nil {
				return err
			}
		}
		return bt.PutCanned("acme-2", &other)
	})
	got, err := s.CannedResponses("acme")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, []canned.Response{a, b}) {
		t.Errorf("CannedResponses = %+v", got)
	}
	if n, err := s.CountCanned("acme"); err != nil || n != 2 {
		t.Errorf("CountCanned = %d, %v", n, err)
	}
	if r, err := s.Canned("acme", b.ID); err != nil || !reflect.DeepEqual(r, b) {
		t.Errorf("Canned = %+v, %v", r, err)
	}
	if _, err := s.Canned("acme", other.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("another tenant's canned response: %v, want ErrNotFound", err)
	}
	commitWait(t, s, func(bt *Batch) error { return bt.DeleteCanned("acme", a.ID) })
	if got, err := s.CannedResponses("acme"); err != nil || len(got) != 1 || got[0].ID != b.ID {
		t.Errorf("after delete: %+v, %v", got, err)
	}
	// A tombstone is read back by id but neither listed nor counted.
	commitWait(t, s, func(bt *Batch) error { return bt.PutCanned("acme", &canned.Response{ID: b.ID, Deleted: true}) })
	if got, err := s.CannedResponses("acme"); err != nil || len(got) != 0 {
		t.Errorf("after the tombstone: %+v, %v", got, err)
	}
	if n, err := s.CountCanned("acme"); err != nil || n != 0 {
		t.Errorf("CountCanned with a tombstone = %d, %v", n, err)
	}
	if r, err := s.Canned("acme", b.ID); err != nil || !r.Deleted {
		t.Errorf("Canned of a tombstone = %+v, %v", r, err)
	}
}
