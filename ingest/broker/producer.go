package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// ProducerConfig configures a Producer of switchboard.inbox records.
type ProducerConfig struct {
	// Brokers are the bootstrap addresses. Required.
	Brokers []string
	// Topic is where records go. Default Topic (switchboard.inbox).
	Topic string
	// BatchTimeout is how long the writer waits to fill a batch. Default 2 ms (kafka-go's own default, 1 s, would
	// make every webhook wait a second).
	BatchTimeout time.Duration
	// BatchSize is the most records in one produce request per partition. Default 256.
	BatchSize int
	// Registerer receives the producer's metrics; nil keeps them unregistered.
	Registerer prometheus.Registerer
	// Format is the wire form of the records: inbox.FormatBinary (the default) or inbox.FormatJSON, which router
	// nodes before the binary layout read; they skip a binary record as undecodable. A rolling upgrade therefore
	// produces JSON until every router node runs a release that reads binary (README, "Upgrading").
	Format inbox.Format
}

func (c *ProducerConfig) setDefaults() {
	if c.Topic == "" {
		c.Topic = inbox.Topic
	}
	if c.BatchTimeout == 0 {
		c.BatchTimeout = 2 * time.Millisecond
	}
	if c.BatchSize == 0 {
		c.BatchSize = 256
	}
	if c.Format == "" {
		c.Format = inbox.FormatBinary
	}
}

// Validate reports a config that cannot work.
func (c *ProducerConfig) Validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("inbox producer: no brokers")
	}
	if err := c.Format.Validate(); err != nil {
		return fmt.Errorf("inbox producer: %w", err)
	}
	return nil
}

// Producer writes records keyed by tenant with acks=all. It is safe for concurrent use; concurrent callers share
// produce requests.
type Producer struct {
	w       *kafka.Writer
	format  inbox.Format
	seconds *prometheus.HistogramVec
	// observer is the seconds of the writer's topic, resolved on first use (its series appears with the first
	// produce, as before it was kept).
	observer func() prometheus.Observer
	errors   prometheus.Counter
}

// NewProducer builds a producer; it connects lazily.
func NewProducer(cfg ProducerConfig) (*Producer, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Producer{
		format: cfg.Format,
		w: &kafka.Writer{
			Addr:            kafka.TCP(cfg.Brokers...),
			Topic:           cfg.Topic,
			Balancer:        inboxBalancer,
			Transport:       CachedMetadata(nil, 0),
			RequiredAcks:    kafka.RequireAll,
			BatchTimeout:    cfg.BatchTimeout,
			BatchSize:       cfg.BatchSize,
			MaxAttempts:     3,
			WriteBackoffMin: 10 * time.Millisecond,
			WriteBackoffMax: 200 * time.Millisecond,
		},
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "switchboard_kafka_produce_seconds",
			Help:    "Time to produce a webhook's records to Kafka until acknowledged (acks=all), by topic.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}, []string{"topic"}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_kafka_produce_errors_total",
			Help: "Produce calls to switchboard.inbox that failed (the caller answered 503).",
		}),
	}
	p.observer = sync.OnceValue(func() prometheus.Observer { return p.seconds.WithLabelValues(p.w.Topic) })
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(p.seconds); err != nil {
			return nil, err
		}
		if err := cfg.Registerer.Register(p.errors); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// inboxBalancer places inbox records by their key, the tenant id: the Java client's murmur2 partitioner, so every
// client (kcat, a Java producer) puts a tenant where Switchboard does.
var inboxBalancer = &kafka.Murmur2Balancer{}

// Partitioner returns the partition of a tenant's inbox records in a topic of n partitions, as the Producer places
// them: the partition whose state the tenant belongs to (the changelog's partition too).
func Partitioner(n int) func(tenant string) int {
	ids := make([]int, n)
	for i := range ids {
		ids[i] = i
	}
	return func(tenant string) int { return inboxBalancer.Balance(kafka.Message{Key: []byte(tenant)}, ids...) }
}

// Produce writes recs and returns nil only once Kafka has acknowledged every one of them.
func (p *Producer) Produce(ctx context.Context, recs []inbox.Record) error {
	start := time.Now()
	var msgs []kafka.Message
	var buf []byte
	if len(recs) == 1 {
		// A webhook's usual single record: its message and its bytes in one allocation.
		one := new(oneRecord)
		msgs, buf = one.msg[:], one.buf[:0]
	} else {
		msgs = make([]kafka.Message, len(recs))
		buf = make([]byte, 0, 256*len(recs))
	}
	// One buffer holds every key and value: a record outgrowing it moves on to a larger one, and the bytes written
	// before stay where they are.
	for i := range recs {
		k := len(buf)
		buf = append(buf, recs[i].Tenant...)
		key := buf[k:len(buf):len(buf)]
		v := len(buf)
		var err error
		if buf, err = p.format.Append(buf, &recs[i]); err != nil {
			return err
		}
		msgs[i] = kafka.Message{Key: key, Value: buf[v:len(buf):len(buf)]}
	}
	if err := p.w.WriteMessages(ctx, msgs...); err != nil {
		p.errors.Inc()
		return fmt.Errorf("produce %d inbox records: %w", len(recs), err)
	}
	p.observer().Observe(time.Since(start).Seconds())
	return nil
}

// oneRecord is what Produce writes a single record from: its message, and room for its key and value (a text
// message's binary record is about 130 bytes; a larger one moves on to a buffer of its own).
type oneRecord struct {
	msg [1]kafka.Message
	buf [320]byte
}

// Close flushes and closes the writer. It is idempotent.
func (p *Producer) Close() error { return p.w.Close() }
