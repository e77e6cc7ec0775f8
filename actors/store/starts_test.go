package store

import (
	"errors"
	"testing"

	"github.com/switchboard-hq/switchboard/actors/conversation"
)

func TestRefusedStart(t *testing.T) {
	s := openStore(t, t.TempDir())
	if _, err := s.RefusedStart("acme", "c1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("none recorded: %v", err)
	}
	pos := conversation.Position{Offset: 1 << 40, Index: 7}
	commitWait(t, s, func(b *Batch) error { return b.PutRefusedStart("acme", "c1", pos) })
	if got, err := s.RefusedStart("acme", "c1"); err != nil || got != pos {
		t.Errorf("RefusedStart = %+v, %v; want %+v", got, err, pos)
	}
	if _, err := s.RefusedStart("acme-2", "c1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("another tenant's: %v", err)
	}
	commitWait(t, s, func(b *Batch) error { return b.DeleteRefusedStart("acme", "c1") })
	if _, err := s.RefusedStart("acme", "c1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
}
