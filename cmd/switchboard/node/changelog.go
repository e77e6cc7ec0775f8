package node

// The changelog (README, "Changelog"): with Config.Changelog a router node replicates its store's writes to
// switchboard.changelog and restores each partition it is assigned from it before consuming the partition.

import (
	"context"
	"fmt"

	"github.com/switchboard-hq/switchboard/actors/changelog"
	"github.com/switchboard-hq/switchboard/actors/changelog/kafkalog"
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
	n.changes, err = kafkalog.New(kafkalog.Config{Brokers: n.brokers, Partitions: parts, Registerer: n.reg, Logger: n.log})
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
		res, err := n.changes.Restore(ctx, n.store, partition, gen)
		if err != nil {
			return err
		}
		n.log.Info("partition restored from the changelog", "partition", partition, "generation", gen,
			"from", res.From, "to", res.To, "scratch", res.Scratch, "records", res.Records, "seeded", res.Seeded)
		if res.Records == 0 || n.sender == nil {
			return nil
		}
		// The restore wrote send jobs and recorded answers behind the sender's back.
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
