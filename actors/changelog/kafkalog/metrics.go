package kafkalog

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	records, bytes, errors, retries prometheus.Counter
	queued                          prometheus.Gauge
	produceSeconds                  prometheus.Histogram
	restoredRecords, fencedRecords  prometheus.Counter
	restoreSeconds                  prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (metrics, error) {
	m := metrics{
		records: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_changelog_records_total",
			Help: "Records produced to switchboard.changelog and acknowledged (acks=all).",
		}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_changelog_bytes_total",
			Help: "Bytes of keys and envelopes produced to switchboard.changelog and acknowledged.",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_changelog_produce_errors_total",
			Help: "Changelog produce requests that failed after their retries (their store batches failed).",
		}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_changelog_produce_retries_total",
			Help: "Changelog produce attempts that failed and were retried or gave up.",
		}),
		queued: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "switchboard_changelog_queued",
			Help: "Store writes handed to the changelog and not yet acknowledged (bounded per partition).",
		}),
		produceSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "switchboard_changelog_produce_seconds",
			Help:    "Time of one changelog produce request until acknowledged (acks=all), retries included.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		restoredRecords: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_changelog_restored_records_total",
			Help: "Changelog records applied to the store by partition restores.",
		}),
		fencedRecords: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_changelog_fenced_records_total",
			Help: "Changelog records a restore ignored: written by a stale owner after a newer owner's fence.",
		}),
		restoreSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "switchboard_changelog_restore_seconds",
			Help:    "Time of each partition restore from the changelog (wipe, read to the end, apply, rebuild timers).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 18),
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.records, m.bytes, m.errors, m.retries, m.queued, m.produceSeconds,
			m.restoredRecords, m.fencedRecords, m.restoreSeconds} {
			if err := reg.Register(c); err != nil {
				return m, err
			}
		}
	}
	return m, nil
}
