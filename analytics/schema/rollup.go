package schema

// Hourly roll-ups of the insight facts (issue 13): what a date range of the insights screen sums instead of scanning
// millions of raw events.
//
// switchboard.insights_hourly holds, per tenant × hour × operator × metric, the count of the facts and the sum of
// their values (finished, messages in and out, first response, wait and handling time: the additive figures). It is
// not kept by a materialized view: the sink is at-least-once, a repeated event must change nothing, and an insert
// trigger cannot tell a repeat from a new event. Roll instead recomputes whole, settled hours from the deduplicated
// raw events and records each rolled hour in switchboard.insights_rolled with the time up to which the hour's
// inserts are in it (rolled_at). A reader uses an hour's roll-up only when the tenant has no event in that hour
// inserted at or after rolled_at; any later arrival (a backlog, a ClickHouse outage, a repeat) sends that hour back
// to the raw events until the next Roll, so the figures stay exact. What a reader checks that against is
// switchboard.insights_arrivals, kept by a materialized view: per tenant and hour of the events' time, the latest
// inserted_at (max is idempotent, so a repeat or a retried insert changes nothing that matters). None of these tables
// holds a contact or message id: erasure (Anonymise) has nothing to do there.

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// RollMargin is how long after its insert an event's hour may be rolled up. An insert's inserted_at is stamped by the
// client before it sends the batch; an insert that takes longer than RollMargin to land (or a client clock more
// than RollMargin behind) could be missed by a roll-up that still looks valid. Insert calls time out long before.
const RollMargin = 10 * time.Minute

// RollupMetric numbers the additive facts, as analytics/insights numbers them.
const (
	MetricFinished      = 1
	MetricIn            = 2
	MetricOut           = 3
	MetricFirstResponse = 4
	MetricWait          = 5
	MetricHandling      = 6
)

// FactTypes selects the event types that carry insight facts, and FactsJoin turns each such event (with columns
// type, operator_id, previous_operator_id, assignee_id, wait_seconds, first_response_seconds, handling_seconds) into
// its facts m = (metric, value, operator) through ARRAY JOIN; rows with metric 0 are none and must be filtered out.
// Metric codes are the Metric constants. The insights' queries and the roll-ups share them, so they count alike.
const (
	FactTypes = `type IN ('conversation.closed', 'conversation.transferred', 'conversation.unassigned',
			'message.received', 'message.queued', 'conversation.assigned')`
	FactsJoin = `ARRAY JOIN multiIf(
	type = 'conversation.closed',
		[(1, 0., previous_operator_id), (if(previous_operator_id != '', 6, 0), handling_seconds, previous_operator_id)],
	type = 'message.received', [(2, 0., assignee_id)],
	type = 'message.queued',
		[(3, 0., operator_id), (if(first_response_seconds > 0, 4, 0), first_response_seconds, operator_id)],
	type = 'conversation.assigned', [(5, wait_seconds, operator_id)],
	[(if(previous_operator_id != '', 6, 0), handling_seconds, previous_operator_id)]
) AS m`
)

// HourlyFactsSQL aggregates the additive facts of the events that {where} selects (a condition on switchboard.events'
// columns, tenant and time included), deduplicated by (tenant_id, id), into (tenant_id, hour, op, metric, n, total)
// rows: hour is the Unix time of the hour's start. Roll fills the roll-ups with it and the insights read the raw
// edges of a range with it.
const HourlyFactsSQL = `
SELECT tenant_id, toUInt32(intDiv(toUInt32(at), 3600) * 3600) AS hour, m.3 AS op, m.1 AS metric, count() AS n, sum(m.2) AS total
FROM (
	SELECT id, tenant_id, type, at, operator_id, previous_operator_id, assignee_id,
		wait_seconds, first_response_seconds, handling_seconds
	FROM switchboard.events
	WHERE ({where}) AND ` + FactTypes + `
	LIMIT 1 BY tenant_id, id
)
` + FactsJoin + `
WHERE metric != 0
GROUP BY tenant_id, hour, op, metric`

var rollupStatements = []string{
	// One row per tenant, hour, operator ('' for facts without one) and metric of one roll (version); a later
	// roll of the hour writes a higher version beside it and readers take the version insights_rolled names. A plain
	// MergeTree: a replacing one could fold away the version a reader was just told to read. Hours are rolled again
	// only when late events reach them, so the older versions stay few.
	`CREATE TABLE IF NOT EXISTS switchboard.insights_hourly (
		tenant_id String,
		hour DateTime,
		operator_id String,
		metric UInt8,
		n UInt64,
		total Float64,
		version UInt64
	) ENGINE = MergeTree()
	PARTITION BY toYYYYMM(hour)
	ORDER BY (tenant_id, hour, version, operator_id, metric)`,
	// Per tenant and hour of event time, the latest insert time of its events.
	`CREATE TABLE IF NOT EXISTS switchboard.insights_arrivals (
		tenant_id String,
		hour DateTime,
		inserted_at AggregateFunction(max, DateTime)
	) ENGINE = AggregatingMergeTree()
	PARTITION BY toYYYYMM(hour)
	ORDER BY (tenant_id, hour)`,
	`CREATE MATERIALIZED VIEW IF NOT EXISTS switchboard.insights_arrivals_mv TO switchboard.insights_arrivals AS
	SELECT tenant_id, toDateTime(intDiv(toUInt32(at), 3600) * 3600) AS hour, maxState(inserted_at) AS inserted_at
	FROM switchboard.events
	GROUP BY tenant_id, hour`,
	// One row per roll of an hour (every tenant at once): its version, and rolled_at, the insert time before which
	// every event of the hour is in the roll.
	`CREATE TABLE IF NOT EXISTS switchboard.insights_rolled (
		hour DateTime,
		rolled_at DateTime,
		version UInt64
	) ENGINE = ReplacingMergeTree(version)
	ORDER BY hour`,
}

// Roll rolls up every complete hour, before now−RollMargin, whose events were all inserted before now−RollMargin and
// that has no roll-up yet or received events since its last one, and takes a snapshot of the open conversations when
// the last is OpenEvery old (SnapshotOpen). It returns how many hours it rolled. Running it again, or on several
// nodes at once, is harmless.
func Roll(ctx context.Context, conn driver.Conn, now time.Time) (int, error) {
	n, err := rollup(ctx, conn, now)
	if err != nil {
		return n, err
	}
	if _, err := SnapshotOpen(ctx, conn, now); err != nil {
		return n, err
	}
	return n, nil
}

// rollup rolls up the hours Roll rolls up (migration 3's back-fill: the snapshots' tables come later).
func rollup(ctx context.Context, conn driver.Conn, now time.Time) (int, error) {
	settled := now.Add(-RollMargin).Unix()
	end := settled / 3600 * 3600
	rows, err := conn.Query(ctx, `
		SELECT h FROM (
			SELECT toUInt32(hour) AS h, toUInt32(maxMerge(inserted_at)) AS m
			FROM switchboard.insights_arrivals WHERE hour < toDateTime(?) GROUP BY h
		) AS arrived ANY LEFT JOIN (
			SELECT toUInt32(hour) AS h, max(toUInt32(rolled_at)) AS r FROM switchboard.insights_rolled GROUP BY h
		) AS rolled USING h
		WHERE m < ? AND m >= r
		ORDER BY h`, end, settled)
	if err != nil {
		return 0, fmt.Errorf("roll up: find hours: %w", err)
	}
	var hours []uint32
	for rows.Next() {
		var h uint32
		if err := rows.Scan(&h); err != nil {
			rows.Close()
			return 0, fmt.Errorf("roll up: find hours: %w", err)
		}
		hours = append(hours, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("roll up: find hours: %w", err)
	}
	version := uint64(now.UnixNano())
	// A day of hours per statement: the deduplication holds a statement's event ids in memory.
	for i := 0; i < len(hours); i += 24 {
		batch := hours[i:min(i+24, len(hours))]
		if err := rollHours(ctx, conn, batch, version, settled); err != nil {
			return i, err
		}
	}
	return len(hours), nil
}

func rollHours(ctx context.Context, conn driver.Conn, hours []uint32, version uint64, settled int64) error {
	list := make([]string, len(hours))
	for i, h := range hours {
		list[i] = strconv.FormatUint(uint64(h), 10)
	}
	where := fmt.Sprintf("at >= toDateTime(%d) AND at < toDateTime(%d) AND intDiv(toUInt32(at), 3600) * 3600 IN (%s)",
		hours[0], uint64(hours[len(hours)-1])+3600, strings.Join(list, ", "))
	q := `INSERT INTO switchboard.insights_hourly (tenant_id, hour, operator_id, metric, n, total, version)
		SELECT tenant_id, toDateTime(hour), op, metric, n, total, toUInt64(` + strconv.FormatUint(version, 10) + `)
		FROM (` + strings.Replace(HourlyFactsSQL, "{where}", where, 1) + `)`
	if err := conn.Exec(ctx, q); err != nil {
		return fmt.Errorf("roll up %d hours: %w", len(hours), err)
	}
	// The hours are recorded after their rows: a reader that sees the record finds the rows.
	b, err := conn.PrepareBatch(ctx, `INSERT INTO switchboard.insights_rolled (hour, rolled_at, version)`)
	if err != nil {
		return fmt.Errorf("roll up: record hours: %w", err)
	}
	at := time.Unix(settled, 0).UTC()
	for _, h := range hours {
		if err := b.Append(time.Unix(int64(h), 0).UTC(), at, version); err != nil {
			_ = b.Abort()
			return fmt.Errorf("roll up: record hours: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("roll up: record hours: %w", err)
	}
	return nil
}

// backfillArrivals fills switchboard.insights_arrivals from the events stored before its view existed.
const backfillArrivals = `INSERT INTO switchboard.insights_arrivals (tenant_id, hour, inserted_at)
	SELECT tenant_id, toDateTime(intDiv(toUInt32(at), 3600) * 3600) AS hour, maxState(inserted_at)
	FROM switchboard.events
	GROUP BY tenant_id, hour`
