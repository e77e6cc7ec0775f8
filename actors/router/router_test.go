package router

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/store/storetest"
	"github.com/switchboard-hq/switchboard/actors/tenant"
)

// newTestRouter builds a router over a temporary store whose brokers do not answer: enough for its lifecycle.
func newTestRouter(t *testing.T) *Router {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	r, err := New(Config{Brokers: []string{"127.0.0.1:1"}, Store: storetest.Open(t, store.Config{}), Directory: tenant.NewDirectory(nil),
		Outcomes: outcome.NewRegistry(), Registerer: prometheus.NewRegistry(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// watcherAlive reports whether the router's event watcher is still registered on its engine.
func watcherAlive(r *Router) bool {
	return r.engine.Registry.GetPID("events", strings.TrimPrefix(r.watcher.ID, "events/")) != nil
}

// Close stops a Run in progress (Run returns nil, as when its context ends), stops the router's actors, and is
// idempotent; Run after Close refuses to start.
func TestCloseStopsRun(t *testing.T) {
	r := newTestRouter(t)
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	eventually.True(t, time.Minute, time.Millisecond, func() bool { // Run is joining a group that never answers
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.running != nil
	}, "Run running")
	if err := r.Run(context.Background()); !errors.Is(err, ErrRunning) {
		t.Errorf("a second Run while one runs = %v, want ErrRunning", err)
	}
	if !watcherAlive(r) {
		t.Fatal("the watcher is not registered before Close")
	}
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := <-done; err != nil {
		t.Errorf("Run stopped by Close = %v, want nil", err)
	}
	if watcherAlive(r) {
		t.Error("the router's watcher actor still runs after Close")
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := r.Run(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close = %v, want ErrClosed", err)
	}
}

// A router that never ran closes too.
func TestCloseWithoutRun(t *testing.T) {
	r := newTestRouter(t)
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if watcherAlive(r) {
		t.Error("the router's watcher actor still runs after Close")
	}
}

// A failure before Run (an actor fed directly, as the scenario tests do) is what Run returns.
func TestRunReturnsEarlierFailure(t *testing.T) {
	r := newTestRouter(t)
	defer r.Close()
	boom := errors.New("store cannot write")
	r.fail(boom)
	if err := r.Run(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("Run after a failure = %v, want %v", err, boom)
	}
}
