package load

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/conversation"
)

func TestArrivalsConstant(t *testing.T) {
	s := Step{Rate: 1000, Duration: 2 * time.Second}
	if got := arrivals(s); got != 2000 {
		t.Fatalf("arrivals = %d, want 2000", got)
	}
	for k, want := range map[int64]time.Duration{0: 0, 1: time.Millisecond, 500: 500 * time.Millisecond, 1999: 1999 * time.Millisecond} {
		if got := arrivalAt(s, k); got != want {
			t.Errorf("arrivalAt(%d) = %v, want %v", k, got, want)
		}
	}
}

// A bursty step offers the same mean rate, each period's arrivals packed in its first quarter.
func TestArrivalsBursty(t *testing.T) {
	s := Step{Rate: 400, Duration: 3 * time.Second, Bursty: true, BurstPeriod: time.Second}
	n := arrivals(s)
	if n != 1200 {
		t.Fatalf("arrivals = %d, want 1200", n)
	}
	perPeriod := map[int64]int{}
	prev := time.Duration(-1)
	for k := range n {
		at := arrivalAt(s, k)
		if at < prev {
			t.Fatalf("arrival %d at %v comes before the previous one at %v", k, at, prev)
		}
		prev = at
		period, in := int64(at/time.Second), at%time.Second
		if in >= 250*time.Millisecond {
			t.Fatalf("arrival %d at %v is outside its period's first quarter", k, at)
		}
		perPeriod[period]++
	}
	for p := int64(0); p < 3; p++ {
		if perPeriod[p] != 400 {
			t.Errorf("period %d has %d arrivals, want 400", p, perPeriod[p])
		}
	}
}

// New conversations take the next customer; follow-ups go to open ones; a closed one takes no more follow-ups.
func TestPick(t *testing.T) {
	ts := &tenantState{Tenant: Tenant{ID: "t", ChannelID: "t-wa"}, idx: 1, openAt: map[string]int{}, waID: map[string]string{}}
	rng := rand.New(rand.NewPCG(1, 2))
	first, isNew := ts.pick(rng, 1, 10)
	if !isNew || first != ContactWAID(1, 0) {
		t.Fatalf("first pick = %s new=%v, want %s new", first, isNew, ContactWAID(1, 0))
	}
	for range 100 {
		w, isNew := ts.pick(rng, 0, 10)
		if isNew || w != first {
			t.Fatalf("with no new conversations wanted, picked %s new=%v; want a follow-up to %s", w, isNew, first)
		}
	}
	ts.closed(conversation.ID("t-wa", first))
	if w, isNew := ts.pick(rng, 0, 10); !isNew || w != ContactWAID(1, 1) {
		t.Fatalf("after the only open conversation closed, picked %s new=%v; want the next customer", w, isNew)
	}
	// The round robin wraps: with 2 contacts the third new conversation is the first customer again.
	ts.closed(conversation.ID("t-wa", ContactWAID(1, 1)))
	ts.pick(rng, 1, 2)
	if w, _ := ts.pick(rng, 1, 2); w != ContactWAID(1, 1) {
		t.Fatalf("wrapped pick = %s, want %s", w, ContactWAID(1, 1))
	}
	if len(ts.open) != 2 || len(ts.openAt) != 2 {
		t.Fatalf("open %v, index %v: want 2 open", ts.open, ts.openAt)
	}
}

func TestStageWindows(t *testing.T) {
	start := time.Now()
	s := newStage("x", start, 4)
	for i := range 100 {
		at := start.Add(time.Duration(i) * 5 * time.Millisecond) // due 0..495ms, done by 595ms: second 0
		s.observe(at, at.Add(time.Duration(i+1)*time.Millisecond))
	}
	s.observe(start.Add(1500*time.Millisecond), start.Add(2500*time.Millisecond)) // due in second 1, done in 2
	s.fail(start.Add(3200 * time.Millisecond))
	h, done, errs := s.window(0, 1)
	if h.TotalCount() != 100 || done != 100 || errs != 0 {
		t.Fatalf("second 0: %d latencies, %d done, %d errors", h.TotalCount(), done, errs)
	}
	if p50 := h.ValueAtQuantile(50); p50 < 49_000 || p50 > 51_000 {
		t.Errorf("p50 = %dµs, want about 50ms", p50)
	}
	h, done, _ = s.window(1, 2)
	if h.TotalCount() != 1 || done != 0 {
		t.Errorf("second 1: %d latencies (by intended second), %d done (by completion second)", h.TotalCount(), done)
	}
	if _, done, errs := s.window(2, 4); done != 1 || errs != 1 {
		t.Errorf("seconds 2-3: %d done, %d errors; want 1 and 1", done, errs)
	}
	if s.seconds() != 4 {
		t.Errorf("seconds = %d, want 4", s.seconds())
	}
}

func TestMetrics(t *testing.T) {
	body := `# HELP process_cpu_seconds_total x
process_cpu_seconds_total 12.5
process_resident_memory_bytes 1.048576e+06
switchboard_consumer_lag{partition="0"} 3
switchboard_consumer_lag{partition="1"} 4
switchboard_consumer_lag_other 100
switchboard_events_total{type="conversation.assigned"} 7
switchboard_events_total{type="conversation.closed"} 9
`
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(c *fasthttp.RequestCtx) { c.SetBodyString(body) }}
	go srv.Serve(ln)
	defer srv.Shutdown()
	url := "http://" + ln.Addr().String() + "/metrics"
	v, err := Metrics(url, "switchboard_consumer_lag", `switchboard_events_total{type="conversation.assigned"}`,
		"switchboard_events_total", "missing")
	if err != nil {
		t.Fatal(err)
	}
	if v[0] != 7 || v[1] != 7 || v[2] != 16 || v[3] != 0 {
		t.Errorf("Metrics = %v, want [7 7 16 0]", v)
	}
	smp, ok := Scrape(url)
	if !ok || smp.CPUSeconds != 12.5 || smp.RSS != 1<<20 || smp.Lag != 7 {
		t.Errorf("Scrape = %+v, %v", smp, ok)
	}
	if _, err := Metrics("http://127.0.0.1:1/metrics", "x"); err == nil {
		t.Error("Metrics of a closed port: no error")
	}
}

func TestConfigValidate(t *testing.T) {
	good := Config{NodeURL: "http://127.0.0.1:1", Brokers: []string{"127.0.0.1:2"},
		Tenants: []Tenant{{ID: "t", ChannelID: "c", PhoneNumberID: "1", AppSecret: "s", Operators: []Operator{{ID: "o", Token: "x"}}}},
		Steps:   []Step{{Rate: 1, Duration: time.Second}}}
	if _, err := New(good); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for name, mod := range map[string]func(*Config){
		"no node":        func(c *Config) { c.NodeURL = "" },
		"no brokers":     func(c *Config) { c.Brokers = nil },
		"no tenants":     func(c *Config) { c.Tenants = nil },
		"no steps":       func(c *Config) { c.Steps = nil },
		"zero rate":      func(c *Config) { c.Steps = []Step{{Rate: 0, Duration: time.Second}} },
		"no operators":   func(c *Config) { c.Tenants = []Tenant{{ID: "t", ChannelID: "c", PhoneNumberID: "1", AppSecret: "s"}} },
		"handle < think": func(c *Config) { c.Think, c.Handle = time.Second, time.Millisecond },
		"messages < 1":   func(c *Config) { c.MessagesPerConversation = 0.5 },
	} {
		c := good
		mod(&c)
		if _, err := New(c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: err = %v, want ErrInvalidConfig", name, err)
		}
	}
}

func TestMessageID(t *testing.T) {
	if got := messageID([]byte(`{"conversation_id":"c1","seq":3,"id":"m-42","direction":"out"}`)); got != "m-42" {
		t.Errorf("messageID = %q", got)
	}
	if got := messageID([]byte(`{"error":{}}`)); got != "" {
		t.Errorf("messageID of an error = %q", got)
	}
}

// A long run gets buckets wider than a second, so a stage's memory is bounded whatever the duration.
func TestStageBucketsBounded(t *testing.T) {
	start := time.Now()
	s := newStage("x", start, 8*3600)
	if s.width != 32 {
		t.Fatalf("width = %d s for 8 h, want 32", s.width)
	}
	for i := range 8 * 3600 {
		at := start.Add(time.Duration(i) * time.Second)
		s.observe(at, at.Add(time.Millisecond))
	}
	if n := len(s.hist); n > maxBuckets+1 {
		t.Fatalf("%d histograms for 8 h, want at most %d", n, maxBuckets+1)
	}
	h, done, _ := s.window(0, 64)
	if h.TotalCount() != 64 || done != 64 {
		t.Errorf("first 64 s: %d latencies, %d done; want 64", h.TotalCount(), done)
	}
}

// A step's CPU figures: the node's from its process_cpu_seconds_total, this process's (the load generator and the
// simulator) from its own rusage, each over the step's samples; selfCPU moves when this process works.
func TestStepCPU(t *testing.T) {
	samples := []NodeSample{
		{T: 0, CPUSeconds: 10, SelfCPUSeconds: 1, Lag: 3},
		{T: 2, CPUSeconds: 12.5, SelfCPUSeconds: 1.5, Lag: 7},
		{T: 4, CPUSeconds: 15, SelfCPUSeconds: 2, Lag: 1},
		{T: 9, CPUSeconds: 99, SelfCPUSeconds: 99}, // after the step
	}
	cores, lag, self := cpuAndLag(samples, 0, 4)
	if cores != 1.25 || lag != 7 || self != 0.25 {
		t.Errorf("cpuAndLag = %v cores, lag %v, self %v; want 1.25, 7, 0.25", cores, lag, self)
	}
	before := selfCPU()
	for x, deadline := 0, time.Now().Add(5*time.Second); selfCPU() <= before && time.Now().Before(deadline); x++ {
		_ = fmt.Sprint(x) // work, until the rusage clock ticks
	}
	if after := selfCPU(); after <= before {
		t.Errorf("selfCPU stayed at %v after 5 s of work", after)
	}
}
