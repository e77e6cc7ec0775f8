package broker

import (
	"context"
	"testing"
)

// EnsureTopics creates missing topics over TCP with kafka-go and leaves existing ones as they are; the broker's
// topics survive a restart on the same data dir.
func TestEnsureTopicsAndPersistence(t *testing.T) {
	dir := t.TempDir()
	e, err := NewEmbedded(Config{Addr: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	brokers := []string{e.Addr()}
	if err := EnsureTopics(ctx, brokers, 3, 1, "a", "b"); err != nil {
		t.Fatal(err)
	}
	if err := EnsureTopics(ctx, brokers, 7, 1, "a"); err != nil {
		t.Fatalf("second EnsureTopics: %v", err)
	}
	if n, err := Partitions(ctx, brokers, "a"); err != nil || n != 3 {
		t.Fatalf("partitions of a = %d, %v; want 3 (an existing topic keeps its count)", n, err)
	}
	addr := e.Addr()
	for i := range 2 { // Close is idempotent
		if err := e.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	e2, err := NewEmbedded(Config{Addr: addr, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	if n, err := Partitions(ctx, []string{e2.Addr()}, "b"); err != nil || n != 3 {
		t.Fatalf("after restart partitions of b = %d, %v; want 3", n, err)
	}
}

func TestNewEmbeddedBadAddr(t *testing.T) {
	if _, err := NewEmbedded(Config{Addr: "no-port"}); err == nil {
		t.Fatal("want an error for an address without a port")
	}
}
