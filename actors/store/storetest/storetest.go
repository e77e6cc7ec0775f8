// Package storetest opens the node's Pebble store for tests: in a temporary directory of the test unless told
// otherwise, quiet, closed when the test ends. Tests use the real store on disk, as the node does; its companion for
// Kafka is ingest/broker/brokertest.
//
// It imports only actors/store; only tests import it.
package storetest

import (
	"log/slog"
	"testing"

	"github.com/switchboard-hq/switchboard/actors/store"
)

// Open opens a store with cfg and closes it when the test ends. An empty cfg.Dir means a new temporary directory of
// the test; a nil cfg.Logger discards the store's logs. Store.Close is idempotent, so a test may close the store
// earlier, e.g. to open its directory again. It fails the test on any error.
func Open(t testing.TB, cfg store.Config) *store.Store {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := store.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close store %s: %v", cfg.Dir, err)
		}
	})
	return s
}

// Commit commits b to s and waits until it is durable. It fails the test on any error.
func Commit(t testing.TB, s *store.Store, b *store.Batch) {
	t.Helper()
	synced := make(chan error, 1)
	if err := s.Commit(b, func(err error) { synced <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-synced; err != nil {
		t.Fatal(err)
	}
}
