package storetest

import (
	"os"
	"testing"

	"github.com/switchboard-hq/switchboard/actors/store"
)

// A store opened by Open is usable, closed when its test ends (so its directory opens again), and may be closed
// earlier by the test.
func TestOpen(t *testing.T) {
	dir := t.TempDir()
	t.Run("first", func(t *testing.T) {
		s := Open(t, store.Config{Dir: dir})
		if _, err := s.CountMessagesByID("t1"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("again after the first test ended", func(t *testing.T) {
		s := Open(t, store.Config{Dir: dir})
		if err := s.Close(); err != nil { // before the cleanup's Close, which must then do nothing
			t.Fatal(err)
		}
	})
	t.Run("temporary directory", func(t *testing.T) {
		Open(t, store.Config{})
	})
	if entries, err := os.ReadDir(dir); err != nil || len(entries) == 0 {
		t.Fatalf("store directory %s: %d entries, err %v", dir, len(entries), err)
	}
}
