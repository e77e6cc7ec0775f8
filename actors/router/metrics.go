package router

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	fetched      prometheus.Counter
	applied      *prometheus.CounterVec
	skipped      *prometheus.CounterVec
	failed       prometheus.Counter
	lag          *prometheus.GaugeVec
	committed    *prometheus.GaugeVec
	actorsActive prometheus.Gauge
	activations  prometheus.Counter
	passivated   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		fetched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_records_fetched_total",
			Help: "Records fetched from switchboard.inbox.",
		}),
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_records_applied_total",
			Help: "Inbox items applied to state, by kind (message, status, status_parked).",
		}, []string{"kind"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_records_skipped_total",
			Help: "Inbox items or records not applied, by reason (replay, duplicate, stale_status, bad_record).",
		}, []string{"reason"}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_records_failed_total",
			Help: "Inbox items whose rules panicked (a bug); the record stays in Kafka.",
		}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "switchboard_consumer_lag",
			Help: "Records in switchboard.inbox not yet fetched by this node, per partition.",
		}, []string{"partition"}),
		committed: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "switchboard_consumer_committed_offset",
			Help: "Last offset committed for switchboard.inbox (every record before it is durable), per partition.",
		}, []string{"partition"}),
		actorsActive: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_conversation_actors_active",
			Help: "Conversation actors in memory.",
		}),
		activations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_conversation_actors_activated_total",
			Help: "Conversation actors started (first use or re-activation from the store).",
		}),
		passivated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_conversation_actors_passivated_total",
			Help: "Conversation actors stopped after being idle.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.fetched, m.applied, m.skipped, m.failed, m.lag, m.committed,
			m.actorsActive, m.activations, m.passivated} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
