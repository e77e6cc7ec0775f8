package sender

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/actors/lifecycletest"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/store/storetest"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/broker"
	"github.com/switchboard-hq/switchboard/ingest/broker/brokertest"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/sim"
)

// Run first produces every answer an earlier process recorded and did not see applied — here 700, more than one
// page — as delivery records on switchboard.inbox, through the embedded broker.
func TestRunProducesEveryRecordedAnswer(t *testing.T) {
	b := brokertest.Start(t, brokertest.Config{Topics: []string{inbox.Topic}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st := storetest.Open(t, store.Config{})
	cfg := directory(t, `{id: t-wa, type: whatsapp, phone_number_id: "1", app_secret: "s", verify_token: "v", access_token: "a"}`)
	const n = 700
	batch := st.NewBatch()
	for i := range n {
		rec := inbox.Record{Tenant: "t", IngestAt: 1, Items: []inbox.Item{{Kind: inbox.KindDelivery, Channel: "t-wa",
			Delivery: &inbox.Delivery{ConversationID: "c", Seq: uint64(i + 1), MessageID: fmt.Sprintf("m%d", i), WAMID: fmt.Sprintf("wamid.%d", i)}}}}
		v, _ := json.Marshal(rec)
		if err := batch.PutDeliveryNote("t", store.NoteRef{Conversation: "c", Seq: uint64(i + 1)}, v); err != nil {
			t.Fatal(err)
		}
	}
	storetest.Commit(t, st, batch)
	p := producer(t, b.Addr())
	s, err := New(Config{Store: st, Directory: tenant.NewDirectory(cfg), Producer: p, BaseURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	runDone := make(chan error, 1)
	go func() { runDone <- s.Run(ctx) }()
	defer func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
		if err := <-runDone; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{b.Addr()}, Topic: inbox.Topic, Partition: 0, MaxWait: inbox.FetchWait(50 * time.Millisecond)})
	defer r.Close()
	seen := map[string]bool{}
	for len(seen) < n {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("after %d of %d deliveries: %v", len(seen), n, err)
		}
		rec, err := inbox.Decode(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range rec.Items {
			if it.Kind != inbox.KindDelivery || seen[it.Delivery.MessageID] {
				t.Fatalf("unexpected or repeated item %+v", it)
			}
			seen[it.Delivery.MessageID] = true
		}
	}
	if hw, _ := r.ReadLag(ctx); hw != 0 {
		t.Errorf("%d records beyond the %d deliveries", hw, n)
	}
}

// With queues of two jobs, 300 replies to two customers queued at once overflow the worker: the overflow goes
// through the store, and each customer still receives its replies in the order they were queued, each once.
func TestOrderKeptThroughOverflow(t *testing.T) {
	b := brokertest.Start(t, brokertest.Config{Topics: []string{inbox.Topic}})
	st := storetest.Open(t, store.Config{})
	meta := startSim(t)
	cfg := directory(t, `{id: t-wa, type: whatsapp, phone_number_id: "100", app_secret: "s", verify_token: "v", access_token: "a", rate_limit: 1000}`)
	p := producer(t, b.Addr())
	s, err := New(Config{Store: st, Directory: tenant.NewDirectory(cfg), Producer: p, BaseURL: meta.URL(),
		Workers: 1, QueueLen: 2, RecipientBurst: 10000, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	go func() { defer close(runDone); _ = s.Run(runCtx) }()
	defer func() { stop(); <-runDone }()

	const n = 300
	convs := []*conversation.Conversation{
		{ID: "c1", TenantID: "t", ChannelID: "t-wa", Contact: conversation.Contact{WaID: "27000000001"}},
		{ID: "c2", TenantID: "t", ChannelID: "t-wa", Contact: conversation.Contact{WaID: "27000000002"}},
	}
	want := map[string][]string{}
	for i := range n {
		c := convs[i%2]
		m := queueReply(t, st, s, c, i)
		want[c.Contact.WaID] = append(want[c.Contact.WaID], m.ID)
	}
	eventually.NoError(t, time.Minute, 10*time.Millisecond, func() error { return accepted(meta, n) },
		"Meta accepts the replies")
	got := map[string][]string{}
	for _, r := range meta.Messages() {
		got[r.To] = append(got[r.To], r.IdempotencyKey)
	}
	for to, ids := range want {
		if fmt.Sprint(got[to]) != fmt.Sprint(ids) {
			t.Errorf("customer %s received %d replies in the order %v…, want %d in the order %v…", to, len(got[to]),
				head(got[to]), len(ids), head(ids))
		}
	}
	if queued := testutil.ToFloat64(s.m.queued); queued < n {
		t.Errorf("%v jobs queued, want at least %d", queued, n)
	}
}

// queueReply queues reply i to c's customer durably (queueJob) and hands its job to s.
func queueReply(t *testing.T, st *store.Store, s *Sender, c *conversation.Conversation, i int) *conversation.Message {
	t.Helper()
	m, j := queueJob(t, st, c, i)
	s.Notify(j)
	return m
}

// queueJob queues reply i (seq i+1, id m<i>) to c's customer in st, durably, and returns it and its job.
func queueJob(t *testing.T, st *store.Store, c *conversation.Conversation, i int) (*conversation.Message, Job) {
	t.Helper()
	m := &conversation.Message{ConversationID: c.ID, Seq: uint64(i + 1), ID: fmt.Sprintf("m%03d", i),
		Direction: conversation.DirOut, Type: "text", Text: "reply", Status: conversation.Pending}
	batch := st.NewBatch()
	j, err := Queue(batch, c, m)
	if err != nil {
		t.Fatal(err)
	}
	storetest.Commit(t, st, batch)
	return m, j
}

func head(ids []string) []string { return ids[:min(len(ids), 8)] }

// accepted says how far the simulator is from having accepted n messages.
func accepted(meta *sim.Sim, n int64) error {
	if got := meta.Stats().Accepted; got < n {
		return fmt.Errorf("%d of %d accepted", got, n)
	}
	return nil
}

// A sender closed while it runs stops and Close waits for it; Close is idempotent; Run runs once; a sender closed
// before it ran returns from Run at once; negative settings are refused.
func TestLifecycle(t *testing.T) {
	st := storetest.Open(t, store.Config{})
	cfg := directory(t, `{id: t-wa, type: whatsapp, phone_number_id: "1", app_secret: "s", verify_token: "v", access_token: "a"}`)
	p := producer(t, "127.0.0.1:1")
	c := Config{Store: st, Directory: tenant.NewDirectory(cfg), Producer: p, BaseURL: "http://127.0.0.1:1",
		Logger: slog.New(slog.DiscardHandler)}
	s, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	lifecycletest.Check(t, s, s.started.Load, ErrRunTwice)
	c.Registerer = nil
	closed, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := closed.Close(); err != nil {
		t.Fatal(err)
	}
	if err := closed.Run(context.Background()); err != nil {
		t.Errorf("Run after Close: %v", err)
	}
	c.Workers = -1
	if _, err := New(c); err == nil {
		t.Error("New with negative Workers: want an error")
	}
}

// Jobs an earlier process queued in the store and never sent — 200 of them, a hundred times a worker's queue of
// two — are read back from the store in pages when Run starts and sent in the order they were queued, each once.
func TestRunSendsJobsLeftInTheStore(t *testing.T) {
	b := brokertest.Start(t, brokertest.Config{Topics: []string{inbox.Topic}})
	st := storetest.Open(t, store.Config{})
	meta := startSim(t)
	cfg := directory(t, `{id: t-wa, type: whatsapp, phone_number_id: "100", app_secret: "s", verify_token: "v", access_token: "a", rate_limit: 1000}`)
	const n = 200
	c := &conversation.Conversation{ID: "c1", TenantID: "t", ChannelID: "t-wa", Contact: conversation.Contact{WaID: "27000000001"}}
	var want []string
	for i := range n {
		m := &conversation.Message{ConversationID: c.ID, Seq: uint64(i + 1), ID: fmt.Sprintf("m%03d", i),
			Direction: conversation.DirOut, Type: "text", Text: "reply", Status: conversation.Pending}
		batch := st.NewBatch()
		if _, err := Queue(batch, c, m); err != nil {
			t.Fatal(err)
		}
		storetest.Commit(t, st, batch)
		want = append(want, m.ID)
	}
	p := producer(t, b.Addr())
	s, err := New(Config{Store: st, Directory: tenant.NewDirectory(cfg), Producer: p, BaseURL: meta.URL(),
		Workers: 2, QueueLen: 2, RecipientBurst: 10000, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	runSender(t, s)
	eventually.NoError(t, time.Minute, 10*time.Millisecond, func() error { return accepted(meta, n) },
		"Meta accepts the replies")
	var got []string
	for _, r := range meta.Messages() {
		got = append(got, r.IdempotencyKey)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("received %d messages in the order %v…, want %d in the order %v…", len(got), head(got), n, head(want))
	}
	eventually.NoError(t, time.Minute, 10*time.Millisecond, func() error {
		left, err := st.SendJobs("t", "t-wa", 0, 1)
		if err == nil && len(left) > 0 {
			err = fmt.Errorf("send job %d still queued", left[0].Ref.Seq)
		}
		return err
	}, "send jobs leave the store once their messages were accepted")
}

// A job is durable and dropped by Notify (its worker in overflow) while a batch that took an earlier queue position
// is still being written, so the store cannot show it yet. The rescan must not end the overflow before it has read
// the dropped job: both are sent, in queue order, once the earlier batch is committed.
func TestDroppedJobBehindAnOpenBatch(t *testing.T) {
	b := brokertest.Start(t, brokertest.Config{Topics: []string{inbox.Topic}})
	st := storetest.Open(t, store.Config{})
	meta := startSim(t)
	cfg := directory(t, `{id: t-wa, type: whatsapp, phone_number_id: "100", app_secret: "s", verify_token: "v", access_token: "a", rate_limit: 1000}`)
	p := producer(t, b.Addr())
	s, err := New(Config{Store: st, Directory: tenant.NewDirectory(cfg), Producer: p, BaseURL: meta.URL(),
		Workers: 1, QueueLen: 1, RecipientBurst: 10000, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	c := &conversation.Conversation{ID: "c1", TenantID: "t", ChannelID: "t-wa", Contact: conversation.Contact{WaID: "27000000001"}}
	queue := func(seq uint64) (*store.Batch, Job) {
		m := &conversation.Message{ConversationID: c.ID, Seq: seq, ID: fmt.Sprintf("m%d", seq),
			Direction: conversation.DirOut, Type: "text", Text: "reply", Status: conversation.Pending}
		batch := st.NewBatch()
		j, err := Queue(batch, c, m)
		if err != nil {
			t.Fatal(err)
		}
		return batch, j
	}
	open, first := queue(1) // takes the earlier position, committed last
	later, second := queue(2)
	storetest.Commit(t, st, later)
	s.Notify(second) // workers start in overflow: dropped, left to the rescan
	runDone := make(chan error, 1)
	go func() { runDone <- s.Run(context.Background()) }()
	defer func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
		if err := <-runDone; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	// The rescan has taken the token New left for it: it is reading the store, which cannot show the dropped job
	// while the earlier batch is open.
	ch := s.channels["t-wa"]
	eventually.True(t, time.Minute, time.Millisecond, func() bool { return len(ch.rescan) == 0 }, "rescan running")
	if jobs, err := s.storedJobs(ch, 0, 0, refillBatch); err != nil || len(jobs) != 0 {
		t.Fatalf("with the earlier batch open the store shows %d jobs, %v; want none", len(jobs), err)
	}
	storetest.Commit(t, st, open)
	s.Notify(first)
	eventually.NoError(t, time.Minute, 10*time.Millisecond, func() error { return accepted(meta, 2) },
		"Meta accepts both replies")
	var got []string
	for _, r := range meta.Messages() {
		got = append(got, r.IdempotencyKey)
	}
	if fmt.Sprint(got) != "[m1 m2]" {
		t.Errorf("sent %v, want [m1 m2]", got)
	}
}

// startSim serves the project's Cloud API simulator on a free loopback port until the test ends.
func startSim(t *testing.T) *sim.Sim {
	t.Helper()
	meta, err := sim.New(sim.Config{Addr: "127.0.0.1:0", Rate: 1000, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = meta.Run(ctx) }()
	t.Cleanup(func() { stop(); <-done })
	return meta
}

// directory is the directory of tenant t with the one channel given (a YAML flow mapping).
func directory(t *testing.T, channel string) *tenant.Config {
	t.Helper()
	cfg, err := tenant.Parse([]byte("tenants:\n  - id: t\n    channels:\n      - " + channel + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// producer is an inbox producer to addr, closed when the test ends.
func producer(t *testing.T, addr string) *broker.Producer {
	t.Helper()
	p, err := broker.NewProducer(broker.ProducerConfig{Brokers: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// The sender follows the directory: a channel added at runtime gets workers when its first job comes, and a channel's
// rotated access token and changed rate limit are what its next send uses.
func TestChannelsFollowTheDirectory(t *testing.T) {
	st := storetest.Open(t, store.Config{})
	dir := tenant.NewDirectory(directory(t, `{id: t-wa, type: whatsapp, phone_number_id: "1", app_secret: "s", verify_token: "v", access_token: "a", rate_limit: 10}`))
	s, err := New(Config{Store: st, Directory: dir, BaseURL: "http://127.0.0.1:1", Producer: &broker.Producer{}})
	if err != nil {
		t.Fatal(err)
	}
	if s.channel("t-wa-2") != nil {
		t.Fatal("a channel the configuration does not have")
	}
	cfg, err := tenant.Parse([]byte(`tenants:
  - id: t
    channels:
      - {id: t-wa, type: whatsapp, phone_number_id: "1", app_secret: "s", verify_token: "v", access_token: "rotated", rate_limit: 40}
      - {id: t-wa-2, type: whatsapp, phone_number_id: "2", app_secret: "s", verify_token: "v", access_token: "b"}
`))
	if err != nil {
		t.Fatal(err)
	}
	dir.Replace(cfg)
	if c := s.channel("t-wa-2"); c == nil || c.tenant != "t" || len(c.workers) != s.cfg.Workers {
		t.Fatalf("the added channel: %+v", c)
	}
	c := s.channel("t-wa")
	if got := s.current(c); got.AccessToken != "rotated" || c.limiter.Limit() != limitOf(40) {
		t.Errorf("after the change the channel sends with token %q at %v/s, want rotated at %v", got.AccessToken,
			c.limiter.Limit(), limitOf(40))
	}
}

// A channel removed from its tenant sends nothing more: a job still queued for it fails at once with a reason naming
// the channel (the conversation shows the message failed), and never reaches the API with the credential the tenant
// took back; the tenant's other channel keeps sending.
func TestRemovedChannelFailsItsJobs(t *testing.T) {
	st := storetest.Open(t, store.Config{})
	meta := startSim(t)
	both := `tenants:
  - id: t
    channels:
      - {id: t-wa, type: whatsapp, phone_number_id: "1", app_secret: "s", verify_token: "v", access_token: "a"}
      - {id: t-wa-2, type: whatsapp, phone_number_id: "2", app_secret: "s", verify_token: "v", access_token: "b"}
`
	cfg, err := tenant.Parse([]byte(both))
	if err != nil {
		t.Fatal(err)
	}
	dir := tenant.NewDirectory(cfg)
	s, err := New(Config{Store: st, Directory: dir, BaseURL: meta.URL(), Producer: &broker.Producer{}, MaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	removed, kept := s.channel("t-wa-2"), s.channel("t-wa")
	next, _, err := tenant.ApplyChange(&cfg.Tenants[0], tenant.Change{Channel: &tenant.ChannelChange{ID: "t-wa-2", Delete: true}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir.Replace(&tenant.Config{Tenants: []tenant.Tenant{*next}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	job := func(ch string) *Job {
		return &Job{Tenant: "t", Channel: ch, ConversationID: "c-" + ch, Seq: 1, MessageID: "m-" + ch, To: "27000000001",
			Type: "text", Text: "hello"}
	}
	d, ok := s.send(ctx, removed, job("t-wa-2"))
	if !ok || d.WAMID != "" || !strings.Contains(d.ErrorTitle, "channel t-wa-2 was removed") {
		t.Fatalf("a send on the removed channel: %+v (ok %v)", d, ok)
	}
	if d, ok := s.send(ctx, kept, job("t-wa")); !ok || d.WAMID == "" {
		t.Fatalf("a send on the remaining channel: %+v (ok %v)", d, ok)
	}
	if got := meta.Messages(); len(got) != 1 || got[0].IdempotencyKey != "m-t-wa" {
		t.Errorf("the API received %+v, want only the remaining channel's message", got)
	}
}
