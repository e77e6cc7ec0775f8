package scenario

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/bench/load"
	"github.com/switchboard-hq/switchboard/bench/report"
)

// reading is the node's live heap (after a forced GC), RSS and conversation actors at one moment.
type reading struct{ heap, rss, actors float64 }

func (e *env) read() (reading, error) {
	if err := e.node.gcHeap(); err != nil {
		return reading{}, err
	}
	v, err := load.Metrics(e.node.url()+"/metrics", "go_memstats_heap_alloc_bytes", "process_resident_memory_bytes",
		"switchboard_conversation_actors_active")
	if err != nil {
		return reading{}, err
	}
	return reading{heap: v[0], rss: v[1], actors: v[2]}, nil
}

// memory measures what stored and idle conversations cost the node: an empty node, the same node restarted over
// Conversations stored conversations, then with conversation actors woken by a burst of messages and left idle,
// then after they were passivated.
func memory(ctx context.Context, e *env) error {
	n := e.cfg.Conversations
	s := shapes["memory"]
	tenants, err := e.up(ctx, s, nil)
	if err != nil {
		return err
	}
	e.r.Config["stored_conversations"], e.r.Config["idle_after"] = n, s.idleAfter.String()
	time.Sleep(2 * time.Second)
	empty, err := e.read()
	if err != nil {
		return err
	}
	e.node.stop()
	e.log.Info("seeding stored conversations", "n", n)
	t0 := time.Now()
	if err := seedClosed(ctx, e.node.dataDir(), tenants, n); err != nil {
		return err
	}
	seedSecs := time.Since(t0).Seconds()
	t0 = time.Now()
	if err := e.node.start(ctx, 5*time.Minute); err != nil {
		return err
	}
	startSecs := time.Since(t0).Seconds()
	time.Sleep(2 * time.Second)
	stored, err := e.read()
	if err != nil {
		return err
	}

	// Wake conversations: every message reopens a stored one (the generator's first customers are the seeded
	// ones), operators answer and close, and the actors then sit idle until passivated.
	const rate, secs = 2000, 15
	_, err = e.drive(ctx, tenants, []load.Step{{Rate: rate, Duration: secs * time.Second}}, func(c *load.Config) {
		c.MessagesPerConversation, c.Contacts = 1, n/len(tenants)
		c.Think, c.Handle, c.Drain = 200*time.Millisecond, time.Second, 5*time.Second
	})
	if err != nil {
		return err
	}
	idle, err := e.read()
	if err != nil {
		return err
	}
	// An actor idle for half of idle-after drops its decoded conversation (a trim, on the tenant's tick every quarter
	// of it): by 80 % of idle-after after the burst every woken actor is trimmed and none passivated yet.
	trimAt := s.idleAfter * 4 / 5
	e.log.Info("waiting for the idle actors to be trimmed", "after", trimAt)
	select {
	case <-time.After(trimAt):
	case <-ctx.Done():
		return ctx.Err()
	}
	trimmed, err := e.read()
	if err != nil {
		return err
	}
	e.log.Info("waiting for the idle actors to be passivated", "after", s.idleAfter)
	select {
	case <-time.After(s.idleAfter + 15*time.Second - trimAt):
	case <-ctx.Done():
		return ctx.Err()
	}
	after, err := e.read()
	if err != nil {
		return err
	}

	const kb = 1024.0
	perStored := (stored.heap - empty.heap) / float64(n)
	perActor, perTrimmed := 0.0, 0.0
	if idle.actors > 0 {
		perActor = (idle.heap - stored.heap) / idle.actors
	}
	if trimmed.actors > 0 {
		perTrimmed = (trimmed.heap - stored.heap) / trimmed.actors
	}
	e.r.Figures = append(e.r.Figures,
		report.Figure{Name: "seed", Value: seedSecs, Unit: "s", Note: fmt.Sprintf("%d closed conversations with a message each, written through the store package in synced batches of %d", n, seedBatch)},
		report.Figure{Name: "restart over the stored conversations", Value: startSecs, Unit: "s", Note: "process start → /readyz 200"},
		report.Figure{Name: "heap, empty node", Value: empty.heap / (1 << 20), Unit: "MiB", Note: "go_memstats_heap_alloc_bytes after a forced GC"},
		report.Figure{Name: "RSS, empty node", Value: empty.rss / (1 << 20), Unit: "MiB"},
		report.Figure{Name: "heap with stored conversations", Value: stored.heap / (1 << 20), Unit: "MiB"},
		report.Figure{Name: "RSS with stored conversations", Value: stored.rss / (1 << 20), Unit: "MiB"},
		report.Figure{Name: "heap per stored conversation", Value: perStored, Unit: "bytes", Note: "(stored − empty) / stored conversations: a stored, passivated conversation lives in Pebble only"},
		report.Figure{Name: "conversation actors idle", Value: idle.actors, Unit: "actors", Note: fmt.Sprintf("woken by %d msg/s for %d s, answered and closed, not yet passivated", rate, secs)},
		report.Figure{Name: "heap per idle conversation actor", Value: perActor, Unit: "bytes", Note: "(idle − stored) / idle actors, after a forced GC"},
		report.Figure{Name: "RSS with idle actors", Value: idle.rss / (1 << 20), Unit: "MiB"},
		report.Figure{Name: "conversation actors trimmed", Value: trimmed.actors, Unit: "actors", Note: fmt.Sprintf("%v after the burst: idle for half of idle-after, their decoded conversations dropped", trimAt)},
		report.Figure{Name: "heap per trimmed conversation actor", Value: perTrimmed, Unit: "bytes", Note: "(trimmed − stored) / trimmed actors, after a forced GC"},
		report.Figure{Name: "conversation actors after passivation", Value: after.actors, Unit: "actors", Note: fmt.Sprintf("%v after the burst (idle-after %v)", s.idleAfter+15*time.Second, s.idleAfter)},
		report.Figure{Name: "heap after passivation", Value: after.heap / (1 << 20), Unit: "MiB"},
	)
	if err := e.saveHeapProfile("heap-after-passivation.pprof"); err != nil {
		e.log.Warn("heap profile", "err", err)
	}
	// An idle conversation's actor stays resident until idle-after, then is passivated (docs/design.md, invariant 8).
	// The aim is judged on the resident actor; what remains after passivation and what a stored conversation
	// costs are shown beside it.
	woken := idle.actors
	perWokenAfter := 0.0
	if woken > 0 {
		perWokenAfter = (after.heap - stored.heap) / woken
	}
	e.r.Figures = append(e.r.Figures, report.Figure{Name: "heap per woken conversation after passivation", Value: perWokenAfter,
		Unit: "bytes", Note: "(after passivation − stored) / woken: the high-water marks of the maps that held them (Go maps do not shrink)"})
	// The aim is judged on the actor a conversation keeps for most of its idle life: trimmed, from half of
	// idle-after until passivated.
	e.r.Aims = append(e.r.Aims, report.Aim{Name: "heap per idle conversation", Target: "≤ 1 KB",
		Measured: fmt.Sprintf("%.2f KB per idle conversation actor once trimmed (%.1f KB in its first half of idle-after); %.2f KB per woken conversation after passivation; %.1f B per stored conversation",
			perTrimmed/kb, perActor/kb, perWokenAfter/kb, perStored),
		Met: perTrimmed <= kb && perTrimmed > 0,
		Limit: limitIf(perTrimmed > kb, "a trimmed actor is mostly hollywood's own: its process, inbox, context, ids and registry entry, "+
			"and the tenant actor's child entry (bench/actors: about 1 KB for hollywood alone)")})
	return nil
}

func limitIf(cond bool, s string) string {
	if cond {
		return s
	}
	return ""
}

// saveHeapProfile writes the node's heap profile (after a GC) next to the report.
func (e *env) saveHeapProfile(name string) error {
	code, body, err := fasthttp.GetTimeout(nil, "http://"+e.node.pprof+"/debug/pprof/heap?gc=1", time.Minute)
	if err != nil || code != fasthttp.StatusOK {
		return fmt.Errorf("heap profile: %d %v", code, err)
	}
	dir := filepath.Join(e.cfg.Out, e.cfg.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name), body, 0o644)
}
