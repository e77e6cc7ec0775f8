package node

// The configuration watcher: every node reads the whole switchboard.config topic (no consumer group) into its live
// directory, so ingest (signatures, phone numbers), the API (tokens, roles) and the router see the same configuration
// and its changes without a restart. At start it catches up to the topic's end before the node serves, and seeds the
// tenants of the YAML file that the topic does not hold yet; for those it holds, the topic wins, and every difference
// from the YAML file is logged once.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/switchboard-hq/switchboard/actors/changelog"
	"github.com/switchboard-hq/switchboard/actors/changelog/kafkalog"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/api/cluster"
	"github.com/switchboard-hq/switchboard/ingest/broker"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// configTopicConfig is how switchboard.config is created: compacted (the latest record of each key is the
// configuration) and never deleted by time or size, unlike the embedded broker's other topics.
var configTopicConfig = map[string]string{"cleanup.policy": "compact"}

// CreateTopics creates the topics a node needs on brokers unless they exist: switchboard.inbox and
// switchboard.events with the given partitions, switchboard.config (one partition, compacted) and
// switchboard.changelog (compacted, as many partitions as the inbox: kafkalog.TopicConfig), switchboard.members (one
// partition, compacted: README, "Several nodes"). With embedded,
// the inbox and events topics get the embedded broker's retention (broker.EmbeddedTopicConfig): a broker that is not
// a real cluster keeps its records in memory too. `switchboard serve` and `switchboard broker` both call it, so a
// broker run as its own process has the same topics as a node's embedded one.
func CreateTopics(ctx context.Context, brokers []string, partitions, replication int, embedded bool) error {
	var retention map[string]string
	if embedded {
		retention = broker.EmbeddedTopicConfig
	}
	if err := broker.EnsureTopicsWith(ctx, brokers, partitions, replication, retention, inbox.Topic, inbox.EventsTopic); err != nil {
		return err
	}
	// The changelog follows the inbox's partitions, which an existing inbox may have other than partitions.
	n, err := broker.Partitions(ctx, brokers, inbox.Topic)
	if err != nil {
		return err
	}
	if err := broker.EnsureTopicsWith(ctx, brokers, n, replication, kafkalog.TopicConfig, changelog.Topic); err != nil {
		return err
	}
	// The configuration and the membership records (README, "Several nodes"): one partition each, compacted.
	return broker.EnsureTopicsWith(ctx, brokers, 1, replication, configTopicConfig, tenant.ConfigTopic, cluster.Topic)
}

// configWatcher keeps a Directory equal to what the configuration topic says.
type configWatcher struct {
	brokers []string
	dir     *tenant.Directory
	log     *slog.Logger

	mu     sync.Mutex // guards fold and next between catch-up and Run
	fold   *tenant.Fold
	next   int64 // the offset of the next record to read
	reader *kafka.Reader

	closeOnce sync.Once
	closeErr  error

	applied prometheus.Counter
	offset  prometheus.Gauge
}

func newConfigWatcher(brokers []string, dir *tenant.Directory, reg prometheus.Registerer, log *slog.Logger) (*configWatcher, error) {
	w := &configWatcher{brokers: brokers, dir: dir, log: log, fold: tenant.NewFold(),
		applied: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_config_records_applied_total",
			Help: "Records of switchboard.config this node applied to its directory.",
		}),
		offset: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_config_applied_offset",
			Help: "The offset of the last switchboard.config record this node applied (-1 before any).",
		}),
	}
	w.offset.Set(-1)
	for _, c := range []prometheus.Collector{w.applied, w.offset} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("config watcher metrics: %w", err)
		}
	}
	return w, nil
}

// end returns the topic's high-water mark: the offset the next record will get.
func (w *configWatcher) end(ctx context.Context) (int64, error) {
	c := &kafka.Client{Addr: kafka.TCP(w.brokers...), Timeout: 10 * time.Second}
	res, err := c.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{
		tenant.ConfigTopic: {kafka.LastOffsetOf(0)}}})
	if err != nil {
		return 0, fmt.Errorf("read the end of %s: %w", tenant.ConfigTopic, err)
	}
	ps := res.Topics[tenant.ConfigTopic]
	if len(ps) != 1 {
		return 0, fmt.Errorf("read the end of %s: %d partitions answered", tenant.ConfigTopic, len(ps))
	}
	if ps[0].Error != nil {
		return 0, fmt.Errorf("read the end of %s: %w", tenant.ConfigTopic, ps[0].Error)
	}
	return ps[0].LastOffset, nil
}

// catchUp reads the topic up to its current end and replaces the directory's configuration once with what it read.
func (w *configWatcher) catchUp(ctx context.Context) error {
	end, err := w.end(ctx)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.reader == nil {
		w.reader = kafka.NewReader(kafka.ReaderConfig{Brokers: w.brokers, Topic: tenant.ConfigTopic, Partition: 0,
			MinBytes: 1, MaxBytes: 10 << 20, MaxWait: inbox.FetchWait(250 * time.Millisecond)})
		if err := w.reader.SetOffset(kafka.FirstOffset); err != nil {
			return fmt.Errorf("read %s: %w", tenant.ConfigTopic, err)
		}
	}
	n := 0
	for w.next < end {
		m, err := w.reader.ReadMessage(ctx)
		if err != nil {
			return fmt.Errorf("read %s up to offset %d: %w", tenant.ConfigTopic, end, err)
		}
		w.add(m)
		n++
	}
	if n > 0 {
		w.publish()
	}
	return nil
}

// add folds one message in (under mu).
func (w *configWatcher) add(m kafka.Message) {
	w.next = m.Offset + 1
	w.offset.Set(float64(m.Offset))
	var r tenant.Record
	if err := json.Unmarshal(m.Value, &r); err != nil || r.Tenant == "" || r.Key() != string(m.Key) {
		w.log.Error("config: skipping a record that does not decode or whose key is not its item's",
			"offset", m.Offset, "key", string(m.Key), "err", err)
		return
	}
	w.fold.Add(r)
	w.applied.Inc()
}

// publish makes the fold the directory's configuration (under mu).
func (w *configWatcher) publish() {
	c := w.fold.Config()
	if err := c.Validate(); err != nil {
		// A node never refuses the topic: every node must agree on the configuration. The change that made this
		// was accepted by its tenant's rule, so what conflicts is across tenants (a phone number id twice).
		w.log.Error("config: the configuration topic holds an invalid configuration; applied anyway", "err", err)
	}
	w.dir.Replace(c)
}

// seed produces the records of every tenant of yaml that the topic does not hold, then catches up again so the
// directory has them. For a tenant the topic holds, it logs each difference from yaml once: the topic wins.
func (w *configWatcher) seed(ctx context.Context, yaml *tenant.Config, producer func(context.Context, []kafka.Message) error) error {
	if yaml == nil {
		return nil
	}
	now := time.Now().UTC()
	var msgs []kafka.Message
	w.mu.Lock()
	for i := range yaml.Tenants {
		y := &yaml.Tenants[i]
		if !w.fold.Has(y.ID) {
			recs := tenant.Records(y, 0, now)
			for j := range recs {
				recs[j].Version, recs[j].Seed = uint64(j+1), true
				v, err := json.Marshal(&recs[j])
				if err != nil {
					w.mu.Unlock()
					return fmt.Errorf("encode seed of tenant %s: %w", y.ID, err)
				}
				msgs = append(msgs, kafka.Message{Key: []byte(recs[j].Key()), Value: v})
			}
			w.log.Info("config: seeding tenant from the YAML file", "tenant", y.ID, "records", len(recs))
			continue
		}
		topic, _ := w.fold.Tenant(y.ID)
		for _, d := range tenant.Diff(y, topic, func(kind, id string) time.Time { return w.fold.At(y.ID, kind, id) }) {
			w.log.Warn(fmt.Sprintf("config: tenant %s %s %s: YAML says %s, the configuration topic says %s (changed at %s); "+
				"the topic wins — use the API to change it", y.ID, d.Item, d.Field, d.YAML, d.Topic,
				d.At.Format(time.RFC3339)), "tenant", y.ID, "item", d.Item, "field", d.Field)
		}
	}
	w.mu.Unlock()
	if len(msgs) == 0 {
		return nil
	}
	if err := producer(ctx, msgs); err != nil {
		return fmt.Errorf("seed %s: %w", tenant.ConfigTopic, err)
	}
	return w.catchUp(ctx)
}

// Run applies the records that arrive until ctx ends.
func (w *configWatcher) Run(ctx context.Context) error {
	w.mu.Lock()
	r := w.reader
	w.mu.Unlock()
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, io.EOF) {
				return errors.New("config watcher: reader closed")
			}
			w.log.Warn("config: read switchboard.config; retrying", "err", err)
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
				return nil
			}
			continue
		}
		w.mu.Lock()
		w.add(m)
		w.publish()
		w.mu.Unlock()
	}
}

// Close releases the reader; call it after Run returned.
func (w *configWatcher) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closeOnce.Do(func() {
		if w.reader != nil {
			w.closeErr = w.reader.Close()
		}
	})
	return w.closeErr
}

// startConfig catches the directory up with switchboard.config (CreateTopics made it) and seeds the YAML file's new tenants.
func (n *Node) startConfig(ctx context.Context) error {
	phase := time.Now()
	w, err := newConfigWatcher(n.brokers, n.dir, n.reg, n.log)
	if err != nil {
		return err
	}
	n.config = w
	if err := w.catchUp(ctx); err != nil {
		return err
	}
	writer := &kafka.Writer{Addr: kafka.TCP(n.brokers...), Topic: tenant.ConfigTopic, Balancer: &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: 2 * time.Millisecond, WriteTimeout: 10 * time.Second}
	defer writer.Close()
	if err := w.seed(ctx, n.cfg.Tenants, func(ctx context.Context, m []kafka.Message) error {
		return writer.WriteMessages(ctx, m...)
	}); err != nil {
		return err
	}
	n.cfg.Tenants.ForgetTokens()
	n.log.Info("configuration caught up", "topic", tenant.ConfigTopic, "tenants", len(n.dir.Tenants()),
		"took", time.Since(phase))
	return nil
}
