package sim

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// metricValue returns the value of the metric name with label=value (label "" for none).
func metricValue(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
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
			if label == "" || hasLabel(m, label, value) {
				if m.GetCounter() != nil {
					return m.GetCounter().GetValue()
				}
				return m.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("no metric %s{%s=%q}", name, label, value)
	return 0
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

// The metrics count what the simulator answered, and keep counting across a Reset.
func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := start(t, Config{Registerer: reg, Rate: 2, Fail: FailConfig{Rate5xx: 0}})
	sendText(t, s, "15551234567")
	sendText(t, s, "15551234567")
	sendText(t, s, "15551234567") // over the bucket
	sendText(t, s, "123")         // invalid
	s.Reset()
	sendText(t, s, "9991234567") // undeliverable
	for _, c := range []struct {
		name, label, value string
		want               float64
	}{
		{"switchboard_sim_requests_total", "", "", 5},
		{"switchboard_sim_accepted_total", "", "", 2},
		{"switchboard_sim_rate_limited_total", "", "", 1},
		{"switchboard_sim_rejected_total", "code", "130429", 1},
		{"switchboard_sim_rejected_total", "code", "131009", 1},
		{"switchboard_sim_rejected_total", "code", "131026", 1},
		{"switchboard_sim_rejected_total", "code", "100", 0},
		{"switchboard_sim_injected_total", "kind", "5xx", 0},
		{"switchboard_sim_status_webhooks_total", "result", "dropped", 0},
		{"switchboard_sim_status_webhooks_pending", "", "", 0},
	} {
		if got := metricValue(t, reg, c.name, c.label, c.value); got != c.want {
			t.Errorf("%s{%s=%q} = %v, want %v", c.name, c.label, c.value, got, c.want)
		}
	}
	if _, err := New(Config{Registerer: reg}); err == nil {
		t.Error("a second simulator registered the same metrics on the same registry")
	}
}
