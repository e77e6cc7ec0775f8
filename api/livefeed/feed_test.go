package livefeed_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/switchboard-hq/switchboard/api/live"
	"github.com/switchboard-hq/switchboard/api/livefeed"
	"github.com/switchboard-hq/switchboard/ingest/broker/brokertest"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

func produce(t *testing.T, addr string, tenant string, from, to int) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: inbox.EventsTopic, Balancer: &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	var msgs []kafka.Message
	for i := from; i <= to; i++ {
		msgs = append(msgs, kafka.Message{Key: []byte(tenant),
			Value: []byte(`{"id":"e` + strconv.Itoa(i) + `","type":"message.received","tenant_id":"` + tenant + `"}`)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
}

// startFeed starts a feed on the broker and stops it when the test ends.
func startFeed(t *testing.T, addr string, hub live.Config) *livefeed.Feed {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f, err := livefeed.New(ctx, livefeed.Config{Brokers: []string{addr}, Hub: hub, Backfill: 50, CatchUp: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = f.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; f.Close() })
	return f
}

// dataIDs are the event ids in frames' data, in order.
func dataIDs(fs []live.Frame) string {
	var out []string
	for _, f := range fs {
		s := string(f.Data)
		if i := strings.Index(s, `"id":"`); i >= 0 {
			out = append(out, strings.SplitN(s[i+6:], `"`, 2)[0])
		} else if strings.HasPrefix(s, "event: reset") {
			out = append(out, "reset")
		}
	}
	return strings.Join(out, ",")
}

// A node that starts while its consoles reconnect: a stream resuming at once waits for the backfill, and gets
// exactly what follows its id, or reset when its id is before the backfill; a number never read is reset.
func TestAFreshFeedResumesExactlyFromItsBackfill(t *testing.T) {
	b := brokertest.Start(t, brokertest.Config{Partitions: 3, Topics: []string{inbox.EventsTopic}})
	produce(t, b.Addr(), "acme", 1, 100)
	// Learn the sequences from a first feed.
	first := startFeed(t, b.Addr(), live.Config{})
	floor, _, _ := first.Bounds("acme") // waits for the backfill
	s, err := first.Hub().Subscribe("acme", "alice", strconv.FormatInt(floor, 10))
	if err != nil {
		t.Fatal(err)
	}
	seqs := make([]string, 0, 50)
	for _, f := range s.Initial {
		seqs = append(seqs, strings.TrimPrefix(strings.SplitN(string(f.Data), "\n", 2)[0], "id: "))
	}
	if len(seqs) != 50 {
		t.Fatalf("the backfill of 50 gave %d events", len(seqs))
	}
	// seqs are the sequences of e51..e100.

	fresh := startFeed(t, b.Addr(), live.Config{})
	for _, c := range []struct{ last, want string }{
		{seqs[39], "e91,e92,e93,e94,e95,e96,e97,e98,e99,e100"},
		{seqs[49], ""},
		{seqs[0], func() string { // e51 is the floor: everything after it
			var w []string
			for i := 52; i <= 100; i++ {
				w = append(w, "e"+strconv.Itoa(i))
			}
			return strings.Join(w, ",")
		}()},
		{"3", "reset"},      // before the backfill
		{"100000", "reset"}, // never read
	} {
		s, err := fresh.Hub().Subscribe("acme", "alice", c.last)
		if err != nil {
			t.Fatal(err)
		}
		if got := dataIDs(s.Initial); got != c.want {
			t.Errorf("after %s: %s, want %s", c.last, got, c.want)
		}
		s.Close()
	}
}
