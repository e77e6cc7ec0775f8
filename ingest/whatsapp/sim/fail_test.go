package sim

import (
	"net/http"
	"testing"
)

type outcome struct{ status, code int }

func sendMany(t *testing.T, s *Sim, n int) []outcome {
	out := make([]outcome, n)
	for i := range out {
		a := sendText(t, s, "15551234567")
		out[i] = outcome{a.status, a.code()}
	}
	return out
}

// Injected failure rates are roughly honoured, each with Meta's status and code, and a seed repeats them exactly.
func TestInjectedFailures(t *testing.T) {
	const n = 1000
	cfg := Config{Rate: 1_000_000, Seed: 7, Fail: FailConfig{Rate429: 0.2, Rate5xx: 0.1, RatePermanent: 0.05}}
	s := start(t, cfg)
	got := map[outcome]int{}
	for _, o := range sendMany(t, s, n) {
		got[o]++
	}
	roughly := func(what string, count int, rate float64) {
		if want := rate * n; float64(count) < 0.65*want || float64(count) > 1.35*want {
			t.Errorf("%s: %d of %d, want about %.0f", what, count, n, want)
		}
	}
	roughly("429", got[outcome{429, CodeRateLimit}], 0.2)
	roughly("5xx", got[outcome{500, CodeSomethingWentWrong}]+got[outcome{503, CodeServiceUnavailable}], 0.1)
	roughly("500", got[outcome{500, CodeSomethingWentWrong}], 0.05)
	roughly("permanent", got[outcome{400, CodeUndeliverable}], 0.05)
	roughly("accepted", got[outcome{200, 0}], 0.65)
	if len(got) != 5 {
		t.Errorf("outcomes %v: want only 200, 429/130429, 500/131000, 503/2, 400/131026", got)
	}
	st := s.Stats()
	if st.Injected.TooManyRequests != int64(got[outcome{429, CodeRateLimit}]) || st.RateLimited != 0 ||
		st.Injected.Permanent != int64(got[outcome{400, CodeUndeliverable}]) ||
		st.Injected.ServerErrors != int64(n-got[outcome{200, 0}]-got[outcome{429, CodeRateLimit}]-got[outcome{400, CodeUndeliverable}]) ||
		st.Accepted != int64(got[outcome{200, 0}]) {
		t.Errorf("stats %+v do not match the answers %v", st, got)
	}

	// The same seed and the same requests: the same failures, in the same order.
	a, b := sendMany(t, start(t, cfg), 300), sendMany(t, start(t, cfg), 300)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("request %d: %v with one simulator, %v with the other of the same seed", i, a[i], b[i])
		}
	}
	cfg.Seed = 8
	if c := sendMany(t, start(t, cfg), 300); equalOutcomes(a, c) {
		t.Error("another seed injected the same failures")
	}
}

func equalOutcomes(a, b []outcome) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// The injected permanent code is configurable.
func TestInjectedPermanentCode(t *testing.T) {
	s := start(t, Config{Fail: FailConfig{RatePermanent: 1, PermanentCode: 131049}})
	a := sendText(t, s, "15551234567")
	if a.status != http.StatusBadRequest || a.code() != 131049 || a.err.Error.Message != "(#131049) Meta chose not to deliver" {
		t.Errorf("answer %d %s", a.status, a.raw)
	}
}
