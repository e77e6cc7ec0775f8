// Package broker runs the embedded Kafka-protocol broker (kfake from the franz-go module) that a node uses when no
// external cluster is configured, and creates the topics Switchboard needs on whichever broker it talks to. Either
// way the rest of the node speaks to Kafka through kafka-go over TCP, so one code path runs everywhere.
//
// It may import kafka-go, kfake (franz-go), the Prometheus client and the record leaf ingest/inbox.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// Config configures the embedded broker.
type Config struct {
	// Addr is where the broker listens. Default 127.0.0.1:9092; port 0 picks a free port.
	Addr string
	// DataDir holds the broker's segments, topics and group offsets. Empty keeps everything in memory (tests only:
	// memory then grows without limit).
	DataDir string
	// NoSync turns off the fsync of every produced batch. The default (false) syncs, so an acknowledged record
	// survives a machine crash, not only a killed process.
	NoSync bool
	// SessionTimeoutMin is the smallest consumer group session timeout the broker accepts. 0 means 1 s, so tests
	// and restarts see a dead member go quickly.
	SessionTimeoutMin time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:9092"
	}
	if c.SessionTimeoutMin == 0 {
		c.SessionTimeoutMin = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports a config that cannot work.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("embedded kafka address %q: %w", c.Addr, err)
	}
	if c.SessionTimeoutMin < 0 {
		return errors.New("embedded kafka: negative SessionTimeoutMin")
	}
	return nil
}

// Embedded is a running embedded broker. It serves on kfake's own goroutines from NewEmbedded until Close, so it has
// no Run: there is nothing for a caller to block on. Addr and Close are safe for concurrent use.
type Embedded struct {
	cluster *kfake.Cluster
	addr    string
}

// NewEmbedded starts the broker and returns once it accepts connections on cfg.Addr; Close stops it.
func NewEmbedded(cfg Config) (*Embedded, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(cfg.Addr)
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) { return net.Listen(network, cfg.Addr) }),
		kfake.GroupMinSessionTimeout(cfg.SessionTimeoutMin),
		kfake.ClusterID("switchboard-embedded"),
		// The broker keeps records in memory as well as in DataDir; retention (EmbeddedTopicConfig) only frees
		// them when its cleaner runs.
		kfake.BrokerConfigs(map[string]string{"log.cleaner.backoff.ms": "60000"}),
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir))
		if !cfg.NoSync {
			opts = append(opts, kfake.SyncWrites())
		}
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded kafka on %s: %w", cfg.Addr, err)
	}
	addrs := c.ListenAddrs()
	if len(addrs) != 1 {
		c.Close()
		return nil, fmt.Errorf("BUG: embedded kafka listens on %v", addrs)
	}
	_, port, _ := net.SplitHostPort(addrs[0])
	return &Embedded{cluster: c, addr: net.JoinHostPort(host, port)}, nil
}

// Addr is the broker's host:port.
func (e *Embedded) Addr() string { return e.addr }

// Close stops the broker: it stops listening, closes its clients' connections and, with a data directory, persists
// its state there. It is idempotent and safe for concurrent use (kfake ignores every call after the first); it
// returns nil, since kfake reports no error from a stop.
func (e *Embedded) Close() error {
	e.cluster.Close()
	return nil
}

// EmbeddedTopicConfig is the retention the embedded broker's topics are created with: a day, and at most 256 MiB
// per partition. The embedded broker holds its records in memory, so without retention a long-running node's memory
// would grow with everything it ever received. A consumer more than a day or 256 MiB per partition behind would
// lose records, so a production deployment uses a real cluster.
var EmbeddedTopicConfig = map[string]string{"retention.ms": "86400000", "retention.bytes": "268435456"}

// EnsureTopics creates each topic with the given partition count and replication factor unless it exists already.
// An existing topic keeps its partition count.
func EnsureTopics(ctx context.Context, brokers []string, partitions, replication int, topics ...string) error {
	return EnsureTopicsWith(ctx, brokers, partitions, replication, nil, topics...)
}

// EnsureTopicsWith is EnsureTopics with topic configs (e.g. EmbeddedTopicConfig) for the topics it creates.
func EnsureTopicsWith(ctx context.Context, brokers []string, partitions, replication int, configs map[string]string, topics ...string) error {
	if len(brokers) == 0 {
		return errors.New("ensure topics: no brokers")
	}
	d := kafka.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", brokers[0])
	if err != nil {
		return fmt.Errorf("ensure topics: dial %s: %w", brokers[0], err)
	}
	defer conn.Close()
	ctrl, err := conn.Controller()
	if err != nil {
		return fmt.Errorf("ensure topics: find controller: %w", err)
	}
	cc := conn
	if addr := net.JoinHostPort(ctrl.Host, strconv.Itoa(ctrl.Port)); addr != conn.RemoteAddr().String() {
		if cc, err = d.DialContext(ctx, "tcp", addr); err != nil {
			return fmt.Errorf("ensure topics: dial controller %s: %w", addr, err)
		}
		defer cc.Close()
	}
	for _, t := range topics {
		tc := kafka.TopicConfig{Topic: t, NumPartitions: partitions, ReplicationFactor: replication}
		for k, v := range configs {
			tc.ConfigEntries = append(tc.ConfigEntries, kafka.ConfigEntry{ConfigName: k, ConfigValue: v})
		}
		err := cc.CreateTopics(tc)
		if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", t, err)
		}
	}
	return nil
}

// Partitions returns the partition count of topic.
func Partitions(ctx context.Context, brokers []string, topic string) (int, error) {
	d := kafka.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", brokers[0])
	if err != nil {
		return 0, fmt.Errorf("dial %s: %w", brokers[0], err)
	}
	defer conn.Close()
	ps, err := conn.ReadPartitions(topic)
	if err != nil {
		return 0, fmt.Errorf("read partitions of %s: %w", topic, err)
	}
	return len(ps), nil
}
