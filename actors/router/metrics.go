package router

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-hq/switchboard/actors/metrichandles"
)

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
	rebuilds     prometheus.Counter
	grants       *prometheus.CounterVec
	proposals    *prometheus.CounterVec
	divergence   prometheus.Counter
	// configChanges counts the configuration changes applied (config_set).
	configChanges prometheus.Counter
	queueDepth    prometheus.Gauge
	operators     *prometheus.GaugeVec
	events        *prometheus.CounterVec
	commands      *prometheus.CounterVec
	importRows    *prometheus.CounterVec
	importReads   prometheus.Counter
	deadLetters   prometheus.Counter
	restarts      prometheus.Counter
	revoked       *prometheus.CounterVec
	fences        prometheus.Counter
	owned         *prometheus.GaugeVec
	waitSeconds   prometheus.Histogram
	assignment    prometheus.Histogram
	opLoad        prometheus.Gauge
	opCapacity    prometheus.Gauge

	// The children of the vectors counted per record, resolved once per label value (actors/metrichandles): by
	// kind, reason, event type, command type and result, grant and proposal result.
	appliedBy   *metrichandles.Set[string, prometheus.Counter]
	skippedBy   *metrichandles.Set[string, prometheus.Counter]
	eventsBy    *metrichandles.Set[string, prometheus.Counter]
	commandsBy  *metrichandles.Set[[2]string, prometheus.Counter]
	grantsBy    *metrichandles.Set[string, prometheus.Counter]
	proposalsBy *metrichandles.Set[string, prometheus.Counter]
}

// handles returns a Set of the children of vec by its one label.
func handles(vec *prometheus.CounterVec) *metrichandles.Set[string, prometheus.Counter] {
	return metrichandles.New(func(v string) prometheus.Counter { return vec.WithLabelValues(v) })
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		fetched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_records_fetched_total",
			Help: "Records fetched from switchboard.inbox.",
		}),
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_records_applied_total",
			Help: "Inbox items applied to state, by kind (message, message_blocked, status, status_parked, contact).",
		}, []string{"kind"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_records_skipped_total",
			Help: "Inbox items or records not applied, by reason (replay, duplicate, stale_status, erased, bad_record, bad_template_change).",
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
			Help: "Conversation actors stopped: idle, or holding no conversation (a command for one that does not exist).",
		}),
		rebuilds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_dispatcher_rebuilds_total",
			Help: "Tenant dispatchers rebuilt from the store (a partition assigned, or a tenant's first input).",
		}),
		grants: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_routing_grants_total",
			Help: "Capacity grant requests answered by dispatchers, by result (ok, refused, stale, stopping: the partition was stopping).",
		}, []string{"result"}),
		proposals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_routing_proposals_total",
			Help: "Dispatcher proposals handled by conversations, by result (assigned, refused, stale).",
		}, []string{"result"}),
		divergence: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_routing_divergence_total",
			Help: "Conversations found assigned beyond what the dispatcher granted (a bug; should stay 0).",
		}),
		configChanges: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_config_changes_total",
			Help: "Tenant configuration changes applied by this node's tenant actors.",
		}),
		queueDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_queue_depth",
			Help: "Conversations waiting for an operator, over the tenants of this node.",
		}),
		operators: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "switchboard_operators",
			Help: "Operators by availability (online, away, offline), over the tenants of this node.",
		}, []string{"availability"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_events_total",
			Help: "Events written to the outbox, by type.",
		}, []string{"type"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_commands_total",
			Help: "Operator commands applied to conversations and tenants' catalogues, by type and result (ok or the refusal code).",
		}, []string{"type", "result"}),
		importRows: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_contact_import_rows_total",
			Help: "Contact import rows applied by the tenants' catalogues, by result (created, updated, unchanged, refused).",
		}, []string{"result"}),
		importReads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_contact_import_reads_total",
			Help: "Contacts the import batches read from the store: the rows whose id the catalogue's filter may hold (the others are new contacts, read from nowhere).",
		}),
		deadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_actor_dead_letters_total",
			Help: "Messages hollywood could not deliver to an actor.",
		}),
		restarts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_actor_restarts_total",
			Help: "Actors hollywood restarted after a panic (the router recovers rule panics itself, so this should stay 0).",
		}),
		revoked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_partitions_revoked_total",
			Help: "Partitions this node stopped owning (with --changelog), by how: clean (drained within its lease) or lease_expired (its store copy is then restored from scratch next time).",
		}, []string{"how"}),
		fences: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_router_fences_total",
			Help: "Generations this node ended because one of its writes was refused for a partition it no longer owned (with --changelog): it stopped its partitions and joined the group again.",
		}),
		owned: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "switchboard_partition_owned",
			Help: "The consumer group generation in which this node owns an inbox partition, from its restore until it stops it (no series: not owned).",
		}, []string{"partition"}),
		waitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "switchboard_routing_wait_seconds",
			Help:    "How long conversations waited in the queue before an operator was assigned (domain time).",
			Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600},
		}),
		assignment: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "switchboard_routing_assignment_seconds",
			Help:    "Wall time from the input that made an assignment possible (a customer message accepted, a close, an operator online) to the assignment being durable.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		opLoad: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_operator_load",
			Help: "Conversations held by online operators, over the tenants of this node; utilisation is this over switchboard_operator_capacity.",
		}),
		opCapacity: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_operator_capacity",
			Help: "Capacity of online operators, over the tenants of this node.",
		}),
	}
	m.appliedBy, m.skippedBy, m.eventsBy = handles(m.applied), handles(m.skipped), handles(m.events)
	m.grantsBy, m.proposalsBy = handles(m.grants), handles(m.proposals)
	m.commandsBy = metrichandles.New(func(k [2]string) prometheus.Counter { return m.commands.WithLabelValues(k[0], k[1]) })
	if reg != nil {
		for _, c := range []prometheus.Collector{m.fetched, m.applied, m.skipped, m.failed, m.lag, m.committed,
			m.actorsActive, m.activations, m.passivated, m.rebuilds, m.grants, m.proposals, m.divergence, m.configChanges, m.queueDepth,
			m.operators, m.events, m.commands, m.importRows, m.importReads, m.deadLetters, m.restarts, m.revoked, m.fences, m.owned, m.waitSeconds, m.assignment, m.opLoad, m.opCapacity} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	// Every result exists from the start, so the series is exposed (and alertable) before the first import.
	for _, r := range []string{"created", "updated", "unchanged", "refused"} {
		m.importRows.WithLabelValues(r)
	}
	// A status dropped because its customer was erased is rare and worth seeing at zero.
	m.skipped.WithLabelValues("erased")
	for _, how := range []string{"clean", "lease_expired"} {
		m.revoked.WithLabelValues(how)
	}
	return m, nil
}
