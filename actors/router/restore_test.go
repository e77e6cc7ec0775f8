package router

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/store/storetest"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/broker/brokertest"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// restoringRouter is a router over the embedded broker (three inbox partitions) whose Restore is restore.
func restoringRouter(t *testing.T, restore func(ctx context.Context, partition int, gen int32) error) *Router {
	t.Helper()
	b := brokertest.Start(t, brokertest.Config{Partitions: 3, Topics: []string{inbox.Topic}})
	r, err := New(Config{Brokers: []string{b.Addr()}, Store: storetest.Open(t, store.Config{}), Directory: tenant.NewDirectory(nil),
		Outcomes: outcome.NewRegistry(), Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler),
		Restore: restore})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// TestRestoreBeforeReady: every assigned partition is restored, with the generation that assigned it, before the
// router says it is ready.
func TestRestoreBeforeReady(t *testing.T) {
	var mu sync.Mutex
	restored := map[int]int32{}
	release := make(chan struct{})
	r := restoringRouter(t, func(ctx context.Context, partition int, gen int32) error {
		if partition == 2 {
			<-release
		}
		mu.Lock()
		restored[partition] = gen
		mu.Unlock()
		return nil
	})
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	eventually.True(t, 30*time.Second, 10*time.Millisecond, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(restored) == 2
	}, "partitions 0 and 1 restored")
	time.Sleep(100 * time.Millisecond)
	if r.Ready() {
		t.Fatal("ready while partition 2 is still restoring")
	}
	close(release)
	eventually.True(t, 30*time.Second, 10*time.Millisecond, r.Ready, "ready after every restore")
	mu.Lock()
	for p := range 3 {
		if gen, ok := restored[p]; !ok || gen < 1 {
			t.Errorf("partition %d: restored %v with generation %d", p, ok, gen)
		}
	}
	mu.Unlock()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestFailedRestoreStopsTheRouter: a partition whose restore fails is never consumed: the router stops with the
// restore's error.
func TestFailedRestoreStopsTheRouter(t *testing.T) {
	corrupt := errors.New("corrupt changelog record switchboard.changelog partition 1 offset 7: checksum")
	r := restoringRouter(t, func(ctx context.Context, partition int, gen int32) error {
		if partition == 1 {
			return corrupt
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := r.Run(ctx)
	if !errors.Is(err, corrupt) || !strings.Contains(err.Error(), "partition 1: restore from the changelog") {
		t.Fatalf("Run = %v, want the restore's error", err)
	}
	if r.Ready() {
		t.Fatal("ready after a failed restore")
	}
}
