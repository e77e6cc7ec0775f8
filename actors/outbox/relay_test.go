package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/actors/lifecycletest"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/store/storetest"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/broker/brokertest"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// The relay is tested against the real parts it joins: Pebble on a temp dir and the embedded broker over TCP, read
// back with kafka-go.

const partitions = 3

var quiet = slog.New(slog.DiscardHandler)

// events is the broker the relay publishes to: the events topic in partitions partitions, on addr with its data in
// dataDir (empty: brokertest's defaults).
func events(addr, dataDir string) brokertest.Config {
	return brokertest.Config{Addr: addr, DataDir: dataDir, Partitions: partitions, Topics: []string{inbox.EventsTopic}}
}

// event is what the tests put in the outbox: a stable id and a per-tenant sequence number to check order by.
type event struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant_id"`
	N      int    `json:"n"`
}

func eventJSON(tenant string, n int) []byte {
	b, _ := json.Marshal(event{ID: fmt.Sprintf("%s-%d", tenant, n), Tenant: tenant, N: n})
	return b
}

// putEvents commits one batch holding count events per tenant, interleaved across tenants and numbered from first,
// and waits until it is durable.
func putEvents(t *testing.T, s *store.Store, tenants []string, first, count int) {
	t.Helper()
	b := s.NewBatch()
	for n := first; n < first+count; n++ {
		for _, tn := range tenants {
			if err := b.PutOutbox(tn, eventJSON(tn, n)); err != nil {
				t.Fatal(err)
			}
		}
	}
	done := make(chan error, 1)
	if err := s.Commit(b, func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

type relayed struct {
	partition int
	offset    int64
	key       string
	ev        event
}

// topicSize is how many records the events topic holds.
func topicSize(t *testing.T, addr string) int64 {
	t.Helper()
	var total int64
	for p := range partitions {
		c, err := kafka.DialLeader(context.Background(), "tcp", addr, inbox.EventsTopic, p)
		if err != nil {
			t.Fatal(err)
		}
		last, err := c.ReadLastOffset()
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		total += last
	}
	return total
}

// readEvents waits until the events topic holds at least want records and returns all of them, in offset order
// within each partition.
func readEvents(t *testing.T, addr string, want int) []relayed {
	t.Helper()
	eventually.NoError(t, time.Minute, 20*time.Millisecond, func() error {
		if n := topicSize(t, addr); n < int64(want) {
			return fmt.Errorf("%d of %d records", n, want)
		}
		return nil
	}, "events topic filled")
	var out []relayed
	for p := range partitions {
		c, err := kafka.DialLeader(context.Background(), "tcp", addr, inbox.EventsTopic, p)
		if err != nil {
			t.Fatal(err)
		}
		last, err := c.ReadLastOffset()
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		if last == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: inbox.EventsTopic, Partition: p,
			MaxWait: inbox.FetchWait(50 * time.Millisecond)})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("read partition %d: %v", p, err)
			}
			var ev event
			if err := json.Unmarshal(m.Value, &ev); err != nil {
				t.Fatalf("partition %d offset %d: %v", p, m.Offset, err)
			}
			out = append(out, relayed{partition: p, offset: m.Offset, key: string(m.Key), ev: ev})
			if m.Offset >= last-1 {
				break
			}
		}
		cancel()
		r.Close()
	}
	return out
}

// checkRelayed checks that the topic holds exactly count events per tenant, each once, keyed by its tenant, in the
// order they were put.
func checkRelayed(t *testing.T, got []relayed, tenants []string, count int) {
	t.Helper()
	byTenant := map[string][]int{}
	partitionOf := map[string]int{}
	for _, r := range got {
		if r.key != r.ev.Tenant {
			t.Errorf("event %s has key %q, want its tenant %q", r.ev.ID, r.key, r.ev.Tenant)
		}
		if p, ok := partitionOf[r.key]; ok && p != r.partition {
			t.Errorf("tenant %s on partitions %d and %d", r.key, p, r.partition)
		}
		partitionOf[r.key] = r.partition
		byTenant[r.ev.Tenant] = append(byTenant[r.ev.Tenant], r.ev.N)
	}
	want := make([]int, count)
	for i := range want {
		want[i] = i
	}
	for _, tn := range tenants {
		if !slices.Equal(byTenant[tn], want) {
			t.Errorf("tenant %s: events relayed in order %v, want %v", tn, byTenant[tn], want)
		}
	}
	if len(got) != count*len(tenants) {
		t.Errorf("topic holds %d events, want %d", len(got), count*len(tenants))
	}
}

// waitOutboxEmpty waits until every outbox entry has been deleted.
func waitOutboxEmpty(t *testing.T, s *store.Store) {
	t.Helper()
	eventually.NoError(t, time.Minute, 10*time.Millisecond, func() error {
		left, _, err := s.Outbox(nil, 0, 1000)
		if err == nil && len(left) > 0 {
			err = fmt.Errorf("%d events left, first %s", len(left), left[0].Value)
		}
		return err
	}, "relayed events leave the outbox")
}

func outboxLen(t *testing.T, s *store.Store) int {
	t.Helper()
	return int(s.OutboxLen())
}

// runRelay builds a relay and runs it; the returned stop cancels Run and returns its error.
func runRelay(t *testing.T, cfg Config) (r *Relay, reg *prometheus.Registry, stop func() error) {
	t.Helper()
	reg = prometheus.NewRegistry()
	cfg.Registerer, cfg.Logger = reg, quiet
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var stopped bool
	var runErr error
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("Run did not return after its context ended")
			}
		}
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return r, reg, stop
}

func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

var tenants = []string{"acme", "globex", "initech", "umbrella"}

// Entries an earlier process committed and never relayed are read from the store by the next Run and relayed, then
// removed; entries this process adds afterwards come after them for each tenant.
func TestRecoverRelaysEntriesOfEarlierProcess(t *testing.T) {
	b := brokertest.Start(t, events("", ""))
	dir := t.TempDir()
	earlier := storetest.Open(t, store.Config{Dir: dir})
	putEvents(t, earlier, tenants, 0, 10)
	putEvents(t, earlier, tenants[:2], 10, 5) // not every tenant has as many
	putEvents(t, earlier, tenants[2:], 10, 5)
	if err := earlier.Close(); err != nil {
		t.Fatal(err)
	}

	s := storetest.Open(t, store.Config{Dir: dir})
	if n := outboxLen(t, s); n != 15*len(tenants) {
		t.Fatalf("reopened outbox holds %d entries, want %d", n, 15*len(tenants))
	}
	r, reg, stop := runRelay(t, Config{Store: s, Brokers: []string{b.Addr()}})
	checkRelayed(t, readEvents(t, b.Addr(), 15*len(tenants)), tenants, 15)
	waitOutboxEmpty(t, s)

	// What this process writes later follows what the earlier one left.
	putEvents(t, s, tenants, 15, 5)
	r.Notify()
	checkRelayed(t, readEvents(t, b.Addr(), 20*len(tenants)), tenants, 20)
	waitOutboxEmpty(t, s)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := metric(t, reg, "switchboard_events_published_total"); got != float64(20*len(tenants)) {
		t.Errorf("published = %v, want %d", got, 20*len(tenants))
	}
	if got := metric(t, reg, "switchboard_events_publish_errors_total"); got != 0 {
		t.Errorf("publish errors = %v, want 0", got)
	}
}

// Notify hands durable entries to a running relay; many small batches from many writers keep each tenant's order.
func TestNotifyRelaysInTenantOrder(t *testing.T) {
	b := brokertest.Start(t, events("", ""))
	s := storetest.Open(t, store.Config{})
	r, reg, stop := runRelay(t, Config{Store: s, Brokers: []string{b.Addr()}, BatchSize: 7})
	const rounds = 40
	for n := range rounds {
		putEvents(t, s, tenants, n, 1)
		r.Notify()
		if n%10 == 0 { // some batches go out while others are still coming
			published := float64((n + 1) * len(tenants))
			eventually.True(t, time.Minute, time.Millisecond, func() bool {
				return metric(t, reg, "switchboard_events_published_total") >= published
			}, "the first %v events published", published)
		}
	}
	checkRelayed(t, readEvents(t, b.Addr(), rounds*len(tenants)), tenants, rounds)
	waitOutboxEmpty(t, s)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := metric(t, reg, "switchboard_outbox_pending"); got != 0 {
		t.Errorf("outbox pending gauge = %v after everything was relayed", got)
	}
}

// With the broker down the relay keeps the entries, counts the failures and retries; once the broker is back on
// the same address and data dir, every entry is delivered once and removed.
func TestBrokerDownRetriesUntilBack(t *testing.T) {
	bdir := t.TempDir()
	b := brokertest.Start(t, events("", bdir))
	addr := b.Addr()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	s := storetest.Open(t, store.Config{})
	r, reg, stop := runRelay(t, Config{Store: s, Brokers: []string{addr}})
	putEvents(t, s, tenants, 0, 6)
	r.Notify()
	eventually.True(t, time.Minute, 20*time.Millisecond, func() bool {
		return metric(t, reg, "switchboard_events_publish_errors_total") >= 2
	}, "publish errors counted while the broker is down")
	if n := outboxLen(t, s); n != 6*len(tenants) {
		t.Fatalf("outbox holds %d entries while the broker is down, want all %d", n, 6*len(tenants))
	}
	if got := metric(t, reg, "switchboard_events_published_total"); got != 0 {
		t.Fatalf("published = %v while the broker is down", got)
	}

	b2 := brokertest.Start(t, events(addr, bdir))
	checkRelayed(t, readEvents(t, b2.Addr(), 6*len(tenants)), tenants, 6)
	waitOutboxEmpty(t, s)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := metric(t, reg, "switchboard_events_published_total"); got != float64(6*len(tenants)) {
		t.Errorf("published = %v, want %d", got, 6*len(tenants))
	}
}

// With Kafka stopped, writers keep committing events: 1,000 of them, forty times the relay's page. The old relay
// held every one of them in its pending slice; now the backlog waits in the store (the outbox gauge counts it) and
// the relay holds at most one page in memory the whole time, down and catching up. Once Kafka is back, on the same
// address and data dir, every event is delivered exactly once by its stable id, in each tenant's order.
func TestKafkaDownBacklogStaysInTheStore(t *testing.T) {
	const page = 25
	const rounds = 250 // × 4 tenants = 1,000 events = 40 pages
	bdir := t.TempDir()
	b := brokertest.Start(t, events("", bdir))
	addr := b.Addr()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	s := storetest.Open(t, store.Config{})
	r, reg, stop := runRelay(t, Config{Store: s, Brokers: []string{addr}, BatchSize: page})
	var maxHeld atomic.Int64
	sampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if h := int64(r.Held()); h > maxHeld.Load() {
				maxHeld.Store(h)
			}
			select {
			case <-sampling:
				return
			case <-time.After(100 * time.Microsecond):
			}
		}
	}()
	for n := range rounds {
		putEvents(t, s, tenants, n, 1)
		r.Notify()
	}
	// The relay keeps trying while the whole backlog is written: two more failures after the last write.
	errs := metric(t, reg, "switchboard_events_publish_errors_total")
	eventually.True(t, time.Minute, 20*time.Millisecond, func() bool {
		return metric(t, reg, "switchboard_events_publish_errors_total") >= errs+2
	}, "the relay keeps trying while the broker is down")
	if n := outboxLen(t, s); n != rounds*len(tenants) {
		t.Fatalf("outbox holds %d entries while the broker is down, want all %d", n, rounds*len(tenants))
	}
	if got := metric(t, reg, "switchboard_outbox_pending"); got != float64(rounds*len(tenants)) {
		t.Errorf("outbox gauge = %v while the broker is down, want %d", got, rounds*len(tenants))
	}
	if got := metric(t, reg, "switchboard_events_published_total"); got != 0 {
		t.Fatalf("published = %v while the broker is down", got)
	}
	if h := maxHeld.Load(); h > page {
		t.Fatalf("the relay held %d events in memory while the broker was down, more than its page of %d", h, page)
	}

	b2 := brokertest.Start(t, events(addr, bdir))
	checkRelayed(t, readEvents(t, b2.Addr(), rounds*len(tenants)), tenants, rounds)
	waitOutboxEmpty(t, s)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	close(sampling)
	<-sampled
	if h := maxHeld.Load(); h > page {
		t.Errorf("the relay held up to %d events in memory, more than its page of %d", h, page)
	}
	t.Logf("most events held in memory at once: %d (page %d, backlog %d)", maxHeld.Load(), page, rounds*len(tenants))
	if got := metric(t, reg, "switchboard_events_published_total"); got != float64(rounds*len(tenants)) {
		t.Errorf("published = %v, want %d", got, rounds*len(tenants))
	}
	if got := metric(t, reg, "switchboard_outbox_pending"); got != 0 {
		t.Errorf("outbox gauge = %v after everything was relayed", got)
	}
}

// A backlog left by an earlier process is relayed whole, in order, across several batches.
func TestRecoverBacklogLargerThanABatch(t *testing.T) {
	b := brokertest.Start(t, events("", ""))
	s := storetest.Open(t, store.Config{})
	putEvents(t, s, tenants, 0, 10)
	_, _, stop := runRelay(t, Config{Store: s, Brokers: []string{b.Addr()}, BatchSize: 5})
	checkRelayed(t, readEvents(t, b.Addr(), 10*len(tenants)), tenants, 10)
	waitOutboxEmpty(t, s)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// Run returns once its context ends, and what was notified before that is relayed and removed by the time it
// returns (the final flush). Repeated, because the end of the context can meet the relay idle or mid-write.
func TestRunFlushesOnCancel(t *testing.T) {
	b := brokertest.Start(t, events("", ""))
	s := storetest.Open(t, store.Config{})
	const rounds = 10
	for round := range rounds {
		r, _, stop := runRelay(t, Config{Store: s, Brokers: []string{b.Addr()}})
		// A first batch makes the writer connect, so the final flush is not a first dial.
		putEvents(t, s, tenants, 2*round, 1)
		r.Notify()
		waitOutboxEmpty(t, s)
		putEvents(t, s, tenants, 2*round+1, 1)
		r.Notify()
		if err := stop(); err != nil {
			t.Fatalf("round %d: Run: %v", round, err)
		}
		if n := outboxLen(t, s); n != 0 {
			t.Fatalf("round %d: %d notified events still in the outbox after Run returned", round, n)
		}
	}
	checkRelayed(t, readEvents(t, b.Addr(), 2*rounds*len(tenants)), tenants, 2*rounds)
}

func TestNewRequiresStoreAndBrokers(t *testing.T) {
	s := storetest.Open(t, store.Config{})
	for _, cfg := range []Config{{Brokers: []string{"127.0.0.1:1"}}, {Store: s}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v): want an error", cfg)
		}
	}
	reg := prometheus.NewRegistry()
	if _, err := New(Config{Store: s, Brokers: []string{"127.0.0.1:1"}, Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Store: s, Brokers: []string{"127.0.0.1:1"}, Registerer: reg}); err == nil {
		t.Error("a second relay on the same registerer: want a duplicate registration error")
	}
}

// Close stops a running relay and waits for it; it is idempotent; Run runs once; a relay closed before it ran
// returns from Run at once.
func TestLifecycle(t *testing.T) {
	s := storetest.Open(t, store.Config{})
	r, err := New(Config{Store: s, Brokers: []string{"127.0.0.1:1"}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	lifecycletest.Check(t, r, r.started.Load, ErrRunTwice)

	closed, err := New(Config{Store: s, Brokers: []string{"127.0.0.1:1"}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := closed.Close(); err != nil {
		t.Fatal(err)
	}
	if err := closed.Run(context.Background()); err != nil {
		t.Errorf("Run after Close: %v", err)
	}
	if _, err := New(Config{Store: s, Brokers: []string{"127.0.0.1:1"}, BatchSize: -1}); err == nil {
		t.Error("New with a negative BatchSize: want an error")
	}
}

// Configuration records in the outbox go to switchboard.config under their own key, events to switchboard.events,
// and each entry leaves the outbox once produced.
func TestConfigRecordsGoToTheConfigTopic(t *testing.T) {
	b := brokertest.Start(t, brokertest.Config{Topics: []string{inbox.EventsTopic, tenant.ConfigTopic}})
	s := storetest.Open(t, store.Config{})
	batch := s.NewBatch()
	for _, err := range []error{
		batch.PutOutbox("acme", eventJSON("acme", 0)),
		batch.PutConfigRecord("acme", "acme/operator/bob", []byte(`{"version":2}`)),
		batch.PutConfigRecord("acme", "acme/tenant/settings", []byte(`{"version":3}`)),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	if err := s.Commit(batch, func(err error) { done <- err }); err != nil || <-done != nil {
		t.Fatal("commit", err)
	}
	_, _, stop := runRelay(t, Config{Store: s, Brokers: []string{b.Addr()}})
	waitOutboxEmpty(t, s)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{b.Addr()}, Topic: tenant.ConfigTopic, Partition: 0})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []string
	for range 2 {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(m.Key)+" "+string(m.Value))
	}
	if want := []string{`acme/operator/bob {"version":2}`, `acme/tenant/settings {"version":3}`}; !slices.Equal(got, want) {
		t.Errorf("config topic = %q, want %q", got, want)
	}
	ev := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{b.Addr()}, Topic: inbox.EventsTopic, Partition: 0})
	defer ev.Close()
	m, err := ev.ReadMessage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Key) != "acme" || string(m.Value) != string(eventJSON("acme", 0)) {
		t.Errorf("events topic got %s %s", m.Key, m.Value)
	}
	if n := topicSizeOf(t, b.Addr(), inbox.EventsTopic); n != 1 {
		t.Errorf("events topic holds %d records, want only the event", n)
	}
}

func topicSizeOf(t *testing.T, addr, topic string) int64 {
	t.Helper()
	c, err := kafka.DialLeader(context.Background(), "tcp", addr, topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	last, err := c.ReadLastOffset()
	if err != nil {
		t.Fatal(err)
	}
	return last
}
