package timers

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/actors/lifecycletest"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/store/storetest"
	"github.com/switchboard-hq/switchboard/ingest/broker"
	"github.com/switchboard-hq/switchboard/ingest/broker/brokertest"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// The firer is tested with a real broker.Producer against the embedded broker, reading switchboard.inbox back over
// TCP with kafka-go, and the timer index in Pebble on a temp dir. Produce returns only after Kafka acknowledged the
// records, so right after Fire the topic holds exactly what it produced.

const partitions = 3

var quiet = slog.New(slog.DiscardHandler)

func startBroker(t *testing.T, addr, dir string) *broker.Embedded {
	t.Helper()
	return brokertest.Start(t, brokertest.Config{Addr: addr, DataDir: dir, Partitions: partitions, Topics: []string{inbox.Topic}})
}

func newProducer(t *testing.T, addr string) *broker.Producer {
	t.Helper()
	p, err := broker.NewProducer(broker.ProducerConfig{Brokers: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// commit applies fill in one batch and waits until it is durable.
func commit(t *testing.T, s *store.Store, fill func(b *store.Batch) error) {
	t.Helper()
	b := s.NewBatch()
	if err := fill(b); err != nil {
		b.Discard()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	if err := s.Commit(b, func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func putTimers(t *testing.T, s *store.Store, keys ...store.TimerKey) {
	t.Helper()
	commit(t, s, func(b *store.Batch) error {
		for _, k := range keys {
			if err := b.PutTimer(k); err != nil {
				return err
			}
		}
		return nil
	})
}

func deleteTimers(t *testing.T, s *store.Store, keys ...store.TimerKey) {
	t.Helper()
	commit(t, s, func(b *store.Batch) error {
		for _, k := range keys {
			if err := b.DeleteTimer(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// clock is the fake wall clock handed to the firer as Config.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// inboxReader reads what was appended to switchboard.inbox since it last looked.
type inboxReader struct {
	t    *testing.T
	addr string
	next [partitions]int64
}

type produced struct {
	key string
	rec inbox.Record
}

func (r *inboxReader) lastOffsets() [partitions]int64 {
	var last [partitions]int64
	for p := range partitions {
		c, err := kafka.DialLeader(context.Background(), "tcp", r.addr, inbox.Topic, p)
		if err != nil {
			r.t.Fatal(err)
		}
		last[p], err = c.ReadLastOffset()
		c.Close()
		if err != nil {
			r.t.Fatal(err)
		}
	}
	return last
}

// read returns every record appended since the last read, decoded with inbox.Decode.
func (r *inboxReader) read() []produced {
	r.t.Helper()
	last := r.lastOffsets()
	var out []produced
	for p := range partitions {
		if last[p] == r.next[p] {
			continue
		}
		rd := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{r.addr}, Topic: inbox.Topic, Partition: p,
			MaxWait: inbox.FetchWait(50 * time.Millisecond)})
		if err := rd.SetOffset(r.next[p]); err != nil {
			r.t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		for r.next[p] < last[p] {
			m, err := rd.ReadMessage(ctx)
			if err != nil {
				r.t.Fatalf("read partition %d: %v", p, err)
			}
			rec, err := inbox.Decode(m.Value)
			if err != nil {
				r.t.Fatalf("partition %d offset %d: %v", p, m.Offset, err)
			}
			out = append(out, produced{key: string(m.Key), rec: rec})
			r.next[p] = m.Offset + 1
		}
		cancel()
		rd.Close()
	}
	return out
}

// fired flattens records into "tenant/conversation/kind@due" strings, checking that each record is one tenant's,
// keyed by it, stamped with ingest time now and holds only timer items.
func fired(t *testing.T, got []produced, now time.Time) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, p := range got {
		if p.key != p.rec.Tenant {
			t.Errorf("record of tenant %s has key %q", p.rec.Tenant, p.key)
		}
		if _, dup := out[p.rec.Tenant]; dup {
			t.Errorf("tenant %s got more than one record in one Fire", p.rec.Tenant)
		}
		if p.rec.IngestAt != now.UnixMilli() {
			t.Errorf("record of %s has ingest time %d, want the clock's %d", p.rec.Tenant, p.rec.IngestAt, now.UnixMilli())
		}
		for _, it := range p.rec.Items {
			if it.Kind != inbox.KindTimer || it.Timer == nil || it.Message != nil || it.Command != nil || it.Status != nil {
				t.Errorf("tenant %s: item %+v is not a timer", p.rec.Tenant, it)
				continue
			}
			out[p.rec.Tenant] = append(out[p.rec.Tenant], it.Timer.ConversationID+"/"+it.Timer.Kind+"@"+
				time.UnixMilli(it.Timer.Due).UTC().Format("15:04:05.000"))
		}
	}
	return out
}

func checkFired(t *testing.T, step string, got map[string][]string, want map[string][]string) {
	t.Helper()
	for tn, w := range want {
		if !slices.Equal(got[tn], w) {
			t.Errorf("%s: tenant %s fired %v, want %v", step, tn, got[tn], w)
		}
	}
	for tn, g := range got {
		if _, ok := want[tn]; !ok {
			t.Errorf("%s: tenant %s fired %v, want nothing", step, tn, g)
		}
	}
}

func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// t0 is the fake clock's start; due times are in milliseconds, as the index keeps them.
var t0 = time.Date(2025, 10, 9, 12, 0, 0, 0, time.UTC)

func key(tenant, conv, kind string, due time.Time) store.TimerKey {
	return store.TimerKey{Due: due, Tenant: tenant, Conversation: conv, Kind: kind}
}

// Due timers are produced as one record per tenant with timer items (kind, conversation, due ms), earliest first;
// timers not yet due wait; a produced timer still in the index is not produced again before Refire and is after;
// one that left the index is not.
func TestFireDueTimers(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0", t.TempDir())
	s := storetest.Open(t, store.Config{})
	clk := &clock{now: t0}
	reg := prometheus.NewRegistry()
	const refire = 30 * time.Second
	f, err := New(Config{Store: s, Producer: newProducer(t, b.Addr()), Refire: refire, Now: clk.Now, Registerer: reg, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	in := &inboxReader{t: t, addr: b.Addr()}
	ctx := context.Background()

	acme1 := key("acme", "c1", "auto_close", t0.Add(-time.Minute))
	acme2 := key("acme", "c2", "snooze_wake", t0) // due exactly now
	globex3 := key("globex", "c3", "reservation", t0.Add(-10*time.Second))
	acme4 := key("acme", "c4", "window_warning", t0.Add(time.Millisecond))
	globex5 := key("globex", "c5", "auto_close", t0.Add(time.Hour))
	putTimers(t, s, acme4, globex5, acme2, globex3, acme1)

	fire := func(step string, at time.Time, want map[string][]string) {
		t.Helper()
		clk.Set(at)
		if err := f.Fire(ctx); err != nil {
			t.Fatalf("%s: Fire: %v", step, err)
		}
		checkFired(t, step, fired(t, in.read(), at), want)
	}
	fire("at t0", t0, map[string][]string{
		"acme":   {"c1/auto_close@11:59:00.000", "c2/snooze_wake@12:00:00.000"},
		"globex": {"c3/reservation@11:59:50.000"},
	})
	fire("again at t0", t0, nil)
	fire("1 ms later", t0.Add(time.Millisecond), map[string][]string{
		"acme": {"c4/window_warning@12:00:00.001"},
	})
	fire("just before Refire", t0.Add(refire-time.Millisecond), nil)

	// c2 was applied: its entry left the index, so Refire does not bring it back.
	deleteTimers(t, s, acme2)
	fire("at Refire", t0.Add(refire), map[string][]string{
		"acme":   {"c1/auto_close@11:59:00.000"},
		"globex": {"c3/reservation@11:59:50.000"},
	})
	fire("at Refire of c4", t0.Add(refire+time.Millisecond), map[string][]string{
		"acme": {"c4/window_warning@12:00:00.001"},
	})
	fire("an hour on", t0.Add(time.Hour), map[string][]string{
		"acme":   {"c1/auto_close@11:59:00.000", "c4/window_warning@12:00:00.001"},
		"globex": {"c3/reservation@11:59:50.000", "c5/auto_close@13:00:00.000"},
	})
	if got := counter(t, reg, "switchboard_timers_fired_total"); got != 3+1+2+1+4 {
		t.Errorf("timers fired counter = %v, want 11", got)
	}
}

// A timer whose record Kafka did not take is not marked produced: the next Fire once the broker is back produces
// it, without waiting for Refire.
func TestFireRetriesAfterProduceError(t *testing.T) {
	bdir := t.TempDir()
	b := startBroker(t, "127.0.0.1:0", bdir)
	addr := b.Addr()
	s := storetest.Open(t, store.Config{})
	clk := &clock{now: t0}
	reg := prometheus.NewRegistry()
	f, err := New(Config{Store: s, Producer: newProducer(t, addr), Now: clk.Now, Registerer: reg, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	putTimers(t, s, key("acme", "c1", "auto_close", t0))
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Fire(context.Background()); err == nil {
		t.Fatal("Fire with the broker down: want an error")
	}
	if got := counter(t, reg, "switchboard_timers_fired_total"); got != 0 {
		t.Errorf("fired counter = %v after a failed produce", got)
	}

	b2 := startBroker(t, addr, bdir)
	// Still well within Refire: had the failed attempt marked the timer produced, this Fire would skip it. The
	// producer's client can keep failing for a moment after the broker is back (kafka-go remembers the refused
	// dial), so Fire is retried as the Run loop would.
	clk.Set(t0.Add(time.Second))
	eventually.NoError(t, time.Minute, 50*time.Millisecond, func() error { return f.Fire(context.Background()) },
		"Fire with the broker back")
	in := &inboxReader{t: t, addr: b2.Addr()}
	checkFired(t, "after the broker is back", fired(t, in.read(), t0.Add(time.Second)), map[string][]string{
		"acme": {"c1/auto_close@12:00:00.000"},
	})
}

// Batch bounds one look; the due timers past the first Batch are produced by later looks even while the earlier
// ones are still in the index (their records not yet applied), so outstanding timers cannot starve later ones.
func TestFireBatchDoesNotStarveLaterTimers(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0", t.TempDir())
	s := storetest.Open(t, store.Config{})
	clk := &clock{now: t0}
	f, err := New(Config{Store: s, Producer: newProducer(t, b.Addr()), Batch: 2, Now: clk.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	in := &inboxReader{t: t, addr: b.Addr()}
	putTimers(t, s,
		key("acme", "c1", "auto_close", t0.Add(-3*time.Second)),
		key("acme", "c2", "auto_close", t0.Add(-2*time.Second)),
		key("acme", "c3", "auto_close", t0.Add(-time.Second)))
	all := map[string]int{}
	for i := range 3 {
		at := t0.Add(time.Duration(i) * 100 * time.Millisecond)
		clk.Set(at)
		if err := f.Fire(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, ts := range fired(t, in.read(), at) {
			for _, x := range ts {
				all[x]++
			}
		}
	}
	want := map[string]int{"c1/auto_close@11:59:57.000": 1, "c2/auto_close@11:59:58.000": 1, "c3/auto_close@11:59:59.000": 1}
	for k, n := range want {
		if all[k] != n {
			t.Errorf("%s produced %d times in three looks with Batch 2, want %d (all: %v)", k, all[k], n, all)
		}
	}
}

// Run looks for due timers every Interval and returns when its context ends.
func TestRunFiresAndStops(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0", t.TempDir())
	s := storetest.Open(t, store.Config{})
	clk := &clock{now: t0}
	f, err := New(Config{Store: s, Producer: newProducer(t, b.Addr()), Interval: 5 * time.Millisecond, Now: clk.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()

	in := &inboxReader{t: t, addr: b.Addr()}
	putTimers(t, s, key("globex", "c9", "snooze_wake", t0.Add(time.Minute)))
	clk.Set(t0.Add(time.Minute))
	var got []produced
	eventually.True(t, time.Minute, 10*time.Millisecond, func() bool {
		got = append(got, in.read()...)
		return len(got) > 0
	}, "Run fires the due timer")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkFired(t, "Run", fired(t, got, t0.Add(time.Minute)), map[string][]string{
		"globex": {"c9/snooze_wake@12:01:00.000"},
	})
}

func TestNewRequiresStoreAndProducer(t *testing.T) {
	s := storetest.Open(t, store.Config{})
	p := newProducer(t, "127.0.0.1:1")
	for _, cfg := range []Config{{Producer: p}, {Store: s}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v): want an error", cfg)
		}
	}
}

// Close stops a running firer and waits for it; it is idempotent; Run runs once; a firer closed before it ran
// returns from Run at once; negative settings are refused.
func TestLifecycle(t *testing.T) {
	s := storetest.Open(t, store.Config{})
	p := newProducer(t, "127.0.0.1:1")
	f, err := New(Config{Store: s, Producer: p, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	lifecycletest.Check(t, f, f.started.Load, ErrRunTwice)
	closed, err := New(Config{Store: s, Producer: p, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := closed.Close(); err != nil {
		t.Fatal(err)
	}
	if err := closed.Run(context.Background()); err != nil {
		t.Errorf("Run after Close: %v", err)
	}
	if _, err := New(Config{Store: s, Producer: p, Interval: -time.Second}); err == nil {
		t.Error("New with a negative Interval: want an error")
	}
}
