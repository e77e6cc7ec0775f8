// Package lifecycletest checks that a component keeps the lifecycle every Switchboard component promises (docs/style.md,
// convention 3): Run blocks until Close, Close is idempotent and makes Run return nil, and a second Run is refused.
// The sender, the outbox relay and the timer firer pass the same check.
//
// It imports the standard library and actors/eventually; only tests import it.
package lifecycletest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/eventually"
)

// Component is what the check drives.
type Component interface {
	Run(ctx context.Context) error
	Close() error
}

// Check runs c, waits until started reports that Run is under way, closes c three times (each Close must return
// nil), then expects Run to have returned nil and a second Run to return an error wrapping errRunTwice.
func Check(t *testing.T, c Component, started func() bool, errRunTwice error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- c.Run(context.Background()) }()
	eventually.True(t, time.Minute, time.Millisecond, started, "Run started")
	for i := range 3 {
		if err := c.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := c.Run(context.Background()); !errors.Is(err, errRunTwice) {
		t.Errorf("second Run: %v, want %v", err, errRunTwice)
	}
}
