package sink_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/analytics/chtest"
	"github.com/switchboard-hq/switchboard/analytics/insights"
	"github.com/switchboard-hq/switchboard/analytics/scenario"
	"github.com/switchboard-hq/switchboard/analytics/schema"
	"github.com/switchboard-hq/switchboard/analytics/sink"
	"github.com/switchboard-hq/switchboard/ingest/broker/brokertest"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// The crash test runs the sink in a child process: this test binary, re-executed with these variables set.
const (
	envChild      = "SWITCHBOARD_TEST_SINK_CHILD"      // "run" or "hang" (block after the first insert)
	envBrokers    = "SWITCHBOARD_TEST_SINK_BROKERS"    // comma-separated
	envClickHouse = "SWITCHBOARD_TEST_SINK_CLICKHOUSE" // host:port
	childInserted = "INSERTED"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(envChild); mode != "" {
		os.Exit(child(mode))
	}
	os.Exit(m.Run())
}

// child runs a sink until SIGTERM. In hang mode it prints childInserted after ClickHouse accepted its first batch
// and then blocks before committing, waiting for the parent's SIGKILL.
func child(mode string) int {
	cfg := testConfig(strings.Split(os.Getenv(envBrokers), ","), os.Getenv(envClickHouse))
	if mode == "hang" {
		cfg.AfterInsert = func(n int) {
			fmt.Printf("%s %d\n", childInserted, n)
			select {}
		}
	}
	s, err := sink.New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	err = s.Run(ctx)
	s.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func testConfig(brokers []string, clickhouse string) sink.Config {
	return sink.Config{
		Brokers:        brokers,
		ClickHouseAddr: clickhouse,
		FlushInterval:  50 * time.Millisecond,
		SessionTimeout: 2 * time.Second,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// env is an embedded broker with the events topic and a private ClickHouse.
type env struct {
	t       testing.TB
	brokers []string
	ch      *chtest.Server
	conn    driver.Conn
	w       *kafka.Writer
}

func newEnv(t testing.TB) *env {
	t.Helper()
	b := brokertest.Start(t, brokertest.Config{Partitions: 4, Topics: []string{inbox.EventsTopic}})
	e := &env{t: t, brokers: []string{b.Addr()}, ch: chtest.StartServer(t)}
	var err error
	if e.conn, err = schema.Open(e.ch.Addr()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.conn.Close() })
	e.w = &kafka.Writer{Addr: kafka.TCP(e.brokers...), Topic: inbox.EventsTopic, Balancer: &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: 2 * time.Millisecond}
	t.Cleanup(func() { e.w.Close() })
	return e
}

// produce writes records keyed by tenant, as the outbox relay does.
func (e *env) produce(tenant string, values ...[]byte) {
	e.t.Helper()
	msgs := make([]kafka.Message, len(values))
	for i, v := range values {
		msgs[i] = kafka.Message{Key: []byte(tenant), Value: v}
	}
	if err := e.w.WriteMessages(context.Background(), msgs...); err != nil {
		e.t.Fatal(err)
	}
}

// startSink runs a sink in this process until the test ends; configure, when given, changes its configuration.
func (e *env) startSink(reg prometheus.Registerer, configure ...func(*sink.Config)) {
	e.t.Helper()
	cfg := testConfig(e.brokers, e.ch.Addr())
	cfg.Registerer = reg
	for _, c := range configure {
		c(&cfg)
	}
	s, err := sink.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("sink Run: %v", err)
		}
		s.Close()
	})
}

// stored returns how many rows switchboard.events holds and how many distinct events; 0, 0 before the sink
// created the table.
func (e *env) stored() (rows, distinct uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r := e.conn.QueryRow(ctx, `SELECT count(), uniqExact(tenant_id, id) FROM switchboard.events`)
	if err := r.Scan(&rows, &distinct); err != nil {
		return 0, 0
	}
	return rows, distinct
}

// waitStored waits until cond holds of stored(), for up to a minute.
func (e *env) waitStored(what string, cond func(rows, distinct uint64) bool) {
	e.t.Helper()
	eventually.NoError(e.t, time.Minute, 20*time.Millisecond, func() error {
		if rows, distinct := e.stored(); !cond(rows, distinct) {
			return fmt.Errorf("%d rows, %d distinct events stored", rows, distinct)
		}
		return nil
	}, "waiting for %s", what)
}

// checkScripted holds the stored events to the hand-computed figures: live, recomputed from raw events in
// ClickHouse, and recomputed in memory from the stored rows.
func (e *env) checkScripted(what string, t0 time.Time) {
	e.t.Helper()
	ctx := context.Background()
	f := insights.Filter{Tenant: "acme", Now: t0.Add(2 * time.Hour), Since: 3 * time.Hour}
	raw, err := insights.Query(ctx, e.conn, f)
	if err != nil {
		e.t.Fatal(err)
	}
	scenario.CheckScripted(e.t, what+", recomputed from raw events", raw, t0)
	// ClickHouse updates a materialized view after it wrote the insert's block to the source table, so the
	// conversations aggregate can trail the events table by an insert for a moment: wait for it to catch up.
	// If it does not, CheckScripted says how the figures differ.
	var live insights.Report
	_ = eventually.Wait(10*time.Second, 20*time.Millisecond, func() error {
		if live, err = insights.Query(ctx, e.conn, insights.Filter{Tenant: "acme"}); err != nil {
			e.t.Fatal(err)
		}
		if live.Active != raw.Active || live.Unanswered != raw.Unanswered || live.AwaitingReply != raw.AwaitingReply {
			return errors.New("the conversations aggregate trails the events")
		}
		return nil
	})
	scenario.CheckScripted(e.t, what+", live", live, t0)
	stored, err := schema.ReadAll(ctx, e.conn, "")
	if err != nil {
		e.t.Fatal(err)
	}
	scenario.CheckScripted(e.t, what+", recomputed in memory", insights.Compute(stored, f), t0)
}

// scripted returns the scenario's events encoded, by tenant.
func scripted(t testing.TB, t0 time.Time) (acme, globex []conversation.Event) {
	a, g := scenario.Scripted(t, t0)
	return a.Events, g.Events
}

// TestScriptedThroughKafka: the scenario's events, some of them produced twice, among malformed records, events
// of an unknown type and an operator's event the table does not keep, go through Kafka and the sink; the figures are the hand-computed ones, the bad records are
// counted and skipped, and the records after them are stored.
func TestScriptedThroughKafka(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	t0 := scenario.ScriptedT0(time.Now())
	acme, globex := scripted(t, t0)
	reg := prometheus.NewRegistry()
	e.startSink(reg)

	e.produce("acme", []byte(`{"id":"x-1-0","type":"conversation.teleported","at":"2026-01-01T00:00:00Z","tenant_id":"acme","conversation_id":"x"}`))
	e.produce("acme", []byte(`{not json`), []byte(`{"id":"x-2-0","type":"conversation.closed"}`))
	e.produce("acme", []byte(`{"id":"op.acme.alice.1","type":"operator.availability","at":"2026-01-01T00:00:00Z","tenant_id":"acme","operator_id":"alice","availability":"online"}`))
	half := len(acme) / 2
	e.produce("acme", scenario.JSON(t, acme[:half])...)
	e.produce("globex", scenario.JSON(t, globex)...)
	e.produce("acme", scenario.JSON(t, acme[half:])...)
	// The relay repeats what it is not sure it delivered: the same ids and content again.
	e.produce("acme", scenario.JSON(t, acme[:10])...)
	n := uint64(len(acme) + len(globex))
	e.waitStored("every event", func(rows, distinct uint64) bool { return rows == n+10 && distinct == n })
	e.checkScripted("through kafka", t0)

	waitMetric(t, reg, "switchboard_analytics_skipped_total", `reason="unknown_type"`, 1)
	waitMetric(t, reg, "switchboard_analytics_skipped_total", `reason="malformed"`, 2)
	waitMetric(t, reg, "switchboard_analytics_skipped_total", `reason="not_stored"`, 1)
	waitMetric(t, reg, "switchboard_analytics_rows_total", "", float64(n+10))
	for p := range 4 {
		waitMetric(t, reg, "switchboard_analytics_lag", fmt.Sprintf(`partition="%d"`, p), 0)
	}
}

// TestSinkRollsUp: the sink rolls up the settled hours of what it stored (its clock moved past schema.RollMargin),
// and the insights summary read through those roll-ups equals the reference computed from the stored rows.
func TestSinkRollsUp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	t0 := scenario.ScriptedT0(time.Now())
	acme, globex := scripted(t, t0)
	// The sink's clock moves past RollMargin once every event is stored, as time would: a clock ahead of the inserts
	// while they land would let a roll-up or an open-conversation snapshot taken before them claim to cover them.
	var ahead atomic.Bool
	e.startSink(prometheus.NewRegistry(), func(c *sink.Config) {
		c.RollInterval = 50 * time.Millisecond
		c.Now = func() time.Time {
			if ahead.Load() {
				return time.Now().Add(schema.RollMargin + 3*time.Hour)
			}
			return time.Now()
		}
	})
	e.produce("acme", scenario.JSON(t, acme)...)
	e.produce("globex", scenario.JSON(t, globex)...)
	n := uint64(len(acme) + len(globex))
	e.waitStored("every event", func(rows, distinct uint64) bool { return distinct == n })
	ahead.Store(true)
	ctx := context.Background()
	eventually.NoError(t, time.Minute, 50*time.Millisecond, func() error {
		var rolled, cells uint64
		if err := e.conn.QueryRow(ctx, `SELECT count() FROM switchboard.insights_rolled`).Scan(&rolled); err != nil {
			return err
		}
		if err := e.conn.QueryRow(ctx, `SELECT count() FROM switchboard.insights_hourly WHERE tenant_id = 'acme'`).Scan(&cells); err != nil {
			return err
		}
		if rolled == 0 || cells == 0 {
			return fmt.Errorf("%d hours rolled, %d cells of acme", rolled, cells)
		}
		return nil
	}, "the sink rolls up")
	stored, err := schema.ReadAll(ctx, e.conn, "")
	if err != nil {
		t.Fatal(err)
	}
	r := insights.Range{Tenant: "acme", From: t0.Add(-2 * time.Hour).Truncate(time.Hour), To: t0.Add(3 * time.Hour).Truncate(time.Hour)}
	got, err := insights.QuerySummary(ctx, e.conn, r)
	if err != nil {
		t.Fatal(err)
	}
	want := insights.SummaryOf(insights.Compute(stored, r.Filter()))
	// Averages are sums in another order: equal to 1e-9.
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
	g, w := got.Totals, want.Totals
	if !near(g.AvgFirstResponseSeconds, w.AvgFirstResponseSeconds) || !near(g.AvgWaitSeconds, w.AvgWaitSeconds) ||
		!near(g.AvgHandlingSeconds, w.AvgHandlingSeconds) {
		t.Errorf("averages through the roll-ups %+v, reference %+v", g, w)
	}
	g.AvgFirstResponseSeconds, g.AvgWaitSeconds, g.AvgHandlingSeconds = 0, 0, 0
	w.AvgFirstResponseSeconds, w.AvgWaitSeconds, w.AvgHandlingSeconds = 0, 0, 0
	if g != w || g.Finished == 0 {
		t.Errorf("summary through the roll-ups %+v, reference %+v", got.Totals, want.Totals)
	}
}

// TestCrashBetweenInsertAndCommit kills the sink (SIGKILL) after ClickHouse accepted a batch and before the batch's
// offsets were committed. The restarted sink stores the batch again, and no figure changes.
func TestCrashBetweenInsertAndCommit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	t0 := scenario.ScriptedT0(time.Now())
	acme, globex := scripted(t, t0)
	e.produce("acme", scenario.JSON(t, acme)...)
	e.produce("globex", scenario.JSON(t, globex)...)
	n := uint64(len(acme) + len(globex))

	// First life: dies right after its first insert.
	cmd := e.child("hang")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	inserted := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), childInserted) {
				inserted <- sc.Text()
				return
			}
		}
		close(inserted)
	}()
	select {
	case line, ok := <-inserted:
		if !ok {
			t.Fatalf("sink child exited before inserting: %v", cmd.Wait())
		}
		t.Logf("child: %s; killing it before its commit", line)
	case <-time.After(time.Minute):
		t.Fatal("sink child inserted nothing within a minute")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	first, distinct := e.stored()
	if first == 0 || first != distinct {
		t.Fatalf("after the first life: %d rows, %d distinct events", first, distinct)
	}

	// Second life: reads the uncommitted batch again.
	cmd = e.child("run")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("sink child after SIGTERM: %v", err)
		}
	}()
	e.waitStored("the batch stored again and the rest", func(rows, distinct uint64) bool {
		return distinct == n && rows == n+first
	})
	rows, _ := e.stored()
	t.Logf("%d events, %d rows stored: the first life's %d stored twice", n, rows, first)
	e.checkScripted("after kill -9 between insert and commit", t0)
}

func (e *env) child(mode string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"="+mode, envBrokers+"="+strings.Join(e.brokers, ","),
		envClickHouse+"="+e.ch.Addr())
	cmd.Stderr = os.Stderr
	return cmd
}

// TestClickHouseOutage stops ClickHouse (SIGTERM) while events flow and starts it again on the same data directory:
// the sink retries the same batch, keeps its offsets, and catches up with nothing lost.
func TestClickHouseOutage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	t0 := scenario.ScriptedT0(time.Now())
	acme, globex := scripted(t, t0)
	reg := prometheus.NewRegistry()
	e.startSink(reg)
	e.produce("globex", scenario.JSON(t, globex)...)
	values := scenario.JSON(t, acme)
	n := uint64(len(acme) + len(globex))
	third := len(values) / 3

	e.produce("acme", values[:third]...)
	e.waitStored("the first third", func(_, distinct uint64) bool { return distinct == uint64(len(globex)+third) })
	// The second third flows one by one while ClickHouse shuts down, the last third once it is down.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, v := range values[third : 2*third] {
			e.produce("acme", v)
			time.Sleep(20 * time.Millisecond)
		}
	}()
	e.ch.Stop()
	wg.Wait()
	errs := metricValue(t, reg, "switchboard_analytics_errors_total", `stage="insert"`)
	e.produce("acme", values[2*third:]...)
	waitMetricAtLeast(t, reg, "switchboard_analytics_errors_total", `stage="insert"`, errs+1) // it keeps retrying
	down, _ := e.stored()
	if down != 0 {
		t.Fatalf("ClickHouse is down, yet stored() = %d", down)
	}
	e.ch.Restart()
	e.waitStored("every event after the outage", func(_, distinct uint64) bool { return distinct == n })
	rows, _ := e.stored()
	t.Logf("%d events, %d rows stored; %v failed inserts during the outage", n, rows,
		metricValue(t, reg, "switchboard_analytics_errors_total", `stage="insert"`))
	e.checkScripted("after a ClickHouse outage", t0)
}

// metricValue returns the value of the series of name whose labels contain labels (all series summed when empty).
func metricValue(t *testing.T, reg *prometheus.Registry, name, labels string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			if labels != "" && !strings.Contains(strings.Join(ls, ","), labels) {
				continue
			}
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			}
		}
	}
	return sum
}

func waitMetric(t *testing.T, reg *prometheus.Registry, name, labels string, want float64) {
	t.Helper()
	eventually.NoError(t, 30*time.Second, 10*time.Millisecond, func() error {
		if v := metricValue(t, reg, name, labels); v != want {
			return fmt.Errorf("have %v", v)
		}
		return nil
	}, "%s{%s} == %v", name, labels, want)
}

func waitMetricAtLeast(t *testing.T, reg *prometheus.Registry, name, labels string, want float64) {
	t.Helper()
	eventually.NoError(t, 30*time.Second, 10*time.Millisecond, func() error {
		if v := metricValue(t, reg, name, labels); v < want {
			return fmt.Errorf("have %v", v)
		}
		return nil
	}, "%s{%s} >= %v", name, labels, want)
}

// Close is idempotent, and Run after Close returns ErrClosed at once instead of waiting for ClickHouse.
func TestCloseThenRun(t *testing.T) {
	s, err := sink.New(testConfig([]string{"127.0.0.1:1"}, "127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := s.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	if err := s.Run(context.Background()); !errors.Is(err, sink.ErrClosed) {
		t.Fatalf("Run after Close = %v, want ErrClosed", err)
	}
}
