// Package sink is the analytics role: it reads switchboard.events as the consumer group "switchboard-analytics" and
// stores every event in ClickHouse's switchboard.events, in batches bounded by size and time.
//
// It is at-least-once. A batch's offsets are committed only after ClickHouse accepted the whole batch; while
// ClickHouse is down the sink retries the same batch with back-off, holding its offsets, and catches up when it
// returns. A crash between an insert and its commit stores the batch again on restart, which no figure sees:
// every query deduplicates by event id (analytics/insights). Records that are not events, events of a type the
// schema does not know, and events it knows but does not store (schema.NotStoredTypes: operator.availability, conversation.read) are
// counted and skipped, never retried: one bad record must not stop the stream.
//
// Erasure events (contact.erased, conversation.erased; schema.ErasureOf) are not stored either: once the batch they
// came in is stored, the sink blanks the erased contacts' ids on their rows (schema.Anonymise), retrying like an
// insert, before it commits the batch's offsets.
//
// Audit events (audit.recorded; schema.AuditOf) are stored in switchboard.audit, the audit log's own table, with the
// batch's events and retried with them (schema.InsertAudit).
//
// Every RollInterval it also rolls up the settled hours of the insights (schema.Roll); several sinks doing so at once
// is harmless, and a failed roll only leaves those hours to the raw events until the next.
//
// It may import analytics/schema, ingest/inbox, kafka-go, clickhouse-go's driver and the Prometheus client.
package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/switchboard-hq/switchboard/analytics/schema"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// Group is the consumer group of analytics sinks.
const Group = "switchboard-analytics"

// maxBackoff is the longest wait between two attempts of a failed fetch, insert or migration: short enough that the
// sink resumes within 2 s of ClickHouse's return, long enough not to hammer a server that is down.
const maxBackoff = 2 * time.Second

// Config configures a Sink.
type Config struct {
	// Brokers are the Kafka bootstrap addresses. Required.
	Brokers []string
	// Topic is read. Default switchboard.events.
	Topic string
	// Group is the consumer group. Default Group.
	Group string
	// ClickHouseAddr is the native-protocol address (host:port) of ClickHouse. Required.
	ClickHouseAddr string
	// BatchSize is the most records in one insert. Default 10,000.
	BatchSize int
	// FlushInterval is the longest a record waits in a batch that is not full. Default 1 s.
	FlushInterval time.Duration
	// SessionTimeout is the consumer group session timeout: how long a dead sink holds its partitions. Default 6 s.
	SessionTimeout time.Duration
	// RollInterval is how often the sink rolls up settled hours for the insights (schema.Roll). Default 1 min.
	RollInterval time.Duration
	// Now is the roll-ups' clock (schema.Roll's now). Default time.Now; tests move it past schema.RollMargin.
	Now func() time.Time
	// Registerer registers the sink's metrics; nil registers them nowhere.
	Registerer prometheus.Registerer
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// AfterInsert, when set, is called with the batch size after ClickHouse accepted a batch and before its offsets
	// are committed. It exists for the crash tests, which kill the sink right there.
	AfterInsert func(n int)
}

func (c *Config) setDefaults() {
	if c.Topic == "" {
		c.Topic = inbox.EventsTopic
	}
	if c.Group == "" {
		c.Group = Group
	}
	if c.BatchSize == 0 {
		c.BatchSize = 10000
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = time.Second
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = 6 * time.Second
	}
	if c.RollInterval == 0 {
		c.RollInterval = time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports the first missing or out-of-range setting.
func (c *Config) Validate() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("analytics sink: Brokers are required")
	case c.ClickHouseAddr == "":
		return errors.New("analytics sink: ClickHouseAddr is required")
	case c.BatchSize < 0 || c.FlushInterval < 0 || c.SessionTimeout < 0:
		return errors.New("analytics sink: negative BatchSize, FlushInterval or SessionTimeout")
	}
	return nil
}

// Sink moves events from Kafka to ClickHouse: New builds it, Run moves events until its context ends, Close leaves
// the group and closes the connections. Run it once; Close is idempotent and safe for concurrent use.
type Sink struct {
	cfg    Config
	log    *slog.Logger
	reader *kafka.Reader

	mu     sync.Mutex // guards conn and closed
	conn   driver.Conn
	closed bool

	rows    prometheus.Counter
	batches prometheus.Counter
	errs    *prometheus.CounterVec
	skipped *prometheus.CounterVec
	lag     *prometheus.GaugeVec
	delay   prometheus.Histogram
	erased  prometheus.Counter

	// Reused between batches.
	events   []schema.Event
	erasures []schema.Erasure
	audits   []schema.AuditRow // audit.recorded events of the batch, for switchboard.audit
	last     map[int]kafka.Message
	parts    map[int]*partition
}

// partition is what the sink knows of one partition it reads, for the lag gauge.
type partition struct {
	lag prometheus.Gauge
	// next is the offset after the last record stored; -1 until the sink stored one.
	next int64
}

// New builds a sink. It connects to nothing yet: Run does, and waits for ClickHouse and Kafka as long as it takes.
func New(cfg Config) (*Sink, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Sink{
		cfg:   cfg,
		log:   cfg.Logger.With("component", "analytics-sink"),
		last:  map[int]kafka.Message{},
		parts: map[int]*partition{},
		rows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_analytics_rows_total",
			Help: "Events stored in ClickHouse (an event stored again after a crash or a failed insert counts again).",
		}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_analytics_batches_total",
			Help: "Batches of events ClickHouse accepted.",
		}),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_analytics_errors_total",
			Help: "Failed attempts by stage (migrate, fetch, insert, anonymise, prune_audit, commit); each is retried.",
		}, []string{"stage"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_analytics_skipped_total",
			Help: "Records of switchboard.events skipped: malformed (not an event), unknown_type, or not_stored (an event that is not about a conversation, operator.availability, or not an insight, conversation.read).",
		}, []string{"reason"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "switchboard_analytics_lag",
			Help: "Records of switchboard.events not yet stored in ClickHouse, per partition (by the high-water mark of the last fetch).",
		}, []string{"partition"}),
		delay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "switchboard_analytics_delay_seconds",
			Help:    "Time from the oldest record of a batch reaching Kafka to the batch being stored in ClickHouse.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, .75, 1, 1.5, 2, 3, 5, 10, 30, 60, 300},
		}),
		erased: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_analytics_erasures_total",
			Help: "Erasure events (contact.erased, conversation.erased) acted on: the contact's ids blanked in ClickHouse.",
		}),
	}
	for _, st := range []string{"migrate", "fetch", "insert", "anonymise", "prune_audit", "commit"} {
		s.errs.WithLabelValues(st)
	}
	for _, r := range []string{"malformed", "unknown_type", "not_stored"} {
		s.skipped.WithLabelValues(r)
	}
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{s.rows, s.batches, s.errs, s.skipped, s.lag, s.delay, s.erased} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("analytics sink: register metrics: %w", err)
			}
		}
	}
	s.reader = kafka.NewReader(kafka.ReaderConfig{
		Brokers:           cfg.Brokers,
		GroupID:           cfg.Group,
		Topic:             cfg.Topic,
		MinBytes:          1,
		MaxBytes:          16 << 20,
		MaxWait:           inbox.FetchWait(250 * time.Millisecond),
		QueueCapacity:     min(max(cfg.BatchSize, 100), 10000),
		StartOffset:       kafka.FirstOffset, // a new group stores everything the topic still holds
		CommitInterval:    0,                 // commits are synchronous, after each stored batch
		SessionTimeout:    cfg.SessionTimeout,
		HeartbeatInterval: cfg.SessionTimeout / 4,
		RebalanceTimeout:  2 * cfg.SessionTimeout,
		JoinGroupBackoff:  500 * time.Millisecond,
		ReadBackoffMin:    100 * time.Millisecond,
		ReadBackoffMax:    time.Second,
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			s.log.Warn("kafka reader: " + fmt.Sprintf(msg, args...))
		}),
	})
	return s, nil
}

// Run consumes until ctx ends, then stores and commits the batch in hand if ClickHouse takes it within 5 s, and
// returns nil; a batch ClickHouse does not take then is not committed, and is read again at the next start. While
// ClickHouse or Kafka is down it retries as long as ctx lasts: no outage makes it return. It returns early only
// with ErrClosed, wrapped, when called after Close or when Close was called under it, or when ClickHouse's client
// refuses the address outright (a configuration that can never work).
func (s *Sink) Run(ctx context.Context) error {
	if err := s.migrate(ctx); err != nil {
		if ctx.Err() != nil {
			return nil // ctx ended while ClickHouse was unreachable
		}
		return err
	}
	s.log.Info("analytics sink running", "topic", s.cfg.Topic, "group", s.cfg.Group, "clickhouse", s.cfg.ClickHouseAddr)
	rctx, stopRolling := context.WithCancel(ctx)
	rolled := make(chan struct{})
	go func() {
		defer close(rolled)
		s.rollEvery(rctx)
	}()
	defer func() {
		stopRolling()
		<-rolled
	}()
	for {
		msgs, err := s.fill(ctx)
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			if len(msgs) > 0 {
				fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				if s.store(fctx, msgs) == nil {
					s.commit(fctx)
				}
				cancel()
			}
			return nil
		}
		if err := s.store(ctx, msgs); err != nil {
			if ctx.Err() != nil {
				return nil // ctx ended during an outage: the batch is not committed, so it is read again next time
			}
			return err
		}
		s.commit(ctx)
	}
}

// rollEvery rolls up the settled hours every RollInterval until ctx ends.
func (s *Sink) rollEvery(ctx context.Context) {
	t := time.NewTicker(s.cfg.RollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		conn, err := s.connection()
		if err != nil {
			return
		}
		if n, err := schema.Roll(ctx, conn, s.cfg.Now()); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.errs.WithLabelValues("rollup").Inc()
			s.log.Warn("roll up insights; retrying at the next interval", "err", err)
		} else if n > 0 {
			s.log.Debug("insights rolled up", "hours", n)
		}
	}
}

// fill fetches records until the batch is full or FlushInterval has passed since its first record. It decodes each
// record as it comes, so the batch's events are ready to store. It returns early, with what it has, when ctx ends.
func (s *Sink) fill(ctx context.Context) ([]kafka.Message, error) {
	s.events = s.events[:0]
	s.erasures = s.erasures[:0]
	s.audits = s.audits[:0]
	clear(s.last)
	var msgs []kafka.Message
	fctx := ctx
	backoff := 100 * time.Millisecond
	for len(msgs) < s.cfg.BatchSize {
		m, err := s.reader.FetchMessage(fctx)
		if err != nil {
			switch {
			case ctx.Err() != nil, fctx != ctx && fctx.Err() != nil:
				return msgs, nil
			case errors.Is(err, io.EOF), errors.Is(err, io.ErrClosedPipe):
				return nil, fmt.Errorf("analytics sink: fetch: %w", ErrClosed)
			}
			s.errs.WithLabelValues("fetch").Inc()
			s.log.Warn("fetch events", "err", err)
			if sleep(ctx, backoff) != nil {
				return msgs, nil
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		backoff = 100 * time.Millisecond
		if len(msgs) == 0 {
			var cancel context.CancelFunc
			fctx, cancel = context.WithTimeout(ctx, s.cfg.FlushInterval)
			defer cancel()
		}
		msgs = append(msgs, m)
		s.last[m.Partition] = m
		p := s.partition(m.Partition)
		if p.next < 0 {
			p.next = m.Offset
		}
		p.lag.Set(float64(max(m.HighWaterMark-p.next, 0)))
		e, err := schema.Decode(m.Value)
		switch {
		case errors.Is(err, schema.ErrUnknownType):
			s.skipped.WithLabelValues("unknown_type").Inc()
		case errors.Is(err, schema.ErrNotStored):
			if row, ok, err := schema.AuditOf(m.Value); ok {
				if err != nil {
					s.skipped.WithLabelValues("malformed").Inc()
					break
				}
				s.audits = append(s.audits, row)
				break
			}
			if er, ok := schema.ErasureOf(m.Value); ok {
				s.erasures = append(s.erasures, er)
				break
			}
			s.skipped.WithLabelValues("not_stored").Inc()
		case err != nil:
			s.skipped.WithLabelValues("malformed").Inc()
		default:
			s.events = append(s.events, e)
		}
	}
	return msgs, nil
}

// store inserts the batch's events, retrying with back-off until ClickHouse accepts them or ctx ends.
func (s *Sink) store(ctx context.Context, msgs []kafka.Message) error {
	backoff := 100 * time.Millisecond
	for {
		conn, err := s.connection()
		if err != nil {
			return err
		}
		err = schema.Insert(ctx, conn, s.events)
		if err == nil {
			// The audit log's own table (schema/audit.go); a retry stores the events again, which queries dedupe.
			err = schema.InsertAudit(ctx, conn, s.audits)
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.errs.WithLabelValues("insert").Inc()
		s.log.Warn("store events in clickhouse; retrying the same batch", "events", len(s.events), "err", err,
			"retry_in", backoff)
		s.dropConnection(conn)
		if err := sleep(ctx, backoff); err != nil {
			return err
		}
		backoff = min(2*backoff, maxBackoff)
	}
	if err := s.anonymise(ctx); err != nil {
		return err
	}
	if err := s.pruneAudit(ctx); err != nil {
		return err
	}
	s.rows.Add(float64(len(s.events)))
	s.batches.Inc()
	if len(msgs) > 0 {
		s.delay.Observe(time.Since(msgs[0].Time).Seconds())
	}
	for pn, m := range s.last {
		p := s.partition(pn)
		p.next = m.Offset + 1
		p.lag.Set(float64(max(m.HighWaterMark-p.next, 0)))
	}
	if s.cfg.AfterInsert != nil {
		s.cfg.AfterInsert(len(msgs))
	}
	return nil
}

// anonymise blanks the ids of the batch's erased contacts, and pruneAudit removes from switchboard.audit what the
// batch's audit.pruned entries removed from Pebble. Each retries with back-off until ClickHouse accepts its
// mutations or ctx ends. They run after the batch's insert, so every row before an erasure or a cut is stored when
// the mutation is submitted, and the mutation covers it.
func (s *Sink) anonymise(ctx context.Context) error {
	if len(s.erasures) == 0 {
		return nil
	}
	return s.mutate(ctx, "anonymise", "anonymise erased contacts in clickhouse; retrying", len(s.erasures),
		func(conn driver.Conn) error { return schema.Anonymise(ctx, conn, s.erasures) },
		func() { s.erased.Add(float64(len(s.erasures))) })
}

func (s *Sink) pruneAudit(ctx context.Context) error {
	var prunes []schema.AuditPrune
	for _, r := range s.audits {
		if p, ok := schema.AuditPruneOf(r); ok {
			prunes = append(prunes, p)
		}
	}
	if len(prunes) == 0 {
		return nil
	}
	return s.mutate(ctx, "prune_audit", "prune the audit log in clickhouse; retrying", len(prunes),
		func(conn driver.Conn) error { return schema.PruneAudit(ctx, conn, prunes) }, func() {})
}

// mutate runs f until it succeeds or ctx ends, counting and logging each failure under stage, then calls done.
func (s *Sink) mutate(ctx context.Context, stage, warning string, n int, f func(driver.Conn) error, done func()) error {
	backoff := 100 * time.Millisecond
	for {
		conn, err := s.connection()
		if err != nil {
			return err
		}
		err = f(conn)
		if err == nil {
			done()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.errs.WithLabelValues(stage).Inc()
		s.log.Warn(warning, "items", n, "err", err, "retry_in", backoff)
		s.dropConnection(conn)
		if err := sleep(ctx, backoff); err != nil {
			return err
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func (s *Sink) partition(n int) *partition {
	p := s.parts[n]
	if p == nil {
		p = &partition{lag: s.lag.WithLabelValues(strconv.Itoa(n)), next: -1}
		s.parts[n] = p
	}
	return p
}

// commit commits the batch's last offset of each partition. A failed commit is not retried: the next batch's commit
// covers this one's records too, and at worst they are stored again, which the queries deduplicate.
func (s *Sink) commit(ctx context.Context) {
	if len(s.last) == 0 {
		return
	}
	last := make([]kafka.Message, 0, len(s.last))
	for _, m := range s.last {
		last = append(last, m)
	}
	if err := s.reader.CommitMessages(ctx, last...); err != nil && ctx.Err() == nil {
		s.errs.WithLabelValues("commit").Inc()
		s.log.Warn("commit offsets", "err", err)
	}
}

// migrate applies the schema, retrying with back-off until ClickHouse answers or ctx ends.
func (s *Sink) migrate(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for {
		conn, err := s.connection()
		if err != nil {
			return err
		}
		did, err := schema.Migrate(ctx, conn)
		if err == nil {
			if len(did) > 0 {
				s.log.Info("analytics schema migrated", "versions", did)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.errs.WithLabelValues("migrate").Inc()
		s.log.Warn("migrate analytics schema; retrying", "err", err, "retry_in", backoff)
		s.dropConnection(conn)
		if err := sleep(ctx, backoff); err != nil {
			return err
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// connection returns the ClickHouse pool, opening one if needed (Open does not dial).
func (s *Sink) connection() (driver.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if s.conn == nil {
		conn, err := schema.Open(s.cfg.ClickHouseAddr)
		if err != nil {
			return nil, fmt.Errorf("analytics sink: %w", err) // schema.Open names the address
		}
		s.conn = conn
	}
	return s.conn, nil
}

// dropConnection closes conn after a failure, so the next attempt dials afresh rather than reuse connections to a
// server that went away.
func (s *Sink) dropConnection(conn driver.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == conn {
		s.conn = nil
		_ = conn.Close()
	}
}

// Close leaves the consumer group and closes the connections; a Run in progress then returns ErrClosed. It is
// idempotent: later calls return nil.
func (s *Sink) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	conn := s.conn
	s.conn = nil
	s.mu.Unlock()
	var errs []error
	if err := s.reader.Close(); err != nil {
		errs = append(errs, fmt.Errorf("analytics sink: leave group: %w", err))
	}
	if conn != nil {
		if err := conn.Close(); err != nil {
			errs = append(errs, fmt.Errorf("analytics sink: close clickhouse: %w", err))
		}
	}
	return errors.Join(errs...)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
