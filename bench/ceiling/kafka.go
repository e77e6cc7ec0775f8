package ceiling

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/switchboard-hq/switchboard/bench/report"
	"github.com/switchboard-hq/switchboard/ingest/broker"
)

// KafkaConfig configures KafkaProduce and KafkaConsume.
type KafkaConfig struct {
	// Brokers are the bootstrap addresses (in a real run, the node's own embedded broker). Required. Each
	// measurement creates its own scratch topic of one partition and deletes it afterwards.
	Brokers []string
	// Duration bounds the measurement. 0 means 3s. KafkaProduce writes for Duration; KafkaConsume fills its topic
	// for half of it and reads the topic back for the other half, counted from the reader's creation. Either way
	// an operation in flight when its time is up is waited for and counted, never cut short: a run always
	// completes at least one, however slow the machine.
	Duration time.Duration
	// Concurrency is how many goroutines call WriteMessages synchronously in KafkaProduce. 0 means 256.
	Concurrency int
	// RecordSize is each record's value size in bytes. 0 means 300 (an encoded one-message inbox record).
	RecordSize int
	// BatchSize is the writer's most records per produce request in KafkaProduce. 0 means 64.
	BatchSize int
	// BatchTimeout is how long KafkaProduce's writer waits to fill a batch. 0 means 2ms (what the inbox producer
	// uses; kafka-go's default of 1s would measure the timeout).
	BatchTimeout time.Duration
	// Records is how many records KafkaConsume writes before reading them back (fewer if half of Duration passes
	// first, at least one batch per filling goroutine). 0 means 200,000.
	Records int
}

func (c *KafkaConfig) setDefaults() {
	if c.Duration == 0 {
		c.Duration = 3 * time.Second
	}
	if c.Concurrency == 0 {
		c.Concurrency = 256
	}
	if c.RecordSize == 0 {
		c.RecordSize = 300
	}
	if c.BatchSize == 0 {
		c.BatchSize = 64
	}
	if c.BatchTimeout == 0 {
		c.BatchTimeout = 2 * time.Millisecond
	}
	if c.Records == 0 {
		c.Records = 200_000
	}
}

// Validate reports the first missing or invalid field.
func (c *KafkaConfig) Validate() error {
	switch {
	case len(c.Brokers) == 0:
		return fmt.Errorf("%w: Brokers is required", ErrInvalidConfig)
	case c.Duration < 0:
		return fmt.Errorf("%w: Duration %v is negative", ErrInvalidConfig, c.Duration)
	case c.Concurrency < 0:
		return fmt.Errorf("%w: Concurrency %d is negative", ErrInvalidConfig, c.Concurrency)
	case c.RecordSize < 0:
		return fmt.Errorf("%w: RecordSize %d is negative", ErrInvalidConfig, c.RecordSize)
	case c.BatchSize < 0:
		return fmt.Errorf("%w: BatchSize %d is negative", ErrInvalidConfig, c.BatchSize)
	case c.BatchTimeout < 0:
		return fmt.Errorf("%w: BatchTimeout %v is negative", ErrInvalidConfig, c.BatchTimeout)
	case c.Records < 0:
		return fmt.Errorf("%w: Records %d is negative", ErrInvalidConfig, c.Records)
	}
	return nil
}

// ceilingKey is the one key of every record: one tenant's webhooks all go to one partition.
var ceilingKey = []byte("ceiling-tenant")

// scratchTopic creates a one-partition topic of its own for measurement name and returns it with the function that
// deletes it. The delete is bounded and its failure ignored: a broker may not allow deletes.
func scratchTopic(ctx context.Context, brokers []string, name string) (string, func(), error) {
	topic := fmt.Sprintf("ceiling.%s.%d", name, time.Now().UnixNano())
	if err := broker.EnsureTopics(ctx, brokers, 1, 1, topic); err != nil {
		return "", nil, fmt.Errorf("create topic: %w", err)
	}
	return topic, func() {
		// Also when ctx has ended: the topic must not outlive the measurement.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		tr := &kafka.Transport{}
		defer tr.CloseIdleConnections()
		c := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: tr}
		_, _ = c.DeleteTopics(dctx, &kafka.DeleteTopicsRequest{Topics: []string{topic}})
	}, nil
}

// newWriter returns a writer with a transport of its own, so that closing both leaves no connection behind (the
// default transport is shared and keeps its connections).
func newWriter(brokers []string, topic string, batchSize int, batchTimeout time.Duration) (*kafka.Writer, func()) {
	tr := &kafka.Transport{}
	w := &kafka.Writer{
		Addr:         kafka.TCP(brokers...),
		Topic:        topic,
		Balancer:     &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll,
		BatchSize:    batchSize,
		BatchBytes:   64 << 20, // never the limit: BatchSize is
		BatchTimeout: batchTimeout,
		Transport:    tr,
	}
	return w, func() {
		_ = w.Close()
		tr.CloseIdleConnections()
	}
}

// KafkaProduce measures kafka-go's synchronous producer as the webhook path uses it: Concurrency goroutines each
// write one RecordSize-byte record at a time with acks=all and wait for it, all with the same key, so one
// partition, to a scratch topic, for Duration. Throughput is acknowledged records per second; Latency is each
// WriteMessages call's.
func KafkaProduce(ctx context.Context, cfg KafkaConfig) (report.Ceiling, error) {
	const name = "kafka_produce"
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return report.Ceiling{}, fmt.Errorf("ceiling %s: %w", name, err)
	}
	if err := ctx.Err(); err != nil {
		return report.Ceiling{}, fmt.Errorf("ceiling %s: %w", name, err)
	}
	topic, drop, err := scratchTopic(ctx, cfg.Brokers, name)
	if err != nil {
		return report.Ceiling{}, fmt.Errorf("ceiling %s: %w", name, err)
	}
	defer drop()
	w, closeWriter := newWriter(cfg.Brokers, topic, cfg.BatchSize, cfg.BatchTimeout)
	defer closeWriter()

	value := make([]byte, cfg.RecordSize)
	lat := newLatencies()
	n, elapsed, err := loop(ctx, cfg.Duration, cfg.Concurrency, lat, func(ctx context.Context, _ int) error {
		if err := w.WriteMessages(ctx, kafka.Message{Key: ceilingKey, Value: value}); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		return nil
	})
	return measured(name, fmt.Sprintf("kafka-go synchronous writes, acks=all, %d callers, one key (one partition), "+
		"%d-byte records, BatchSize %d, BatchTimeout %v", cfg.Concurrency, cfg.RecordSize, cfg.BatchSize, cfg.BatchTimeout),
		n, elapsed, lat, err)
}

// consumeFillers is how many goroutines fill KafkaConsume's topic, and consumeChunk how many records each writes
// per call: enough to keep the partition's produce requests back to back.
const (
	consumeFillers = 4
	consumeChunk   = 1000
)

// consumeMaxWait is the reader's MaxWait. kafka-go sets it as the connection's deadline for each fetch's answer
// and treats a late answer as a broken connection: it closes it and dials again after a backoff of 100ms or more.
// The topic is full, so the broker answers at once and MaxWait only bounds how long a loaded machine may take to
// do so; it also bounds the reader's last fetch past the end of the topic, which Close waits for.
const consumeMaxWait = time.Second

// KafkaConsume measures how fast a kafka-go partition reader (no group, so no commits) reads back a topic: it fills
// a one-partition scratch topic with up to Records RecordSize-byte records in large batches for half of Duration,
// then reads them back with MinBytes 1, MaxBytes 1 MiB and MaxWait 1s until it has read them all or the other half
// of Duration has passed since the reader's creation; a read in flight then is waited for, so at least one record
// is read. Throughput is records read per second, from the reader's creation to the last record read. It measures
// no latency.
func KafkaConsume(ctx context.Context, cfg KafkaConfig) (report.Ceiling, error) {
	const name = "kafka_consume"
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return report.Ceiling{}, fmt.Errorf("ceiling %s: %w", name, err)
	}
	if err := ctx.Err(); err != nil {
		return report.Ceiling{}, fmt.Errorf("ceiling %s: %w", name, err)
	}
	topic, drop, err := scratchTopic(ctx, cfg.Brokers, name)
	if err != nil {
		return report.Ceiling{}, fmt.Errorf("ceiling %s: %w", name, err)
	}
	defer drop()

	filled, err := fill(ctx, cfg, topic, cfg.Duration/2)
	if err := ctx.Err(); err != nil {
		return report.Ceiling{}, fmt.Errorf("ceiling %s: %w", name, err)
	}
	if err != nil {
		return report.Ceiling{}, fmt.Errorf("ceiling %s: fill topic: %w", name, err)
	}

	// The reading half is its own, not what the topic's creation and filling left of Duration: on a loaded machine
	// that could be less than the reader needs to connect and fetch once, and the run would read nothing.
	start := time.Now()
	var stop atomic.Bool
	timer := time.AfterFunc(cfg.Duration-cfg.Duration/2, func() { stop.Store(true) })
	defer timer.Stop()
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:   cfg.Brokers,
		Topic:     topic,
		Partition: 0,
		MinBytes:  1,
		// kafka-go's default. A fetch of several MiB takes a loaded broker longer to answer, which could exceed
		// MaxWait and measure the reconnection.
		MaxBytes: 1 << 20,
		MaxWait:  consumeMaxWait,
	})
	defer r.Close()
	var read int64
	for read < filled {
		if _, err := r.ReadMessage(ctx); err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return report.Ceiling{}, fmt.Errorf("ceiling %s: read: %w", name, err)
		}
		read++
		if stop.Load() {
			break // the reading half is over: the figure is what was read until now
		}
	}
	elapsed := time.Since(start)
	return report.Ceiling{
		Name: name,
		Description: fmt.Sprintf("kafka-go partition reader (no group), MinBytes 1, MaxBytes 1 MiB, MaxWait %v, "+
			"reading back %d %d-byte records of one partition", consumeMaxWait, read, cfg.RecordSize),
		Throughput: rate(read, elapsed),
	}, nil
}

// fill writes up to cfg.Records records to topic in batches of consumeChunk from consumeFillers goroutines, each
// of which stops taking a new batch once d has passed, and returns how many Kafka acknowledged. A batch in flight
// then is waited for, not cancelled, and each goroutine writes at least one: the topic always holds records, and
// exactly as many as fill returns.
func fill(ctx context.Context, cfg KafkaConfig, topic string, d time.Duration) (int64, error) {
	var stop atomic.Bool
	timer := time.AfterFunc(d, func() { stop.Store(true) })
	defer timer.Stop()
	w, closeWriter := newWriter(cfg.Brokers, topic, consumeChunk, 2*time.Millisecond)
	defer closeWriter()
	msgs := make([]kafka.Message, consumeChunk)
	value := make([]byte, cfg.RecordSize)
	for i := range msgs {
		msgs[i] = kafka.Message{Key: ceilingKey, Value: value}
	}
	var (
		mu     sync.Mutex
		next   int // records handed out
		filled int64
		first  error
		wg     sync.WaitGroup
	)
	for range consumeFillers {
		wg.Go(func() {
			// Each goroutine has its own copy: WriteMessages fills in the messages' Topic, Partition and Offset.
			own := append([]kafka.Message(nil), msgs...)
			for {
				mu.Lock()
				k := min(consumeChunk, cfg.Records-next)
				next += k
				mu.Unlock()
				if k <= 0 {
					return
				}
				err := w.WriteMessages(ctx, own[:k]...)
				mu.Lock()
				if err == nil {
					filled += int64(k)
				} else if first == nil {
					first = err
				}
				mu.Unlock()
				if err != nil || stop.Load() {
					return
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		return 0, first
	}
	return filled, nil
}
