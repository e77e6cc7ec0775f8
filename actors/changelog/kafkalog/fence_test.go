package kafkalog

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/actors/ownership"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/ingest/broker"
)

// availability returns tenant's operators' availabilities in s.
func availability(t *testing.T, s *store.Store, tenant string) map[string]string {
	t.Helper()
	ops, err := s.Operators(tenant)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, o := range ops {
		got[o.ID] = o.Availability
	}
	return got
}

func putOperator(t *testing.T, s *store.Store, tenant, id, availability string) {
	t.Helper()
	commit(t, s, func(b *store.Batch) error {
		return b.PutOperator(tenant, &store.OperatorState{ID: id, Availability: availability})
	})
}

// TestRestoreIgnoresAStaleOwnersWrites: node A owns a partition in generation 5; node B is assigned it in generation
// 7 and writes its fence; A, a stale owner that does not know yet (its request already in flight), writes after the
// fence. A third node's restore ignores A's late writes and keeps B's; without the fence rule it would take them.
func TestRestoreIgnoresAStaleOwnersWrites(t *testing.T) {
	brokers := startBroker(t)
	const tenant = "tenant-0"
	p := broker.Partitioner(partitions)(tenant)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	rA := newReplicator(t, brokers)
	sA := openStore(t, t.TempDir(), rA)
	if _, err := rA.Restore(ctx, sA, p, 5); err != nil {
		t.Fatal(err)
	}
	putOperator(t, sA, tenant, "op1", "online")

	rB := newReplicator(t, brokers)
	sB := openStore(t, t.TempDir(), rB)
	res, err := rB.Restore(ctx, sB, p, 7)
	if err != nil {
		t.Fatal(err)
	}
	if got := availability(t, sB, tenant); got["op1"] != "online" {
		t.Fatalf("B restored %v, want op1 online", got)
	}
	putOperator(t, sA, tenant, "op1", "away") // the stale owner, after B's fence
	putOperator(t, sA, tenant, "op9", "online")
	putOperator(t, sB, tenant, "op2", "online")

	rC := newReplicator(t, brokers)
	sC := openStore(t, t.TempDir(), rC)
	resC, err := rC.Restore(ctx, sC, p, 9)
	if err != nil {
		t.Fatal(err)
	}
	got := availability(t, sC, tenant)
	if got["op1"] != "online" || got["op2"] != "online" || got["op9"] != "" {
		t.Errorf("C restored %v, want op1 and op2 online and no op9 (written by generation 5 after generation 7's fence at %d)",
			got, res.Fence)
	}
	if resC.Fenced != 2 || resC.Fence <= res.Fence {
		t.Errorf("C's restore %+v, want 2 records fenced and its own fence after %d", resC, res.Fence)
	}
}

// TestReplicatorRefusesAPartitionItLost: with an ownership table, a write of a partition the node owns is
// replicated; once the partition is revoked, or its lease expired (a node paused past its session), the next write
// fails with ErrNotOwner instead of reaching the changelog, and the store forgets it holds the partition in full.
func TestReplicatorRefusesAPartitionItLost(t *testing.T) {
	brokers := startBroker(t)
	const tenant = "tenant-0"
	partOf := broker.Partitioner(partitions)
	p := partOf(tenant)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, how := range []string{"revoked", "lease expired"} {
		lease := time.Minute
		if how == "lease expired" {
			lease = 200 * time.Millisecond
		}
		own := ownership.New(partitions, partOf, lease)
		r := newReplicatorConfig(t, Config{Brokers: brokers, Owner: own})
		s := openStore(t, t.TempDir(), r)
		own.Grant(p, 3)
		if _, err := r.Restore(ctx, s, p, 3); err != nil {
			t.Fatal(err)
		}
		if how == "lease expired" {
			own.Renew(3, time.Now()) // a heartbeat accepted: the lease holds for a while past it
		}
		putOperator(t, s, tenant, "op1", "online")
		if _, ok := s.Checkpoint(p); !ok {
			t.Fatalf("%s: no checkpoint after the restore", how)
		}
		if how == "revoked" {
			own.Revoke(p, 3)
		} else {
			eventually.True(t, 10*time.Second, 20*time.Millisecond, func() bool { _, ok := own.Owner(p); return !ok }, "the lease to expire")
		}
		b := s.NewBatch()
		if err := b.PutOperator(tenant, &store.OperatorState{ID: "op1", Availability: "away"}); err != nil {
			t.Fatal(err)
		}
		synced := make(chan error, 1)
		if err := s.Commit(b, func(err error) { synced <- err }); err != nil {
			t.Fatal(err)
		}
		err := <-synced
		if !errors.Is(err, ownership.ErrNotOwner) && (err == nil || !strings.Contains(err.Error(), ownership.ErrNotOwner.Error())) {
			t.Errorf("%s: a write after the partition was lost: %v, want %v", how, err, ownership.ErrNotOwner)
		}
		if _, ok := s.Checkpoint(p); ok {
			t.Errorf("%s: the store still claims to hold partition %d in full", how, p)
		}
	}
}
