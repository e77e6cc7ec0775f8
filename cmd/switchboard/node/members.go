package node

// Several nodes (README, "Several nodes"): each router node publishes what it owns to switchboard.members and every
// node folds that topic into its owner table, which the API forwards by.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/switchboard-hq/switchboard/api"
	"github.com/switchboard-hq/switchboard/api/cluster"
	"github.com/switchboard-hq/switchboard/ingest/broker"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// Membership timings: a node republishes its record every memberHeartbeat; a record older than memberTTL claims
// nothing (a node that stopped without a successor's newer generation taking its partitions over).
const (
	memberHeartbeat = 5 * time.Second
	memberTTL       = 20 * time.Second
)

// DefaultAdvertiseURL is the API base URL other nodes reach this one at, from its --http-addr: http://host:port,
// with the machine's host name for an unspecified host (0.0.0.0, ::, empty).
func DefaultAdvertiseURL(httpAddr string) string {
	host, port, err := net.SplitHostPort(httpAddr)
	if err != nil {
		return "http://" + httpAddr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if h, err := os.Hostname(); err == nil {
			host = h
		}
	}
	return "http://" + net.JoinHostPort(host, port)
}

// members publishes this node's ownership and keeps the owner table.
type members struct {
	self   cluster.Member // Node and URL
	table  *cluster.Table
	part   func(tenant string) int
	log    *slog.Logger
	writer *kafka.Writer
	reader *kafka.Reader

	mu    sync.Mutex
	owned map[int]int32 // partition → the generation this node owns it in
	dirty chan struct{}
}

func newMembers(ctx context.Context, brokers []string, advertise string, log *slog.Logger) (*members, error) {
	u, err := url.Parse(advertise)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("advertise-url: %q must be http(s)://host:port", advertise)
	}
	n, err := broker.Partitions(ctx, brokers, inbox.Topic)
	if err != nil {
		return nil, err
	}
	base := u.Scheme + "://" + u.Host
	m := &members{self: cluster.Member{Node: base, URL: base}, table: cluster.NewTable(memberTTL, nil),
		part: broker.Partitioner(n), log: log.With("component", "members"), owned: map[int]int32{},
		dirty: make(chan struct{}, 1),
		writer: &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: cluster.Topic, Balancer: &kafka.Murmur2Balancer{},
			RequiredAcks: kafka.RequireAll, BatchTimeout: 2 * time.Millisecond, WriteTimeout: 10 * time.Second},
		reader: kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: cluster.Topic, Partition: 0,
			MinBytes: 1, MaxBytes: 1 << 20, MaxWait: inbox.FetchWait(250 * time.Millisecond)})}
	if err := m.reader.SetOffset(kafka.FirstOffset); err != nil {
		return nil, fmt.Errorf("read %s: %w", cluster.Topic, err)
	}
	return m, nil
}

// restoreHook wraps the router's Restore: once a partition is restored it is owned until its context (the
// partition's, which ends when the partition is revoked or the router stops) ends.
func (m *members) restoreHook(inner func(ctx context.Context, partition int, gen int32) error) func(ctx context.Context, partition int, gen int32) error {
	return func(ctx context.Context, p int, gen int32) error {
		if inner != nil {
			if err := inner(ctx, p, gen); err != nil {
				return err
			}
		}
		m.mu.Lock()
		m.owned[p] = gen
		m.mu.Unlock()
		m.touch()
		context.AfterFunc(ctx, func() {
			m.mu.Lock()
			if m.owned[p] == gen {
				delete(m.owned, p)
			}
			m.mu.Unlock()
			m.touch()
		})
		return nil
	}
}

func (m *members) touch() {
	select {
	case m.dirty <- struct{}{}:
	default:
	}
}

// Owns reports whether this node owns tenant's partition now.
func (m *members) Owns(tenant string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.owned[m.part(tenant)]
	return ok
}

// Owner is tenant's partition's owner in the table.
func (m *members) Owner(tenant string) (cluster.Owner, bool) { return m.table.Owner(m.part(tenant)) }

func (m *members) record() cluster.Member {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.self
	r.Partitions = slices.Sorted(maps.Keys(m.owned))
	for _, g := range m.owned {
		r.Generation = max(r.Generation, g)
	}
	r.At = time.Now()
	return r
}

// publish writes the record now.
func (m *members) publish(ctx context.Context) error {
	r := m.record()
	return m.writer.WriteMessages(ctx, kafka.Message{Key: []byte(r.Node), Value: r.Encode()})
}

// RunPublish publishes at every change of ownership (batched over 50 ms) and every memberHeartbeat, and a record
// owning nothing when it stops.
func (m *members) RunPublish(ctx context.Context) error {
	t := time.NewTicker(memberHeartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			// Owning nothing: the others stop forwarding here at once rather than after memberTTL.
			m.mu.Lock()
			clear(m.owned)
			m.mu.Unlock()
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			err := m.publish(sctx)
			cancel()
			if err != nil {
				m.log.Warn("publish the last membership record", "err", err)
			}
			return nil
		case <-m.dirty:
			select {
			case <-time.After(50 * time.Millisecond):
			case <-ctx.Done():
				continue
			}
		case <-t.C:
		}
		if err := m.publish(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("publish membership record", "err", err) // retried at the next heartbeat
		}
	}
}

// RunRead folds switchboard.members into the table until ctx ends.
func (m *members) RunRead(ctx context.Context) error {
	for {
		msg, err := m.reader.ReadMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, context.DeadlineExceeded) {
				continue
			}
			return fmt.Errorf("read %s: %w", cluster.Topic, err)
		}
		if msg.Value == nil {
			m.table.Remove(string(msg.Key))
			continue
		}
		rec, err := cluster.DecodeMember(msg.Value)
		if err != nil {
			m.log.Warn("membership record skipped", "offset", msg.Offset, "err", err)
			continue
		}
		m.table.Update(rec)
	}
}

// Close releases the writer and the reader.
func (m *members) Close() error {
	return errors.Join(m.writer.Close(), m.reader.Close())
}

// clusterConfig is the API's forwarding configuration over m.
func (m *members) clusterConfig(secret string) *api.ClusterConfig {
	return &api.ClusterConfig{Node: m.self.Node, Secret: []byte(secret), Owner: m.Owner, Owns: m.Owns,
		Changed: m.table.Changed}
}

// ownedHook is the router's Restore: inner (the changelog's, or nil), and with a cluster secret the ownership this
// node publishes.
func (n *Node) ownedHook(inner func(ctx context.Context, partition int, gen int32) error) func(ctx context.Context, partition int, gen int32) error {
	if n.members == nil {
		return inner
	}
	return n.members.restoreHook(inner)
}
