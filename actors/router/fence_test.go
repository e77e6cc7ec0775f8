package router

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/switchboard-hq/switchboard/actors/changelog"
	"github.com/switchboard-hq/switchboard/actors/changelog/kafkalog"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/ownership"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/store/storetest"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/broker"
	"github.com/switchboard-hq/switchboard/ingest/broker/brokertest"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// fenceRestore is one call of the router's Restore in TestFencedWriteEndsTheGeneration.
type fenceRestore struct {
	part    int
	gen     int32
	scratch bool
}

// TestFencedWriteEndsTheGeneration: a router with the changelog (the real kafkalog replicator and ownership table, as
// a node with --changelog runs them) loses its tenant's partition from its table without knowing (as when its lease
// runs out while it is paused). Its next durable write is refused by the replicator's fence (ErrNotOwner): the
// router does not stop; it counts one fence, commits nothing of the refused record, forgets its checkpoints of every
// partition of the generation (both are restored from scratch next), joins again and consumes the refused record
// again, and the records after it.
func TestFencedWriteEndsTheGeneration(t *testing.T) {
	const parts, tn = 2, "acme"
	partOf := broker.Partitioner(parts)
	p := partOf(tn)
	b := brokertest.Start(t, brokertest.Config{Partitions: parts, Topics: []string{inbox.Topic, changelog.Topic}})
	brokers := []string{b.Addr()}
	quiet := slog.New(slog.DiscardHandler)
	const session = 2 * time.Second
	own := ownership.New(parts, partOf, session*2/3)
	repl, err := kafkalog.New(kafkalog.Config{Brokers: brokers, Partitions: parts, Owner: own, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = repl.Close() }) // after the store's Close (cleanups run last first), which waits for it
	st := storetest.Open(t, store.Config{Replicator: repl, Partition: partOf})
	dir, err := tenant.Parse([]byte("tenants:\n  - id: " + tn + "\n    channels:\n" +
		"      - {id: acme-wa, type: whatsapp, phone_number_id: \"acme-1\", app_secret: s, verify_token: v}\n"))
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var restores []fenceRestore
	release := make(chan struct{}) // the restores after the fence wait for it
	restore := func(ctx context.Context, part int, gen int32) error {
		res, err := repl.Restore(ctx, st, part, gen)
		if err != nil {
			return err
		}
		own.Activate(part, gen)
		mu.Lock()
		restores = append(restores, fenceRestore{part: part, gen: gen, scratch: res.Scratch})
		again := len(restores) > parts
		mu.Unlock()
		if again {
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}
	r, err := New(Config{Brokers: brokers, Store: st, Directory: tenant.NewDirectory(dir), Outcomes: outcome.NewRegistry(),
		SessionTimeout: session, RebalanceTimeout: session, CommitInterval: 20 * time.Millisecond,
		Registerer: prometheus.NewRegistry(), Logger: quiet, Ownership: own, Restore: restore})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background()) }()
	// running fails the test if Run returned: a fenced write must not stop the router.
	running := func() {
		t.Helper()
		select {
		case err := <-done:
			t.Fatalf("Run returned after a fenced write: %v", err)
		default:
		}
	}
	eventually.True(t, time.Minute, 10*time.Millisecond, r.Ready, "router ready")

	prod, err := broker.NewProducer(broker.ProducerConfig{Brokers: brokers})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = prod.Close() })
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 5 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// send produces customer from's message wamid to the tenant's partition.
	send := func(from, wamid string) {
		t.Helper()
		rec := inbox.Record{Tenant: tn, IngestAt: time.Now().UnixMilli(), Items: []inbox.Item{{Kind: inbox.KindMessage,
			Channel: "acme-wa", Message: &inbox.Message{ID: wamid, From: from, Type: "text", Timestamp: time.Now().Unix(),
				Text: "hello"}}}}
		if err := prod.Produce(ctx, []inbox.Record{rec}); err != nil {
			t.Fatal(err)
		}
	}
	committed := func() int64 {
		res, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: Group,
			Topics: map[string][]int{inbox.Topic: {p}}})
		if err != nil || res.Error != nil {
			return -2
		}
		for _, po := range res.Topics[inbox.Topic] {
			if po.Partition == p && po.Error == nil {
				return po.CommittedOffset
			}
		}
		return -2
	}
	stored := func(wamid string) bool {
		_, _, err := st.MessageRef(tn, wamid)
		return err == nil
	}

	send("15550001", "wamid.first")
	eventually.True(t, time.Minute, 10*time.Millisecond, func() bool { return committed() == 1 },
		"the first record committed")
	gen, ok := own.Owner(p)
	if !ok {
		t.Fatalf("partition %d not owned once consumed", p)
	}
	// The node loses the partition without knowing: its writes for it are refused from now on.
	own.Revoke(p, gen)
	send("15550002", "wamid.refused")
	eventually.True(t, time.Minute, 10*time.Millisecond, func() bool {
		running()
		return testutil.ToFloat64(r.metrics.fences) == 1
	}, "one fence counted")
	var again []fenceRestore
	eventually.True(t, time.Minute, 10*time.Millisecond, func() bool {
		mu.Lock()
		defer mu.Unlock()
		if len(restores) < 2*parts {
			return false
		}
		again = restores[parts:]
		return true
	}, "both partitions assigned again")
	// The new generation waits in its restores: nothing is consumed, and nothing of the refused record was committed.
	if c := committed(); c != 1 {
		t.Errorf("committed offset %d while the refused record (offset 1) was never durable, want 1", c)
	}
	running()
	for _, rs := range again {
		if rs.gen <= gen {
			t.Errorf("partition %d restored again in generation %d, want a generation after %d", rs.part, rs.gen, gen)
		}
		// The partition that was not revoked was stopped cleanly: only the fence makes its next restore start
		// from scratch.
		if !rs.scratch {
			t.Errorf("partition %d restored from its checkpoint after the fence, want from scratch", rs.part)
		}
	}
	close(release)

	send("15550003", "wamid.later")
	eventually.True(t, time.Minute, 10*time.Millisecond, func() bool { return committed() == 3 },
		"the refused record and the next one committed after the rejoin")
	for _, w := range []string{"wamid.first", "wamid.refused", "wamid.later"} {
		if !stored(w) {
			t.Errorf("message %s not in the store after the rejoin", w)
		}
	}
	if n := testutil.ToFloat64(r.metrics.fences); n != 1 {
		t.Errorf("switchboard_router_fences_total = %v, want 1", n)
	}
	if n := testutil.ToFloat64(r.metrics.revoked.WithLabelValues("lease_expired")); n != 1 {
		t.Errorf("partitions revoked as lease_expired = %v, want 1 (the revoked partition)", n)
	}
	running()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run after Close = %v, want nil", err)
	}
}
