package scenario

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/switchboard-hq/switchboard/bench/load"
	"github.com/switchboard-hq/switchboard/bench/report"
)

// recovery kills the node with SIGKILL under load over Conversations stored conversations and restarts it at once,
// as a supervisor would; the generator goes on like Meta (webhooks not answered 200 are sent again). It measures
// the restart to /readyz, to the first assignment, and to caught up (consumer lag below a tenth of a second of
// input).
func recovery(ctx context.Context, e *env) error {
	n := e.cfg.Conversations
	tenants, err := e.up(ctx, shapes["recovery"], func(dataDir string) error {
		ts, _ := tenantsConfig(shapes["recovery"])
		e.log.Info("seeding stored conversations", "n", n)
		return seedClosed(ctx, dataDir, ts, n)
	})
	if err != nil {
		return err
	}
	e.r.Config["stored_conversations"] = n
	const rate = 1000.0
	killAfter := 15 * time.Second
	var (
		mu                                  sync.Mutex
		killAt, restartAt, readyAt, firstAt time.Time
		caughtAt                            time.Time
		restartErr                          error
	)
	watch := func(ctx context.Context) {
		select {
		case <-time.After(killAfter):
		case <-ctx.Done():
			return
		}
		mu.Lock()
		killAt = time.Now()
		e.node.kill()
		restartAt = time.Now()
		mu.Unlock()
		e.log.Info("node killed with SIGKILL; restarting")
		err := e.node.start(ctx, 5*time.Minute)
		mu.Lock()
		readyAt, restartErr = time.Now(), err
		mu.Unlock()
		if err != nil {
			return
		}
		// The new process counts its own events from zero: its first assignment and its catching up.
		assigned := `switchboard_events_total{type="conversation.assigned"}`
		for ctx.Err() == nil {
			v, err := load.Metrics(e.node.url()+"/metrics", assigned, "switchboard_consumer_lag", "switchboard_records_fetched_total")
			now := time.Now()
			if err == nil {
				mu.Lock()
				if firstAt.IsZero() && v[0] > 0 {
					firstAt = now
				}
				if caughtAt.IsZero() && !firstAt.IsZero() && v[2] > 0 && v[1] < rate/10 {
					caughtAt = now
				}
				done := !caughtAt.IsZero()
				mu.Unlock()
				if done {
					return
				}
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { watch(wctx) })
	_, err = e.drive(ctx, tenants, []load.Step{{Rate: rate, Duration: 40 * time.Second}}, func(c *load.Config) {
		c.RetryWebhooks, c.Drain, c.Contacts = true, 10*time.Second, n/len(tenants)
	})
	cancel()
	wg.Wait()
	if err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	if restartErr != nil {
		return fmt.Errorf("restart after kill -9: %w", restartErr)
	}
	secs := func(a, b time.Time) float64 {
		if a.IsZero() || b.IsZero() {
			return -1
		}
		return b.Sub(a).Seconds()
	}
	e.r.Figures = append(e.r.Figures,
		report.Figure{Name: "kill -9 → restart", Value: secs(killAt, restartAt), Unit: "s", Note: fmt.Sprintf("SIGKILL %v into %.0f msg/s of load", killAfter, rate)},
		report.Figure{Name: "restart → ready", Value: secs(restartAt, readyAt), Unit: "s", Note: "process start → /readyz 200 (store open, broker up, consumer group joined)"},
		report.Figure{Name: "restart → first assignment", Value: secs(restartAt, firstAt), Unit: "s", Note: "first conversation.assigned event written by the new process"},
		report.Figure{Name: "restart → caught up", Value: secs(restartAt, caughtAt), Unit: "s", Note: fmt.Sprintf("consumer lag below %.0f records (a tenth of a second of input)", rate/10)},
	)
	first := secs(restartAt, firstAt)
	e.r.Aims = append(e.r.Aims, report.Aim{Name: "first assignment after kill -9", Target: fmt.Sprintf("≤ 3 s with %d stored conversations", n),
		Measured: fmt.Sprintf("%.2f s (ready after %.2f s)", first, secs(restartAt, readyAt)), Met: first >= 0 && first <= 3,
		Limit: limitIf(first < 0 || first > 3, "restart: Pebble open, the embedded broker's recovery, the consumer group's join and the dispatcher's rebuild")})
	return nil
}
