package sim

import (
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	b := newBucket(10, 5)
	take := func(at time.Duration, n int) int {
		got := 0
		for range n {
			if b.take(at) {
				got++
			}
		}
		return got
	}
	if got := take(0, 8); got != 5 {
		t.Errorf("full bucket gave %d of 8, want the burst of 5", got)
	}
	if got := take(100*time.Millisecond, 3); got != 1 {
		t.Errorf("after 100ms at 10/s: %d, want 1", got)
	}
	if got := take(10*time.Second, 8); got != 5 {
		t.Errorf("after a long pause: %d, want the burst of 5 (the bucket holds no more)", got)
	}
	if got := take(10*time.Second+50*time.Millisecond, 1); got != 0 {
		t.Errorf("half a token: %d, want 0", got)
	}
	if got := take(10*time.Second+100*time.Millisecond, 1); got != 1 {
		t.Errorf("a whole token: %d, want 1", got)
	}
}

func TestWindow(t *testing.T) {
	var w window
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	for _, c := range []struct {
		at   time.Duration
		want int
	}{{0, 1}, {ms(500), 2}, {ms(900), 3}, {ms(1000), 3}, {ms(1001), 4}, {ms(2600), 1}} {
		if got := w.add(c.at); got != c.want {
			t.Errorf("add(%v) = %d, want %d", c.at, got, c.want)
		}
	}
	if w.max != 4 {
		t.Errorf("max = %d, want 4", w.max)
	}
}

// Randomised: whatever the arrivals, the bucket never admits more than burst + rate in any one-second window, and
// the window's peak is the true peak found by brute force.
func TestBucketWindowRandom(t *testing.T) {
	for seed := range uint64(50) {
		r := rand.New(rand.NewPCG(seed, 1))
		rate, burst := 1+r.IntN(100), 1+r.IntN(100)
		b, w := newBucket(rate, burst), window{}
		var admitted []time.Duration
		at := time.Duration(0)
		for range 5000 {
			at += time.Duration(r.ExpFloat64() * float64(time.Second) / float64(3*rate)) // 3× the rate on average
			if r.IntN(50) == 0 {
				at += time.Duration(r.IntN(3000)) * time.Millisecond // pauses refill the bucket
			}
			if b.take(at) {
				admitted = append(admitted, at)
				w.add(at)
			}
		}
		peak := 0
		for i, end := range admitted {
			j := sort.Search(i+1, func(k int) bool { return admitted[k] > end-time.Second })
			peak = max(peak, i-j+1)
		}
		if peak > burst+rate {
			t.Errorf("seed %d: %d admitted in one second, bucket allows %d + %d", seed, peak, burst, rate)
		}
		if w.max != peak {
			t.Errorf("seed %d: window peak %d, brute force %d", seed, w.max, peak)
		}
	}
}

// maxInSecond is the most messages received in any one-second window, from their receive times.
func maxInSecond(ms []Received) int {
	times := make([]time.Time, len(ms))
	for i, m := range ms {
		times[i] = m.ReceivedAt
	}
	sort.Slice(times, func(i, k int) bool { return times[i].Before(times[k]) })
	peak := 0
	for i := range times {
		j := sort.Search(i+1, func(k int) bool { return times[k].After(times[i].Add(-time.Second)) })
		peak = max(peak, i-j+1)
	}
	return peak
}

// 3× the rate sent at once, the simulator's clock standing still: exactly the burst is accepted, the rest answered
// 429 with 130429, counted and not recorded; a tenth of a second later exactly a tenth of the rate more.
func TestRateLimitBurst(t *testing.T) {
	const rate, sent = 40, 3 * 40
	clk := newManualClock()
	s := start(t, Config{Rate: rate, clock: clk})
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := g; i < sent; i += 8 {
				a, err := try(s, http.MethodPost, testPath, "Bearer t", textBody)
				if err != nil {
					t.Error(err)
					return
				}
				if a.status == http.StatusTooManyRequests && a.code() != CodeRateLimit {
					t.Errorf("429 with code %d", a.code())
				}
				mu.Lock()
				statuses[a.status]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if statuses[http.StatusOK] != rate || statuses[http.StatusTooManyRequests] != sent-rate {
		t.Fatalf("answers %v: want %d 200s (the burst) and %d 429s", statuses, rate, sent-rate)
	}
	st := s.Stats()
	if st.Accepted != rate || st.RateLimited != sent-rate || st.Rejected[CodeRateLimit] != sent-rate {
		t.Errorf("stats accepted %d, rate limited %d, rejected %v; answers %v", st.Accepted, st.RateLimited, st.Rejected, statuses)
	}
	if len(s.Messages()) != rate {
		t.Errorf("recorded %d, accepted %d", len(s.Messages()), rate)
	}
	if st.MaxPerSecond[testPhone] != rate {
		t.Errorf("max per second %d, want %d (all accepted at one instant)", st.MaxPerSecond[testPhone], rate)
	}
	// The bucket refills at the rate: 100ms give 4 tokens, and not a fifth.
	clk.Advance(100 * time.Millisecond)
	for i := range rate / 10 {
		if a := sendText(t, s, "15551234567"); a.status != http.StatusOK {
			t.Fatalf("refill %d: %d %s", i, a.status, a.raw)
		}
	}
	if a := sendText(t, s, "15551234567"); a.status != http.StatusTooManyRequests {
		t.Fatalf("beyond the refill: %d %s, want 429", a.status, a.raw)
	}
	// Another number has its own bucket.
	for range rate {
		if a := do(t, s, http.MethodPost, "/v21.0/42/messages", "Bearer t",
			`{"messaging_product":"whatsapp","to":"15551234567","text":{"body":"hi"}}`); a.status != http.StatusOK {
			t.Fatalf("other number: %d %s", a.status, a.raw)
		}
	}
	// Reset refills the buckets.
	s.Reset()
	for range rate {
		if a := sendText(t, s, "15551234567"); a.status != http.StatusOK {
			t.Fatalf("after reset: %d %s", a.status, a.raw)
		}
	}
}

// 3× the rate offered steadily for 1.5 seconds of the simulator's clock: the simulator accepts exactly what a
// token bucket does, in no one-second window more than the bucket allows (measured from the outside, by receive
// times, and by the simulator), and in the first second at least the rate.
func TestRateLimitSustained(t *testing.T) {
	const rate, burst = 50, 10
	clk := newManualClock()
	s := start(t, Config{Rate: rate, Burst: burst, clock: clk})
	interval := time.Second / (3 * rate)
	want, accepted := newBucket(rate, burst), 0
	for at := time.Duration(0); at < 1500*time.Millisecond; at += interval {
		a := sendText(t, s, "15551234567")
		if ok := want.take(at); ok != (a.status == http.StatusOK) {
			t.Fatalf("at %v: answered %d, the token bucket says accepted=%v", at, a.status, ok)
		}
		if a.status == http.StatusOK {
			accepted++
		}
		clk.Advance(interval)
	}
	st := s.Stats()
	if st.Accepted != int64(accepted) || st.RateLimited == 0 {
		t.Errorf("stats accepted %d, rate limited %d; answers accepted %d", st.Accepted, st.RateLimited, accepted)
	}
	peak := maxInSecond(s.Messages())
	if limit := rate + burst; peak > limit || peak < rate {
		t.Errorf("%d accepted within one second, want %d to %d", peak, rate, limit)
	}
	if st.MaxPerSecond[testPhone] != peak {
		t.Errorf("max per second %d, receive times say %d", st.MaxPerSecond[testPhone], peak)
	}
}
