package whatsapp

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-hq/switchboard/actors/metrichandles"
	"github.com/switchboard-hq/switchboard/actors/tenant"
)

// channelResult is a channel id and a result: the labels of a webhooks counter.
type channelResult struct {
	id  string
	res result
}

// result is how a request ended; it is the "result" label of the metrics.
type result uint8

const (
	resOK result = iota
	resBadSignature
	resMalformed
	resUnknownChannel
	resTooLarge
	resUnavailable
	resVerifyOK
	resVerifyForbidden
	resMethodNotAllowed
	numResults
)

var resultNames = [numResults]string{
	resOK:               "ok",
	resBadSignature:     "bad_signature",
	resMalformed:        "malformed",
	resUnknownChannel:   "unknown_channel",
	resTooLarge:         "too_large",
	resUnavailable:      "unavailable",
	resVerifyOK:         "verify_ok",
	resVerifyForbidden:  "verify_forbidden",
	resMethodNotAllowed: "method_not_allowed",
}

// unknownChannel is the channel label of requests not (yet) tied to a configured channel. The label only ever
// holds it or a channel id from the config, never a value from the request, so its cardinality is bounded.
const unknownChannel = "unknown"

type metrics struct {
	webhooks *prometheus.CounterVec
	// byChannel holds the webhooks counters of configured channels, resolved once (actors/metrichandles).
	byChannel *metrichandles.Set[channelResult, prometheus.Counter]
	// unknownAccounts counts template changes skipped because no channel has their business account as waba_id.
	unknownAccounts prometheus.Counter
	// disabled counts customer messages dropped on a disabled channel (tenant.Channel.Disabled).
	disabled prometheus.Counter
	unknown  [numResults]prometheus.Counter  // webhooks{channel="unknown"}, resolved once
	duration [numResults]prometheus.Observer // by result, resolved once
}

func newMetrics(reg prometheus.Registerer) (metrics, error) {
	var m metrics
	webhooks, err := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_webhooks_total",
		Help: "Webhook requests by channel id (\"unknown\" before a channel is known) and result.",
	}, []string{"channel", "result"}))
	if err != nil {
		return m, err
	}
	duration, err := register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "switchboard_webhook_duration_seconds",
		Help:    "Time to answer a webhook request, including the wait for Kafka's acknowledgement, by result.",
		Buckets: prometheus.DefBuckets,
	}, []string{"result"}))
	if err != nil {
		return m, err
	}
	unknownAccounts, err := register(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "switchboard_webhook_template_changes_ignored_total",
		Help: "Template webhook changes (status, quality, category) skipped because no channel has their business account as waba_id.",
	}))
	if err != nil {
		return m, err
	}
	m.unknownAccounts = unknownAccounts
	if m.disabled, err = register(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "switchboard_webhook_messages_disabled_total",
		Help: "Customer messages dropped because their channel has two-way chat disabled.",
	})); err != nil {
		return m, err
	}
	m.webhooks = webhooks
	m.byChannel = &metrichandles.Set[channelResult, prometheus.Counter]{Max: 4096, Resolve: func(k channelResult) prometheus.Counter {
		return webhooks.WithLabelValues(k.id, resultNames[k.res])
	}}
	for r := range numResults {
		m.unknown[r] = webhooks.WithLabelValues(unknownChannel, resultNames[r])
		m.duration[r] = duration.WithLabelValues(resultNames[r])
	}
	return m, nil
}

// register registers c, or returns the equal collector already registered (another handler on the same registry).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, fmt.Errorf("register whatsapp webhook metrics: %w", err)
	}
	return c, nil
}

// count counts one request for each channel it named, or for "unknown" if it named none.
func (m *metrics) count(chans []*tenant.Channel, res result) {
	if len(chans) == 0 {
		m.unknown[res].Inc()
		return
	}
	for _, ch := range chans {
		m.countChannel(ch.ID, res)
	}
}

func (m *metrics) countChannel(id string, res result) {
	m.byChannel.Get(channelResult{id, res}).Inc()
}
