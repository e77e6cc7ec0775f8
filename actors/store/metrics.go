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
	// ScrubsRequested counts RequestScrub calls (one per erased conversation); ScrubSeconds times each scrub that
	// finished, ScrubErrors counts the ones that failed (erase.go).
	ScrubsRequested prometheus.Counter
	ScrubSeconds    prometheus.Histogram
	ScrubErrors     prometheus.Counter
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
		ScrubsRequested: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_store_scrubs_requested_total",
			Help: "Scrubs of erased data asked for (one per erased conversation; requests coalesce).",
		}),
		ScrubSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "switchboard_store_scrub_seconds",
			Help:    "Time of each finished scrub of erased data: flush, compaction of the range, log removal.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}),
		ScrubErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "switchboard_store_scrub_errors_total",
			Help: "Scrubs of erased data that failed (logged); the next erase scrubs again.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.CommitSeconds, m.SyncErrors, m.ScrubsRequested, m.ScrubSeconds, m.ScrubErrors)
	}
	return m
}

func (m Metrics) observeCommit(b *pebble.Batch) {
	m.CommitSeconds.Observe(b.CommitStats().TotalDuration.Seconds())
}
