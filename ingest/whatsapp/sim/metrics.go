package sim

import (
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// registerMetrics registers the switchboard_sim_* metrics. They read the simulator's counters when scraped, so
// serving a request costs nothing more; they count from the start, not from the last Reset.
func registerMetrics(reg prometheus.Registerer, s *Sim) error {
	c := s.c
	counter := func(name, help string, n *atomic.Int64, labels prometheus.Labels) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels},
			func() float64 { return float64(n.Load()) })
	}
	cs := []prometheus.Collector{
		counter("switchboard_sim_requests_total", "Requests answered in the Cloud API's shape.", &c.requests, nil),
		counter("switchboard_sim_accepted_total", "Messages accepted with a wamid.", &c.accepted, nil),
		counter("switchboard_sim_reads_total", "Mark-as-read calls accepted.", &c.reads, nil),
		counter("switchboard_sim_rate_limited_total", "Requests refused by the per-number token bucket (130429).", &c.rateLimited, nil),
		counter("switchboard_sim_duplicates_total", "Accepted messages whose idempotency hint was seen before.", &c.duplicates, nil),
		counter("switchboard_sim_unrecorded_total", "Accepted messages not recorded: MaxRecorded were held.", &c.unrecorded, nil),
		counter("switchboard_sim_failed_async_total", "Accepted messages reported by a failed status webhook.", &c.failedAsync, nil),
	}
	injected := "Failures injected, by kind (429, 5xx, permanent)."
	cs = append(cs,
		counter("switchboard_sim_injected_total", injected, &c.inj429, prometheus.Labels{"kind": "429"}),
		counter("switchboard_sim_injected_total", injected, &c.inj5xx, prometheus.Labels{"kind": "5xx"}),
		counter("switchboard_sim_injected_total", injected, &c.injPermanent, prometheus.Labels{"kind": "permanent"}))
	rejected := "Error answers by Meta error code."
	for _, code := range c.codes() {
		cs = append(cs, counter("switchboard_sim_rejected_total", rejected, c.rejected[code],
			prometheus.Labels{"code": strconv.Itoa(code)}))
	}
	hooks := "Status webhooks by result: posted (answered 200), retried, failed (given up), dropped (queue full; per message)."
	for result, n := range map[string]*atomic.Int64{"posted": &c.whPosted, "retried": &c.whRetried, "failed": &c.whFailed,
		"dropped": &c.whDropped} {
		cs = append(cs, counter("switchboard_sim_status_webhooks_total", hooks, n, prometheus.Labels{"result": result}))
	}
	customers := "Inbound webhooks posted by Customers, by result: posted (answered 200) or failed."
	cs = append(cs,
		counter("switchboard_sim_customer_webhooks_total", customers, &c.custPosted, prometheus.Labels{"result": "posted"}),
		counter("switchboard_sim_customer_webhooks_total", customers, &c.custFailed, prometheus.Labels{"result": "failed"}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "switchboard_sim_status_webhooks_pending",
			Help: "Messages with status webhooks still to post."}, func() float64 {
			if s.hooks == nil {
				return 0
			}
			return float64(s.hooks.pendingNow())
		}))
	for _, col := range cs {
		if err := reg.Register(col); err != nil {
			return fmt.Errorf("register whatsapp simulator metrics: %w", err)
		}
	}
	return nil
}
