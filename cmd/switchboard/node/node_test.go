package node

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/eventually"
)

// logged keeps the messages of the records logged at error level.
type logged struct {
	mu     sync.Mutex
	errors []string
}

func (l *logged) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelError }
func (l *logged) WithAttrs([]slog.Attr) slog.Handler            { return l }
func (l *logged) WithGroup(string) slog.Handler                 { return l }
func (l *logged) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.errors = append(l.errors, r.Message)
	l.mu.Unlock()
	return nil
}

func (l *logged) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.errors)
}

// An analytics sink that stops early on a node with other roles is logged and leaves the node running: Run ends only
// when its context does, without the sink's error.
func TestSinkFailureDoesNotStopTheRouter(t *testing.T) {
	log := &logged{}
	n, err := New(context.Background(), Config{
		DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", EmbeddedKafkaAddr: "127.0.0.1:0", Partitions: 1,
		Roles:          []string{RoleRouter, RoleAnalytics},
		ClickHouseAddr: "127.0.0.1:1", // nothing listens: the sink retries its migration until it is closed
		Logger:         slog.New(log),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	if err := n.sink.Close(); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, 30*time.Second, 10*time.Millisecond, func() bool { return log.count() > 0 },
		"the sink's early stop is logged")
	select {
	case err := <-done:
		t.Fatalf("the node stopped with its sink: %v", err)
	default:
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil: the sink's end is not the node's", err)
	}
}
