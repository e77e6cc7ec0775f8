// Package brokertest starts the embedded Kafka broker for tests: on loopback, with its topics created, closed when
// the test ends. Tests use it over TCP through kafka-go, as the node does.
//
// It imports only ingest/broker; only tests import it.
package brokertest

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/ingest/broker"
)

// Config says where the broker listens and what it holds.
type Config struct {
	// Addr is where it listens. Default "127.0.0.1:0" (a free port); give the previous Addr to restart a broker
	// where its clients expect it.
	Addr string
	// DataDir keeps its data across a restart. Default: a new temporary directory of the test.
	DataDir string
	// Partitions of each topic. Default 1.
	Partitions int
	// Topics to create.
	Topics []string
	// Sync fsyncs every produced batch, as a node does; for measurements that must include the fsync. Default
	// off: tests do not survive machine crashes.
	Sync bool
}

// Start starts the broker, without fsync unless cfg.Sync, creates the topics, and closes the broker when the test
// ends. It fails the test on any error.
func Start(t testing.TB, cfg Config) *broker.Embedded {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	if cfg.Partitions == 0 {
		cfg.Partitions = 1
	}
	b, err := broker.NewEmbedded(broker.Config{Addr: cfg.Addr, DataDir: cfg.DataDir, NoSync: !cfg.Sync,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := broker.EnsureTopics(ctx, []string{b.Addr()}, cfg.Partitions, 1, cfg.Topics...); err != nil {
		t.Fatal(err)
	}
	return b
}
