package node

// The changelog (README, "Changelog"): with Config.Changelog a router node replicates its store's writes to
// switchboard.changelog and restores each partition it is assigned from it before consuming the partition.

import (
	"context"
	"fmt"
	"time"

	"github.com/switchboard-hq/switchboard/actors/changelog"
	"github.com/switchboard-hq/switchboard/actors/changelog/kafkalog"
	"github.com/switchboard-hq/switchboard/actors/ownership"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/ingest/broker"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// startChangelog builds the replicator and gives it to the store config, with the inbox's partitioner.
func (n *Node) startChangelog(ctx context.Context, scfg *store.Config) error {
	parts, err := broker.Partitions(ctx, n.brokers, inbox.Topic)
	if err != nil {
		return err
	}
	if cl, err := broker.Partitions(ctx, n.brokers, changelog.Topic); err != nil {
		return err
	} else if cl != parts {
		return fmt.Errorf("%s has %d partitions and %s %d: they must be equal", changelog.Topic, cl, inbox.Topic, parts)
	}
	// The lease: two thirds of the session timeout past the last heartbeat the coordinator accepted. The coordinator
	// gives a silent member's partitions away a whole session timeout after its last heartbeat at the earliest.
	session := n.cfg.SessionTimeout
	if session == 0 {
		session = 6 * time.Second // the router's default
	}
	n.owner = ownership.New(parts, broker.Partitioner(parts), session*2/3)
	n.changes, err = kafkalog.New(kafkalog.Config{Brokers: n.brokers, Partitions: parts, Owner: n.owner,
		Registerer: n.reg, Logger: n.log})
	if err != nil {
		return err
	}
	scfg.Replicator = n.changes
	scfg.Partition = broker.Partitioner(parts)
	n.log.Info("changelog on", "topic", changelog.Topic, "partitions", parts)
	return nil
}

// restoreFunc is the router's Restore: nil without the changelog.
func (n *Node) restoreFunc() func(ctx context.Context, partition int, gen int32) error {
	if n.changes == nil {
		return nil
	}
	return func(ctx context.Context, partition int, gen int32) error {
		start := time.Now()
		res, err := n.changes.Restore(ctx, n.store, partition, gen)
		if err != nil {
			return err
		}
		n.log.Info("partition restored from the changelog", "partition", partition, "generation", gen,
			"from", res.From, "to", res.To, "scratch", res.Scratch, "records", res.Records, "seeded", res.Seeded,
			"fenced", res.Fenced, "took", time.Since(start))
		// The partition's tenants may be acted for from now: the relay reads the outbox again from its start (it
		// passed the partition's entries while another node owned it), and the sender queues their stored jobs
		// again (the restore wrote send jobs and recorded answers behind its back, or it dropped them from memory
		// when it lost the partition).
		n.owner.Activate(partition, gen)
		n.store.RewindOutbox()
		if n.relay != nil {
			n.relay.Notify()
		}
		if n.sender == nil {
			return nil
		}
		tenants, err := n.store.PartitionTenants(partition)
		if err != nil {
			return err
		}
		for _, t := range tenants {
			if err := n.sender.Rescan(ctx, t); err != nil {
				return fmt.Errorf("sender rescan of tenant %s: %w", t, err)
			}
		}
		return nil
	}
}
