package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/api/live"
	"github.com/switchboard-hq/switchboard/ingest/broker"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/meta"
)

// sseFrame is one frame of GET /v1/events: id is empty for frames outside the replay log (counts, presence, reset).
type sseFrame struct {
	id        int64 // -1: none
	event     string
	eventID   string // the event's own id (its "id" field): the same on a repeat
	messageID string
}

// sseClient follows one tenant's GET /v1/events across nodes, as a console does: it reads a stream until the
// connection ends, then opens the next one with Last-Event-ID, and keeps every frame it got.
type sseClient struct {
	t     *testing.T
	token string
	// hc has no timeout: a stream lasts as long as the test.
	hc *http.Client

	mu     sync.Mutex
	frames []sseFrame
	last   string // the id of the last frame with one; "" before any
}

// open opens a stream on n resuming after c.last ("-1", everything the node's replay log holds, before any) and
// returns once it is answered 200; a goroutine reads it into c.frames and closes the returned channel when the
// stream ends (the node died, or ctx ended).
func (c *sseClient) open(ctx context.Context, n *node) (<-chan struct{}, error) {
	c.mu.Lock()
	last := c.last
	c.mu.Unlock()
	if last == "" {
		last = "-1"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.url("/v1/events"), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Last-Event-ID", last)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		resp.Body.Close()
		return nil, fmt.Errorf("GET /v1/events on %s: %d", n.http, resp.StatusCode)
	}
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		f := sseFrame{id: -1}
		for sc.Scan() {
			switch line := sc.Text(); {
			case line == "":
				if f.event != "" {
					c.add(f)
				}
				f = sseFrame{id: -1}
			case strings.HasPrefix(line, "id: "):
				id, err := strconv.ParseInt(line[4:], 10, 64)
				if err != nil {
					c.t.Errorf("frame id %q", line)
				}
				f.id = id
			case strings.HasPrefix(line, "event: "):
				f.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				var ev conversation.Event
				if f.id >= 0 && json.Unmarshal([]byte(line[6:]), &ev) == nil {
					f.eventID, f.messageID = ev.ID, ev.MessageID
				}
			}
		}
	}()
	return ended, nil
}

func (c *sseClient) add(f sseFrame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frames = append(c.frames, f)
	if f.id >= 0 {
		c.last = strconv.FormatInt(f.id, 10)
	}
}

// durable returns the frames with an id (events of the replay log), in the order received.
func (c *sseClient) durable() []sseFrame {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []sseFrame
	for _, f := range c.frames {
		if f.id >= 0 {
			out = append(out, f)
		}
	}
	return out
}

// received counts the message.received events per message id (the customer's wamid).
func (c *sseClient) received() map[string]int {
	out := map[string]int{}
	for _, f := range c.durable() {
		if f.event == conversation.EventMessageReceived {
			out[f.messageID]++
		}
	}
	return out
}

// topicEvent is one record of switchboard.events as a stream shows it.
type topicEvent struct {
	offset int64
	id     string // the event's own id; repeats of one event (a relay page sent again) share it
	typ    string
}

// tenantEvents reads tenant's partition of switchboard.events from its start to its end and returns the events a
// stream of operator may show: the tenant's, not audit.recorded, mentions and read marks only operator's.
func tenantEvents(addr, tenant, operator string) ([]topicEvent, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := kafka.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	ps, err := conn.ReadPartitions(inbox.EventsTopic)
	conn.Close()
	if err != nil {
		return nil, err
	}
	ids := make([]int, len(ps))
	for i := range ps {
		ids[i] = i
	}
	part := kafka.Murmur2Balancer{}.Balance(kafka.Message{Key: []byte(tenant)}, ids...)
	lc, err := kafka.DialLeader(ctx, "tcp", addr, inbox.EventsTopic, part)
	if err != nil {
		return nil, err
	}
	end, err := lc.ReadLastOffset()
	lc.Close()
	if err != nil || end == 0 {
		return nil, err
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: inbox.EventsTopic, Partition: part,
		MaxWait: inbox.FetchWait(100 * time.Millisecond)})
	defer r.Close()
	if err := r.SetOffset(kafka.FirstOffset); err != nil {
		return nil, err
	}
	var out []topicEvent
	for {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			return nil, err
		}
		var ev struct {
			ID         string `json:"id"`
			Type       string `json:"type"`
			TenantID   string `json:"tenant_id"`
			OperatorID string `json:"operator_id"`
		}
		if json.Unmarshal(m.Value, &ev) == nil && ev.Type != "" {
			t := ev.TenantID
			if t == "" {
				t = string(m.Key)
			}
			switch {
			case t != tenant, ev.Type == live.TypeAuditRecorded:
			case (ev.Type == live.TypeMentioned || ev.Type == live.TypeRead) && ev.OperatorID != operator:
			default:
				out = append(out, topicEvent{offset: m.Offset, id: ev.ID, typ: ev.Type})
			}
		}
		if m.Offset >= end-1 {
			return out, nil
		}
	}
}

// TestStreamResumesAcrossKill: a `switchboard broker` process and three nodes with --changelog and a cluster secret.
// An operator's event stream is open on the node owning her tenant while customers' webhooks arrive through every
// node; that node is killed (kill -9) and the stream resumes on another node with Last-Event-ID, while webhooks go on
// through the survivors (retried on failure, as Meta does) and a /v1 read goes through each survivor (retried while
// the partition moves). The stream shows every event of the tenant in switchboard.events (after the repeats a
// failover's relay may write, which carry the same event id) once, in offset order, with no reset; every
// acknowledged webhook is one message.received event; each survivor answers the read.
func TestStreamResumesAcrossKill(t *testing.T) {
	if testing.Short() {
		t.Skip("three nodes and a broker process")
	}
	const tenant, webhooks = "acme", 150
	br, nodes := startCluster(t, 3, testConfigY)
	a, _ := ownerOf(t, br, nodes, tenant)
	var survivors []*node
	for _, n := range nodes {
		if n != a {
			survivors = append(survivors, n)
		}
	}
	t.Logf("%s is owned by %s: its stream starts there, which is killed", tenant, a.http)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := &sseClient{t: t, token: aliceToken, hc: &http.Client{}}
	ended, err := c.open(ctx, a)
	if err != nil {
		t.Fatal(err)
	}

	// Customers write, 20 ms apart, each webhook to the next live node; one that is not answered 200 goes to the
	// next (the same body: its wamid makes a repeat harmless), until it is.
	customer := func(i int) string { return fmt.Sprintf("4917000%04d", i) }
	var killed atomic.Bool
	var ackMu sync.Mutex
	acked := map[string]bool{}
	sent := make(chan error, 1)
	go func() {
		k := 0
		for i := range webhooks {
			wamid := fmt.Sprintf("wamid.sfo.%d", i)
			body := meta.Payload(meta.Change{PhoneNumberID: acmePhone,
				Messages: []meta.Message{textMsg(customer(i), wamid, "hello", time.Now().Unix())}})
			err := eventually.Wait(60*time.Second, 50*time.Millisecond, func() error {
				live := nodes
				if killed.Load() {
					live = survivors
				}
				n := live[k%len(live)]
				k++
				req, _ := http.NewRequest(http.MethodPost, n.url("/webhooks/whatsapp"), bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set(meta.SignatureHeader, meta.Sign(acmeSecret, body))
				resp, err := client.Do(req)
				if err != nil {
					return err
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					return fmt.Errorf("webhook to %s: %d", n.http, resp.StatusCode)
				}
				return nil
			})
			if err != nil {
				sent <- fmt.Errorf("webhook %s: %w", wamid, err)
				return
			}
			ackMu.Lock()
			acked[wamid] = true
			ackMu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
		sent <- nil
	}()

	eventually.True(t, 60*time.Second, 20*time.Millisecond, func() bool { return len(c.received()) >= webhooks/6 },
		"a sixth of the messages received on the first stream")
	ackMu.Lock()
	var before []string // the conversations of the webhooks acknowledged before the kill
	for w := range acked {
		i, _ := strconv.Atoi(strings.TrimPrefix(w, "wamid.sfo."))
		before = append(before, conversation.ID("acme-wa", customer(i)))
	}
	ackMu.Unlock()
	a.kill()
	killed.Store(true)
	killedAt := time.Now()
	// When a survivor owns the tenant's partition (its switchboard_partition_owned), for the log.
	moved := make(chan time.Duration, 1)
	go func() {
		owned := fmt.Sprintf("switchboard_partition_owned{partition=\"%d\"}", broker.Partitioner(4)(tenant))
		for range 600 {
			for _, n := range survivors {
				if code, b := n.get("/metrics", ""); code == 200 && bytes.Contains(b, []byte(owned)) {
					moved <- time.Since(killedAt)
					return
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		close(moved)
	}()
	<-ended
	first := c.durable()
	t.Logf("the stream on %s ended with the kill after %d events (last id %d); it resumes on %s",
		a.http, len(first), first[len(first)-1].id, survivors[0].http)
	// The stream reopens (its answer waits for its first counts frame, which the tenant's owner computes: the
	// failover) while the reads below go on.
	type reopened struct {
		ended <-chan struct{}
		took  time.Duration
		err   error
	}
	reopen := make(chan reopened, 1)
	go func() {
		var ro reopened
		ro.err = eventually.Wait(60*time.Second, 100*time.Millisecond, func() error {
			var err error
			ro.ended, err = c.open(ctx, survivors[0])
			return err
		})
		ro.took = time.Since(killedAt)
		reopen <- ro
	}()

	// /v1 reads through the survivors in turn (one of them does not own the tenant: it forwards to whichever does)
	// from the kill until the last webhook, each retried on 503 or no answer until it holds every conversation
	// written before the kill.
	reads, retried, maxTries, codes := 0, 0, 0, map[int]int{}
	var slowest time.Duration
	for done := false; !done; {
		select {
		case err := <-sent:
			if err != nil {
				t.Fatal(err)
			}
			done = true
		default:
		}
		n := survivors[reads%len(survivors)]
		tries, start := 0, time.Now()
		eventually.NoError(t, 90*time.Second, 100*time.Millisecond, func() error {
			tries++
			code, b := n.get("/v1/conversations?limit=500", aliceToken)
			if code != 200 {
				codes[code]++
				return fmt.Errorf("GET /v1/conversations through %s: %d %s", n.http, code, b)
			}
			var l convList
			if err := json.Unmarshal(b, &l); err != nil {
				t.Fatalf("GET /v1/conversations through %s: %v\n%s", n.http, err, b)
			}
			has := map[string]bool{}
			for _, cv := range l.Conversations {
				has[cv.ID] = true
			}
			for _, id := range before {
				if !has[id] {
					codes[-1]++
					return fmt.Errorf("GET /v1/conversations through %s: %d conversations, not %s", n.http,
						len(l.Conversations), id)
				}
			}
			return nil
		}, "a read through %s", n.http)
		reads++
		slowest = max(slowest, time.Since(start))
		maxTries = max(maxTries, tries)
		if tries > 1 {
			retried++
		}
	}
	ro := <-reopen
	if ro.err != nil {
		t.Fatalf("the stream reopened on %s: %v", survivors[0].http, ro.err)
	}
	ended = ro.ended
	t.Logf("the stream was answered on %s %.2f s after the kill", survivors[0].http, ro.took.Seconds())
	if d, ok := <-moved; ok {
		t.Logf("a survivor owned %s's partition %.2f s after the kill", tenant, d.Seconds())
	}
	t.Logf("%d reads through the survivors during the failover and the load, all answered with the %d conversations "+
		"written before the kill, the slowest in %.2f s; %d needed retries (at most %d tries; failed tries by status, "+
		"-1 incomplete: %v)", reads, len(before), slowest.Seconds(), retried, maxTries, codes)

	// Every acknowledged webhook reaches the stream, and the stream holds exactly the tenant's events of the topic.
	var last error
	err = eventually.Wait(90*time.Second, 200*time.Millisecond, func() error {
		select {
		case <-ended:
			t.Fatalf("the stream on %s ended", survivors[0].http)
		default:
		}
		got := c.received()
		ackMu.Lock()
		defer ackMu.Unlock()
		for w := range acked {
			if got[w] == 0 {
				last = fmt.Errorf("acknowledged %s not received yet", w)
				return last
			}
		}
		topic, err := tenantEvents(br.addr, tenant, "alice")
		if err != nil {
			last = err
			return err
		}
		want := map[string]int64{} // event id → its first offset
		for _, e := range topic {
			key := e.id
			if key == "" {
				key = "offset " + strconv.FormatInt(e.offset, 10)
			}
			if _, ok := want[key]; !ok {
				want[key] = e.offset
			}
		}
		have := map[string]bool{}
		for _, f := range c.durable() {
			key := f.eventID
			if key == "" {
				key = "offset " + strconv.FormatInt(f.id, 10)
			}
			if _, ok := want[key]; !ok {
				t.Fatalf("received event %s (id %d, %s), which the topic does not hold", key, f.id, f.event)
			}
			have[key] = true
		}
		for key, off := range want {
			if !have[key] {
				last = fmt.Errorf("event %s (offset %d) of the topic not received (%d in the topic, %d received)",
					key, off, len(want), len(have))
				return last
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v (last: %v)", err, last)
	}

	frames := c.durable()
	prev, seen := int64(-1), map[string]bool{}
	for _, f := range frames {
		if f.id <= prev {
			t.Errorf("event id %d (%s) after %d: ids must increase", f.id, f.event, prev)
		}
		prev = f.id
		if f.eventID != "" {
			if seen[f.eventID] {
				t.Errorf("event %s (%s) received twice", f.eventID, f.event)
			}
			seen[f.eventID] = true
		}
	}
	c.mu.Lock()
	all := append([]sseFrame(nil), c.frames...)
	c.mu.Unlock()
	for _, f := range all {
		if f.event == "reset" {
			t.Errorf("the stream was reset: the resume did not find its place")
		}
	}
	got := c.received()
	for w, k := range got {
		if !acked[w] || k != 1 {
			t.Errorf("message %s received %d times, acknowledged %v", w, k, acked[w])
		}
	}
	if len(got) != len(acked) {
		t.Errorf("%d messages received, %d acknowledged", len(got), len(acked))
	}
	topic, err := tenantEvents(br.addr, tenant, "alice")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d webhooks acknowledged; %d events received over two streams, %d records of %s in the topic (%d repeats)",
		len(acked), len(frames), len(topic), tenant, len(topic)-len(seen))
}
