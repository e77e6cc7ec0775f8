package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/store/storetest"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/api"
	"github.com/switchboard-hq/switchboard/api/live"
	"github.com/switchboard-hq/switchboard/api/livefeed"
	"github.com/switchboard-hq/switchboard/cmd/switchboard/node"
	"github.com/switchboard-hq/switchboard/ingest/broker/brokertest"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// liveEnv is the API with its live stream fed from a real embedded broker's switchboard.events.
type liveEnv struct {
	*env
	w   *kafka.Writer
	reg *prometheus.Registry
}

// startLive starts a broker, the feed of hub and the API (changed by configure, when given).
func startLive(t testing.TB, hub live.Config, configure func(*api.Config)) *liveEnv {
	t.Helper()
	b := brokertest.Start(t, brokertest.Config{Partitions: 3, Topics: []string{inbox.EventsTopic}})
	reg := prometheus.NewRegistry()
	hub.Registerer = reg
	ctx, cancel := context.WithCancel(context.Background())
	feed, err := livefeed.New(ctx, livefeed.Config{Brokers: []string{b.Addr()}, Hub: hub, MaxWait: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = feed.Run(ctx); close(done) }()
	w := &kafka.Writer{Addr: kafka.TCP(b.Addr()), Topic: inbox.EventsTopic, Balancer: &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	var e *env
	if tt, ok := t.(*testing.T); ok {
		e = start(tt, options{configure: func(c *api.Config) {
			c.Live = feed.Hub()
			c.Heartbeat = time.Hour
			if configure != nil {
				configure(c)
			}
		}})
	} else {
		e = startB(t.(*testing.B), feed.Hub())
	}
	// Registered after start's own cleanup, so it runs first: the streams end before the server shuts down.
	t.Cleanup(func() {
		cancel()
		<-done
		feed.Close()
		w.Close()
	})
	return &liveEnv{env: e, w: w, reg: reg}
}

// event is a switchboard.events entry.
func event(tenant, id, typ, operator string) kafka.Message {
	b, _ := json.Marshal(map[string]any{"id": id, "type": typ, "tenant_id": tenant, "conversation_id": "c0000000000000001",
		"operator_id": operator, "at": now, "status": "unassigned"})
	return kafka.Message{Key: []byte(tenant), Value: b}
}

func (l *liveEnv) produce(t testing.TB, msgs ...kafka.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
}

// received produces count message.received events of tenant named prefix1…prefixN.
func received(tenant, prefix string, from, to int) []kafka.Message {
	var out []kafka.Message
	for i := from; i <= to; i++ {
		out = append(out, event(tenant, prefix+strconv.Itoa(i), "message.received", ""))
	}
	return out
}

// frame is one Server-Sent Events frame.
type frame struct {
	id, event, data, comment, retry string
}

// eventID is the "id" field of the frame's data.
func (f frame) eventID() string {
	var v struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal([]byte(f.data), &v)
	return v.ID
}

type stream struct {
	resp   *http.Response
	frames chan frame
}

// open opens GET /v1/events with the headers given and checks it is a stream.
func (l *liveEnv) open(t testing.TB, query string, hdr map[string]string) *stream {
	t.Helper()
	resp, status := l.dial(t, query, hdr)
	if status != 200 {
		t.Fatalf("GET /v1/events%s = %d", query, status)
	}
	for k, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
		"X-Accel-Buffering": "no"} {
		if got := resp.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	s := &stream{resp: resp, frames: make(chan frame, 100_000)}
	go func() {
		defer close(s.frames)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var f frame
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if f != (frame{}) {
					s.frames <- f
				}
				f = frame{}
			case strings.HasPrefix(line, ":"):
				f.comment = strings.TrimSpace(line[1:])
			default:
				k, v, _ := strings.Cut(line, ": ")
				switch k {
				case "id":
					f.id = v
				case "event":
					f.event = v
				case "data":
					f.data = v
				case "retry":
					f.retry = v
				}
			}
		}
	}()
	t.Cleanup(s.close)
	if f := s.next(t); f.retry != "2000" {
		t.Fatalf("first frame %+v, want retry: 2000", f)
	}
	return s
}

// dial sends GET /v1/events and returns the response (its body open when 200).
func (l *liveEnv) dial(t testing.TB, query string, hdr map[string]string) (*http.Response, int) {
	t.Helper()
	resp := l.request(t, "GET", "/v1/events"+query, hdr, "")
	if resp.StatusCode != 200 {
		resp.Body.Close()
	}
	return resp, resp.StatusCode
}

func (s *stream) close() { s.resp.Body.Close() }

func bearer(token string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + token}
}

// next is the next frame; it fails the test when none comes within 10 s or the stream ended.
func (s *stream) next(t testing.TB) frame {
	t.Helper()
	select {
	case f, ok := <-s.frames:
		if !ok {
			t.Fatal("the stream ended")
		}
		return f
	case <-time.After(10 * time.Second):
		t.Fatal("no frame within 10 s")
	}
	return frame{}
}

// nextEvent is the next frame that is not a comment.
func (s *stream) nextEvent(t testing.TB) frame {
	t.Helper()
	for {
		if f := s.next(t); f.comment == "" {
			return f
		}
	}
}

// events reads n events and returns their "id"s; each must be a durable event with a sequence id.
func (s *stream) events(t testing.TB, n int) (ids []string, seqs []string) {
	t.Helper()
	for range n {
		f := s.nextEvent(t)
		if f.id == "" || f.event == "" || f.eventID() == "" {
			t.Fatalf("frame %+v is not a durable event", f)
		}
		ids, seqs = append(ids, f.eventID()), append(seqs, f.id)
	}
	return ids, seqs
}

func wantIDs(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%s: events %v, want %v", what, got, want)
	}
}

func TestAnEventOfSwitchboardEventsReachesTheStream(t *testing.T) {
	l := startLive(t, live.Config{}, nil)
	s := l.open(t, "", bearer(aliceToken))
	l.produce(t, event("acme", "e1", "message.received", ""))
	f := s.nextEvent(t)
	if f.event != "message.received" || f.eventID() != "e1" {
		t.Fatalf("frame %+v, want message.received e1", f)
	}
	if seq, err := strconv.ParseInt(f.id, 10, 64); err != nil || seq < 0 {
		t.Errorf("id %q is not a sequence", f.id)
	}
	if !strings.Contains(f.data, `"tenant_id":"acme"`) || !strings.Contains(f.data, `"conversation_id":"c0000000000000001"`) {
		t.Errorf("data %s is not the event", f.data)
	}

	// The browser's way: the session cookie.
	si := l.signIn(t, bobToken)
	c := l.open(t, "", map[string]string{"Cookie": si.cookie})
	l.produce(t, event("acme", "e2", "conversation.assigned", "bob"))
	if f := c.nextEvent(t); f.eventID() != "e2" || f.event != "conversation.assigned" {
		t.Errorf("cookie stream got %+v, want e2", f)
	}
	if r, st := l.dial(t, "", nil); st != 401 {
		r.Body.Close()
		t.Errorf("GET /v1/events without credentials = %d, want 401", st)
	}
}

func TestReconnectWithLastEventIDGetsExactlyTheMissedEvents(t *testing.T) {
	l := startLive(t, live.Config{}, nil)
	watcher := l.open(t, "", bearer(bobToken))
	s := l.open(t, "", bearer(aliceToken))
	l.produce(t, received("acme", "m", 1, 3)...)
	ids, seqs := s.events(t, 3)
	wantIDs(t, "before the drop", ids, "m1", "m2", "m3")
	s.close()

	// Missed while away: m4..m6, and a repeat of m5 (the relay is at-least-once) that nobody must see.
	l.produce(t, append(received("acme", "m", 4, 5), event("acme", "m5", "message.received", ""), received("acme", "m", 6, 6)[0])...)
	got, _ := watcher.events(t, 6)
	wantIDs(t, "the watcher", got, "m1", "m2", "m3", "m4", "m5", "m6")

	r := l.open(t, "", map[string]string{"Authorization": "Bearer " + aliceToken, "Last-Event-ID": seqs[2]})
	ids, seqs = r.events(t, 3)
	wantIDs(t, "resumed after m3", ids, "m4", "m5", "m6")
	l.produce(t, received("acme", "m", 7, 7)...)
	ids, _ = r.events(t, 1)
	wantIDs(t, "live after the replay", ids, "m7")

	q := l.open(t, "?last_event_id="+seqs[1], bearer(aliceToken)) // after m5
	ids, _ = q.events(t, 2)
	wantIDs(t, "resumed after m5 by query", ids, "m6", "m7")
	// Nothing more is pending: the next event after a new one is that one.
	l.produce(t, received("acme", "m", 8, 8)...)
	ids, _ = q.events(t, 1)
	wantIDs(t, "then", ids, "m8")
}

func TestGarbageOrTooOldLastEventIDGetsReset(t *testing.T) {
	l := startLive(t, live.Config{ReplaySize: 4}, nil)
	watcher := l.open(t, "", bearer(bobToken))
	l.produce(t, received("acme", "m", 1, 8)...)
	_, seqs := watcher.events(t, 8)

	for _, bad := range []string{"abc", "-5", "1e3", seqs[7] + "0000"} {
		s := l.open(t, "", map[string]string{"Authorization": "Bearer " + aliceToken, "Last-Event-ID": bad})
		if f := s.nextEvent(t); f.event != "reset" || f.data != "{}" || f.id != "" {
			t.Errorf("Last-Event-ID %q: first frame %+v, want reset", bad, f)
		}
		s.close()
	}
	old := l.open(t, "", map[string]string{"Authorization": "Bearer " + aliceToken, "Last-Event-ID": seqs[0]})
	if f := old.nextEvent(t); f.event != "reset" {
		t.Errorf("an id older than the log (4 events): first frame %+v, want reset", f)
	}
	// After a reset the stream goes on live.
	l.produce(t, received("acme", "m", 9, 9)...)
	if ids, _ := old.events(t, 1); ids[0] != "m9" {
		t.Errorf("after the reset: %v, want m9", ids)
	}
	// Within the log it replays: the log holds m5..m8 (then m9), so after m5 come m6..m9.
	in := l.open(t, "", map[string]string{"Authorization": "Bearer " + aliceToken, "Last-Event-ID": seqs[4]})
	ids, _ := in.events(t, 4)
	wantIDs(t, "after m5", ids, "m6", "m7", "m8", "m9")
	if got := metric(t, l.reg, "switchboard_sse_resets_total", "garbage"); got != 4 {
		t.Errorf("garbage resets counted %v, want 4", got)
	}
	if got := metric(t, l.reg, "switchboard_sse_resets_total", "too_old"); got != 1 {
		t.Errorf("too_old resets counted %v, want 1", got)
	}
}

func TestStreamsAreFilteredByTenantAndOperator(t *testing.T) {
	l := startLive(t, live.Config{}, nil)
	alice := l.open(t, "", bearer(aliceToken))
	bob := l.open(t, "", bearer(bobToken))
	dave := l.open(t, "", bearer(daveToken))
	l.produce(t, event("globex", "g1", "message.received", ""))
	if ids, _ := dave.events(t, 1); ids[0] != "g1" {
		t.Fatalf("dave got %v, want g1", ids)
	}
	l.produce(t, event("acme", "mention-bob", live.TypeMentioned, "bob"), event("acme", "read-alice", live.TypeRead, "alice"),
		event("acme", "a1", "message.received", ""))
	ids, _ := alice.events(t, 2)
	wantIDs(t, "alice", ids, "read-alice", "a1")
	ids, _ = bob.events(t, 2)
	wantIDs(t, "bob", ids, "mention-bob", "a1")
	l.produce(t, event("globex", "g2", "message.received", ""))
	ids, _ = dave.events(t, 1)
	wantIDs(t, "dave after acme's events", ids, "g2")
}

// A client that does not read is sent reset and dropped when its buffer overflows; the others get every event and
// the feed is never held up.
func TestASlowClientIsResetAndDroppedWithoutHoldingOthers(t *testing.T) {
	// The slow client's blocked writes wait for it (they would be cut after StreamWriteTimeout otherwise).
	l := startLive(t, live.Config{BufferSize: 64}, func(c *api.Config) { c.StreamWriteTimeout = 5 * time.Minute })
	slow, err := net.Dial("tcp", strings.TrimPrefix(l.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	req, _ := http.NewRequest("GET", l.url+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+bobToken)
	if err := req.Write(slow); err != nil {
		t.Fatal(err)
	}
	fast := l.open(t, "", bearer(aliceToken))
	eventually.True(t, 10*time.Second, 5*time.Millisecond, func() bool {
		return metric(t, l.reg, "switchboard_sse_clients", "") == 2
	}, "both streams open")

	// 25 MB: more than the sockets' buffers hold (Linux grows them to a few MB), so the slow stream's writes block.
	const n = 400
	pad := strings.Repeat("x", 64<<10)
	var msgs []kafka.Message
	for i := 1; i <= n; i++ {
		b, _ := json.Marshal(map[string]any{"id": "big" + strconv.Itoa(i), "type": "message.received", "tenant_id": "acme",
			"preview": pad})
		msgs = append(msgs, kafka.Message{Key: []byte("acme"), Value: b})
	}
	// In batches the reading client keeps up with (64 frames of buffer), so only the slow one overflows.
	for i := 0; i < n; i += 25 {
		l.produce(t, msgs[i:i+25]...)
		ids, _ := fast.events(t, 25)
		wantIDs(t, "the reading client", ids[24:], "big"+strconv.Itoa(i+25))
	}
	eventually.True(t, 10*time.Second, 5*time.Millisecond, func() bool {
		return metric(t, l.reg, "switchboard_sse_drops_total", "") == 1
	}, "the slow client dropped")

	// Reading now, the slow client finds some events, then reset, then the end of the stream.
	resp, err := http.ReadResponse(bufio.NewReader(slow), req)
	if err != nil {
		t.Fatal(err)
	}
	var events, resets int
	var last string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
			last = v
			if v == "reset" {
				resets++
			} else {
				events++
			}
		}
	}
	if resets != 1 || last != "reset" || events >= n {
		t.Errorf("the slow client read %d events then %d resets (last %q); want fewer than %d, then one reset, then the end",
			events, resets, last, n)
	}
	if got := metric(t, l.reg, "switchboard_sse_resets_total", "overflow"); got != 1 {
		t.Errorf("overflow resets %v, want 1", got)
	}
}

func TestConnectionsPerOperatorAreBoundedAndHeartbeatsFlow(t *testing.T) {
	l := startLive(t, live.Config{MaxPerOperator: 2}, func(c *api.Config) { c.Heartbeat = 10 * time.Millisecond })
	a1 := l.open(t, "", bearer(aliceToken))
	l.open(t, "", bearer(aliceToken))
	resp, st := l.dial(t, "", bearer(aliceToken))
	if st != 429 {
		resp.Body.Close()
		t.Fatalf("a third stream of alice = %d, want 429", st)
	}
	l.open(t, "", bearer(bobToken)) // another operator is not affected
	for {
		if f := a1.next(t); f.comment == "ping" {
			break
		}
	}
	a1.close()
	// The server sees the closed stream at its next heartbeat, and alice may open another.
	eventually.True(t, 10*time.Second, 10*time.Millisecond, func() bool {
		resp, st := l.dial(t, "", bearer(aliceToken))
		if st == 200 {
			t.Cleanup(func() { resp.Body.Close() })
		}
		return st == 200
	}, "a stream again after closing one")
}

func TestPresenceIsBroadcastToTheTenant(t *testing.T) {
	l := startLive(t, live.Config{}, nil)
	l.putConvs(t, conv("acme", "c0000000000000001", conversation.Assigned, "alice"))
	bob := l.open(t, "", bearer(bobToken))
	dave := l.open(t, "", bearer(daveToken))
	path := "/v1/conversations/c0000000000000001/presence"
	if r := l.do(t, "POST", path, aliceToken, `{"state":"typing"}`); r.status != 204 {
		t.Fatalf("presence = %s", r)
	}
	f := bob.nextEvent(t)
	var p live.Presence
	if err := json.Unmarshal([]byte(f.data), &p); err != nil || f.event != "presence" || f.id != "" {
		t.Fatalf("frame %+v, want a presence event without id", f)
	}
	if p.ConversationID != "c0000000000000001" || p.OperatorID != "alice" || p.OperatorName != "Alice" || p.State != "typing" ||
		time.Until(p.ExpiresAt) > live.TypingFor || time.Until(p.ExpiresAt) <= 0 {
		t.Errorf("presence %+v", p)
	}
	// A stream opened now is told who is there.
	late := l.open(t, "", bearer(carolToken))
	if f := late.nextEvent(t); f.event != "presence" || !strings.Contains(f.data, `"operator_id":"alice"`) {
		t.Errorf("a new stream's first frame %+v, want alice's presence", f)
	}
	if r := l.do(t, "POST", path, aliceToken, `{"state":"left"}`); r.status != 204 {
		t.Fatalf("presence = %s", r)
	}
	if f := bob.nextEvent(t); !strings.Contains(f.data, `"state":"left"`) {
		t.Errorf("frame %+v, want left", f)
	}
	wantError(t, "a bad state", l.do(t, "POST", path, aliceToken, `{"state":"dancing"}`), 400, "invalid_presence")
	wantError(t, "an unknown conversation", l.do(t, "POST", "/v1/conversations/c0000000000000009/presence", aliceToken,
		`{"state":"viewing"}`), 404, "conversation_not_found")
	wantError(t, "another tenant's conversation", l.do(t, "POST", path, daveToken, `{"state":"viewing"}`), 404,
		"conversation_not_found")
	// Globex never heard of acme's presence: its next frame is its own event.
	l.produce(t, event("globex", "g1", "message.received", ""))
	if f := dave.nextEvent(t); f.eventID() != "g1" {
		t.Errorf("dave got %+v, want g1", f)
	}
}

func TestCountsFollowDurableEventsAtMostOncePerSecond(t *testing.T) {
	var calls atomic.Int64
	l := startLive(t, live.Config{}, func(c *api.Config) {
		c.Counts = func(tenant, operator string) (any, error) {
			return map[string]any{"tenant": tenant, "operator": operator, "call": calls.Add(1)}, nil
		}
	})
	s := l.open(t, "", bearer(aliceToken))
	if f := s.nextEvent(t); f.event != "counts" || !strings.Contains(f.data, `"operator":"alice"`) {
		t.Fatalf("first frame %+v, want counts at connect", f)
	}
	l.produce(t, received("acme", "m", 1, 1)...)
	if ids, _ := s.events(t, 1); ids[0] != "m1" {
		t.Fatalf("got %v", ids)
	}
	if f := s.nextEvent(t); f.event != "counts" {
		t.Fatalf("after m1: %+v, want counts", f)
	}
	// Three events within a second: one counts after them.
	l.produce(t, received("acme", "m", 2, 4)...)
	var kinds []string
	for len(kinds) < 4 {
		f := s.nextEvent(t)
		kinds = append(kinds, f.event+":"+f.eventID())
	}
	if got := strings.Join(kinds, " "); got != "message.received:m2 message.received:m3 message.received:m4 counts:" {
		t.Errorf("frames %s, want m2 m3 m4 then one counts", got)
	}
	l.produce(t, received("acme", "m", 5, 5)...)
	if f := s.nextEvent(t); f.eventID() != "m5" {
		t.Errorf("then %+v, want m5 (no second counts for m2..m4)", f)
	}
}

// metric is the value of a metric in reg with the label value given ("" for none).
func metric(t testing.TB, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label != "" && (len(m.GetLabel()) == 0 || m.GetLabel()[0].GetValue() != label) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			}
		}
	}
	return 0
}

// A stream outlives the server's WriteTimeout (one deadline for a whole response in fasthttp): it moves the deadline
// before each write.
func TestStreamsOutliveTheServersWriteTimeout(t *testing.T) {
	hub, err := live.New(live.Config{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := tenant.Load("testdata/tenants.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a, err := api.New(api.Config{Directory: tenant.NewDirectory(cfg), Reader: node.APIReader(storetest.Open(t, store.Config{})),
		Logger: slog.New(slog.DiscardHandler), EdgeConfig: api.EdgeConfig{Live: hub, Heartbeat: 5 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const writeTimeout = 100 * time.Millisecond
	srv := &fasthttp.Server{Handler: a.Serve, WriteTimeout: writeTimeout}
	go func() { _ = srv.Serve(ln) }()
	defer func() { _ = srv.Shutdown() }()
	defer hub.Close()
	l := &liveEnv{env: &env{url: "http://" + ln.Addr().String()}}
	s := l.open(t, "", bearer(aliceToken))
	began := time.Now()
	for pings := 0; pings < 10 || time.Since(began) < 3*writeTimeout; {
		if f := s.next(t); f.comment == "ping" {
			pings++
		}
	}
}

// A closed stream frees its operator's slot as soon as the client goes (a reload, a closed tab), without waiting
// for a heartbeat's write to fail: here heartbeats are an hour apart.
func TestAClosedStreamFreesItsSlotAtOnce(t *testing.T) {
	l := startLive(t, live.Config{MaxPerOperator: 1}, nil)
	a := l.open(t, "", bearer(aliceToken))
	if resp, st := l.dial(t, "", bearer(aliceToken)); st != 429 {
		resp.Body.Close()
		t.Fatalf("a second stream of alice = %d, want 429", st)
	}
	a.close()
	eventually.True(t, 10*time.Second, 10*time.Millisecond, func() bool {
		resp, st := l.dial(t, "", bearer(aliceToken))
		if st == 200 {
			t.Cleanup(func() { resp.Body.Close() })
		}
		return st == 200
	}, "a stream again after closing one, with no heartbeat in between")
}

// A client that keeps sending bytes while its stream ends (here: a write timeout, as it reads nothing) must not
// leave a reader on the connection after the server has recycled it: under -race the next requests, which reuse
// the pooled reader, would race with it, and without -race it could dereference a nil reader and kill the node.
func TestAStreamThatEndsLeavesNoReaderOnItsConnection(t *testing.T) {
	l := startLive(t, live.Config{}, func(c *api.Config) { c.StreamWriteTimeout = 100 * time.Millisecond })
	c, err := net.Dial("tcp", strings.TrimPrefix(l.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req, _ := http.NewRequest("GET", l.url+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+bobToken)
	if err := req.Write(c); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() { // junk, until the server closes the connection or the test ends (bounded by both)
		junk := []byte(strings.Repeat("j", 512))
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := c.Write(junk); err != nil {
				return
			}
		}
	}()
	eventually.True(t, 10*time.Second, 5*time.Millisecond, func() bool {
		return metric(t, l.reg, "switchboard_sse_clients", "") == 1
	}, "the stream open")
	pad := strings.Repeat("x", 64<<10)
	// Up to 25 MB while the stream is open: more than the socket's buffers hold on loopback (bounded; it stops as
	// soon as the stream ends).
	for i := 1; i <= 400 && metric(t, l.reg, "switchboard_sse_clients", "") == 1; i += 25 {
		var msgs []kafka.Message
		for j := i; j < i+25; j++ {
			b, _ := json.Marshal(map[string]any{"id": "big" + strconv.Itoa(j), "type": "message.received",
				"tenant_id": "acme", "preview": pad})
			msgs = append(msgs, kafka.Message{Key: []byte("acme"), Value: b})
		}
		l.produce(t, msgs...)
	}
	// The feed reads what was produced and the stream writes it until the socket's buffers are full: seconds under
	// -race beside other packages' tests. (It once failed here for minutes with nothing sent: the feed's fetches of
	// 8 MB timed out on a busy machine and were retried for ever; see inbox.FetchWait.) On failure it says what the
	// stream sent and where the feed and the stream wait.
	ended := false
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if ended = metric(t, l.reg, "switchboard_sse_clients", "") == 0; ended {
			break
		}
	}
	if !ended {
		t.Logf("events sent %v, drops %v, overflow resets %v", metric(t, l.reg, "switchboard_sse_events_sent_total", ""),
			metric(t, l.reg, "switchboard_sse_drops_total", ""), metric(t, l.reg, "switchboard_sse_resets_total", "overflow"))
		buf := make([]byte, 8<<20)
		buf = buf[:runtime.Stack(buf, true)]
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "switchboard/api") {
				t.Logf("goroutine %s", g)
			}
		}
		t.Fatal("the stream did not end by its write timeout within 90 s")
	}
	// Requests on new connections take pooled readers; the server must still answer them all.
	// A closed stream frees its operator's slot when the server notices the close, which a loaded machine may do
	// after the next dial: 429 (too many streams) is waited out, any other answer fails.
	for range 50 {
		eventually.True(t, 10*time.Second, 5*time.Millisecond, func() bool {
			resp, st := l.dial(t, "", bearer(aliceToken))
			if st != 200 && st != 429 {
				t.Fatalf("a stream after the junk client's ended = %d", st)
			}
			if resp != nil {
				resp.Body.Close()
			}
			return st == 200
		}, "a stream after the junk client's ended")
	}
}

// Signing out ends the session's open streams at their next heartbeat: a stream is not a way to keep reading a
// tenant's events after the credential is gone.
func TestSigningOutEndsTheSessionsStreams(t *testing.T) {
	l := startLive(t, live.Config{}, func(c *api.Config) { c.Heartbeat = 20 * time.Millisecond })
	s := l.signIn(t, aliceToken)
	st := l.open(t, "", map[string]string{"Cookie": s.cookie})
	for f := st.next(t); f.comment != "ping"; f = st.next(t) {
	}
	if r := l.send(t, "DELETE", "/v1/session", map[string]string{"Cookie": s.cookie, "X-CSRF-Token": s.body.CSRFToken}, ""); r.status != 204 {
		t.Fatalf("sign out = %s", r)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-st.frames:
			if !ok {
				return // ended
			}
		case <-deadline:
			t.Fatal("the stream of a signed-out session still runs 10 s later")
		}
	}
}
