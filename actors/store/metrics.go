package store

import (
	"github.com/cockroachdb/pebble/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the store's Prometheus collectors.
type Metrics struct {
	// CommitSeconds is the time from applying a batch to knowing it synced.
	CommitSeconds prometheus.Histogram
	// SyncErrors counts batches whose WAL sync failed.
	SyncErrors prometheus.Counter
}

// registerDBMetrics exposes Pebble's own counters, read at scrape time.
func registerDBMetrics(reg prometheus.Registerer, db *pebble.DB) {
	if reg == nil {
		return
	}
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "switchboard_store_compactions_total",
			Help: "Pebble compactions since the store opened.",
		}, func() float64 { return float64(db.Metrics().Compact.Count) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "switchboard_store_disk_bytes",
			Help: "Disk space the Pebble store uses (tables, WAL, manifests).",
		}, func() float64 { return float64(db.Metrics().DiskSpaceUsage()) }),
	)
}

func newMetrics(reg prometheus.Registerer) Metrics {
	m := Metrics{
		CommitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "switchboard_store_commit_seconds",
			Help:    "Time from applying a Pebble batch to its WAL sync (group commit included).",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 16),
		}),
		SyncErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_store_sync_errors_total",
			Help: "Pebble batches whose WAL sync failed.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.CommitSeconds, m.SyncErrors)
	}
	return m
}

func (m Metrics) observeCommit(b *pebble.Batch) {
	m.CommitSeconds.Observe(b.CommitStats().TotalDuration.Seconds())
}
