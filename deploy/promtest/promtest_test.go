package promtest

import (
	"slices"
	"testing"
)

func TestMetricNames(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`up`, []string{"up"}},
		{`up{job="switchboard"} == 0`, []string{"up"}},
		{`sum by (job) (rate(switchboard_webhooks_total{result="unavailable"}[5m]))
		  / sum by (job) (rate(switchboard_webhooks_total{result!~"verify_.*"}[5m])) > 0.01`,
			[]string{"switchboard_webhooks_total"}},
		{`histogram_quantile(0.99, sum by (topic, le) (rate(switchboard_kafka_produce_seconds_bucket{job=~"$job"}[$__rate_interval])))`,
			[]string{"switchboard_kafka_produce_seconds_bucket"}},
		{`switchboard_queue_depth > 0 unless on (job, instance) (switchboard_operators{availability="online"} > 0)`,
			[]string{"switchboard_operators", "switchboard_queue_depth"}},
		{`a / on (x) group_left (y) b offset 5m and bool c or d`, []string{"a", "b", "c", "d"}},
		// Label names and values never count, even when they look like metric names.
		{`sum without (instance) (foo{bar="baz_total", le="+Inf"})`, []string{"foo"}},
		{`label_replace(up, "dst", "$1", "src", "(.*)")`, []string{"up"}},
		{`max_over_time(x[1h:5m]) * 1e3 + 0x10 - Inf`, []string{"x"}},
		{`predict_linear(node_filesystem_avail_bytes{mountpoint=~"/data"}[6h], 24 * 3600) < 0`,
			[]string{"node_filesystem_avail_bytes"}},
		{`label_values(switchboard_kafka_produce_errors_total{job=~"$job"}, instance)`,
			[]string{"switchboard_kafka_produce_errors_total"}},
		{`sum ( rate ( x_total [5m] ) )`, []string{"x_total"}},
		{`vector(1)`, []string{}},
	} {
		if got := MetricNames(tc.expr); !slices.Equal(got, tc.want) {
			t.Errorf("MetricNames(%q) = %q, want %q", tc.expr, got, tc.want)
		}
	}
}
