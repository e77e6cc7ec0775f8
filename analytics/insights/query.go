package insights

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/switchboard-hq/switchboard/analytics/schema"
)

// Querier runs a query (schema.Querier); driver.Conn is the Querier of production. The SQL Query sends is in the
// subset that runs on ClickHouse 18.16 and on current ClickHouse.
type Querier = schema.Querier

// Query computes the report of f in ClickHouse, from switchboard.events (deduplicated by id) and, for the
// point-in-time figures when f.Now is zero and f.Raw is not set, from switchboard.conversations. It runs two queries:
// the window's facts, grouped every way at once, and the conversations' state at Now. It is safe for concurrent use
// when conn is (a driver.Conn is).
func Query(ctx context.Context, conn Querier, f Filter) (Report, error) {
	from, to := f.window()
	b := newBuilder()
	// The two queries run at once: their sum is most of the answer's time.
	var states []stateRow
	if err := withStates(func() (err error) {
		states, err = queryState(ctx, conn, f, to)
		return err
	}, func() error { return queryFacts(ctx, conn, f.Tenant, from, to, b) }); err != nil {
		return Report{}, err
	}
	for _, s := range states {
		b.state(s.dim, s.key, s.active, s.unanswered, s.awaiting)
	}
	return b.report(f.Tenant, from, to), nil
}

// tenantCond returns the condition that selects tenant (every tenant when empty) and its arguments.
func tenantCond(tenant string) (string, []any) {
	if tenant == "" {
		return "1", nil
	}
	return "tenant_id = ?", []any{tenant}
}

// Fact rows: (metric, value, operator, at, conversation, channel), one per thing counted or measured. Codes are the
// metric constants. ClickHouse 18.16 has no WITH-subqueries, so the window is deduplicated once, in the innermost
// subquery, and each event becomes its facts through ARRAY JOIN.
const factsSQL = `
SELECT m.1 AS metric, m.2 AS v, m.3 AS op, at, tenant_id, conversation_id, channel_id
FROM (
	SELECT id, tenant_id, type, at, conversation_id, channel_id, operator_id, previous_operator_id, assignee_id,
		wait_seconds, first_response_seconds, handling_seconds
	FROM switchboard.events
	WHERE {tenant} AND at >= toDateTime(?) AND at <= toDateTime(?) AND ` + schema.FactTypes + `
	LIMIT 1 BY tenant_id, id
)
` + schema.FactsJoin + `
WHERE metric != 0`

// Reply facts. Per conversation with a reply in the window, its messages and closes (k: 0 in, 1 out, 2 closed) in
// the conversation's order (seq, then time). A run of customer messages starts where an in follows anything but an
// in, and ends at the next out or close; starts and ends alternate, so the n-th start pairs with the n-th end, and
// the pairs that end with an out are replies. Everything a lambda captures is computed at the same level and also
// used outside a lambda: 18.16 otherwise drops it from the subquery ("Unknown identifier").
const repliesSQL = `
SELECT 7 AS metric, r.1 AS v, r.3 AS op, r.2 AS at, tenant_id, conversation_id, r.4 AS channel_id
FROM (
	SELECT tenant_id, conversation_id,
		arraySort(x -> (x.1, x.3), groupArray((seq, k, toFloat64(toUInt32(at)) + at_ns / 1e9, at, operator_id, channel_id))) AS ms,
		arrayMap(x -> x.2, ms) AS ks,
		arrayFilter(i -> ks[i] = 0 AND (i = 1 OR ks[i - 1] != 0), arrayEnumerate(ks)) AS starts,
		arrayFilter(i -> ks[i] != 0 AND i > 1 AND ks[i - 1] = 0, arrayEnumerate(ks)) AS ends,
		arrayFilter(x -> x.5 = 1,
			arrayMap((s, e) -> (ms[e].3 - ms[s].3, ms[e].4, ms[e].5, ms[e].6, ks[e]), arraySlice(starts, 1, length(ends)), ends)) AS replies
	FROM (
		SELECT id, tenant_id, conversation_id, channel_id, seq, at, at_ns, operator_id,
			multiIf(type = 'message.received', 0, type = 'message.queued', 1, 2) AS k
		FROM switchboard.events
		WHERE {tenant} AND at >= toDateTime(?) AND at <= toDateTime(?)
			AND type IN ('message.received', 'message.queued', 'conversation.closed')
			AND conversation_id IN (
				SELECT conversation_id FROM switchboard.events
				WHERE {tenant} AND at >= toDateTime(?) AND at <= toDateTime(?) AND type = 'message.queued')
		LIMIT 1 BY tenant_id, id
	)
	GROUP BY tenant_id, conversation_id
)
ARRAY JOIN replies AS r
WHERE r.2 >= toDateTime(?)`

// Labels at the window's end of the conversations with facts in the window.
const labelsSQL = `
SELECT tenant_id, conversation_id, argMax(labels, seq) AS labels
FROM switchboard.events
WHERE {tenant} AND type = 'conversation.labels_changed' AND at <= toDateTime(?)
	AND conversation_id IN (
		SELECT conversation_id FROM switchboard.events WHERE {tenant} AND at >= toDateTime(?) AND at <= toDateTime(?))
GROUP BY tenant_id, conversation_id`

// Every fact grouped by total, operator, channel, label, hour and day in one pass.
const groupedSQL = `
SELECT g.1 AS dim, g.2 AS key, metric, count() AS n, avg(v) AS mean,
	ifNull(toFloat64(quantile(0.5)(v)), 0) AS p50, ifNull(toFloat64(quantile(0.9)(v)), 0) AS p90
FROM (
	SELECT metric, v, op, at, channel_id, labels,
		arrayJoin(arrayConcat(
			[('total', ''), ('operator', op), ('channel', channel_id),
			 ('hour', toString(intDiv(toUInt32(at), 3600) * 3600)), ('day', toString(intDiv(toUInt32(at), 86400) * 86400))],
			arrayMap(l -> ('label', l), labels))) AS g
	FROM ({facts} UNION ALL {replies}) AS f
	ANY LEFT JOIN ({labels}) AS l USING tenant_id, conversation_id
)
WHERE g.2 != '' OR g.1 = 'total'
GROUP BY dim, key, metric`

func queryFacts(ctx context.Context, conn Querier, tenant string, from, to int64, b *builder) error {
	tc, targs := tenantCond(tenant)
	lookFrom := max(from-int64(ReplyLookback.Seconds()), 1)
	var args []any
	arg := func(vs ...any) {
		for _, v := range vs {
			if v == nil {
				args = append(args, targs...)
				continue
			}
			args = append(args, v)
		}
	}
	// Arguments in the order their ? appear: facts, replies, labels. nil stands for the tenant's arguments.
	arg(nil, from, to)
	arg(nil, lookFrom, to, nil, from, to, from)
	arg(nil, to, nil, from, to)
	q := strings.NewReplacer("{facts}", factsSQL, "{replies}", repliesSQL, "{labels}", labelsSQL).Replace(groupedSQL)
	q = strings.ReplaceAll(q, "{tenant}", tc)
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("insights: query facts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			dim, key      string
			m             uint8
			n             uint64
			avg, p50, p90 float64
		)
		if err := rows.Scan(&dim, &key, &m, &n, &avg, &p50, &p90); err != nil {
			return fmt.Errorf("insights: read facts: %w", err)
		}
		b.figures(dim, key).set(metric(m), Stats{Count: n, Avg: clean(avg), P50: clean(p50), P90: clean(p90)})
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("insights: read facts: %w", err)
	}
	return nil
}

// Each conversation's state at the window's end, from the raw events.
const stateRawSQL = `
SELECT tenant_id, conversation_id, max(channel_id) AS s_channel, argMax(status, seq) AS s_status,
	argMax(assignee_id, seq) AS s_assignee,
	argMax(labels, if(type = 'conversation.labels_changed', seq, toUInt64(0))) AS s_labels,
	argMax(type, if(type IN ('message.received', 'message.queued'), seq, toUInt64(0))) AS s_last
FROM switchboard.events
WHERE {tenant} AND at <= toDateTime(?)
GROUP BY tenant_id, conversation_id`

// Each conversation's latest state, from the conversations aggregate. FINAL merges the states in key order, which
// is several times cheaper than a GROUP BY over every conversation.
const stateAggSQL = `
SELECT tenant_id, conversation_id, finalizeAggregation(channel_id) AS s_channel,
	finalizeAggregation(status) AS s_status, finalizeAggregation(assignee_id) AS s_assignee,
	finalizeAggregation(labels) AS s_labels, finalizeAggregation(last_message) AS s_last
FROM switchboard.conversations FINAL
WHERE {tenant}`

const stateSQL = `
SELECT g.1 AS dim, g.2 AS key, countIf(s_status = 'assigned') AS active, countIf(s_status = 'unassigned') AS unanswered,
	countIf(s_last = 'message.received') AS awaiting
FROM (SELECT * FROM ({state}) WHERE s_status != 'closed')
ARRAY JOIN arrayConcat([('total', ''), ('operator', s_assignee), ('channel', s_channel)],
	arrayMap(l -> ('label', l), s_labels)) AS g
WHERE g.2 != '' OR g.1 = 'total'
GROUP BY dim, key`

type stateRow struct {
	dim, key                     string
	active, unanswered, awaiting uint64
}

func queryState(ctx context.Context, conn Querier, f Filter, to int64) ([]stateRow, error) {
	inner := stateAggSQL
	if f.Raw || !f.Now.IsZero() {
		inner = stateRawSQL
	}
	if inner == stateRawSQL {
		return readStates(ctx, conn, stateSQL, inner, f.Tenant, to)
	}
	return readStates(ctx, conn, stateSQL, inner, f.Tenant)
}

// readStates runs outer over inner (the state of each conversation, {state}) for tenant and reads its rows (dim, key,
// active, unanswered, awaiting). Each {tenant} of inner is followed by one of bind's values, in order; without bind,
// inner has no other argument.
func readStates(ctx context.Context, conn Querier, outer, inner, tenant string, bind ...any) ([]stateRow, error) {
	tc, targs := tenantCond(tenant)
	var args []any
	for _, b := range bind {
		args = append(args, targs...)
		args = append(args, b)
	}
	if len(bind) == 0 {
		for range strings.Count(inner, "{tenant}") {
			args = append(args, targs...)
		}
	}
	q := strings.ReplaceAll(strings.ReplaceAll(outer, "{state}", inner), "{tenant}", tc)
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("insights: query state: %w", err)
	}
	defer rows.Close()
	var out []stateRow
	for rows.Next() {
		var s stateRow
		if err := rows.Scan(&s.dim, &s.key, &s.active, &s.unanswered, &s.awaiting); err != nil {
			return nil, fmt.Errorf("insights: read state: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("insights: read state: %w", err)
	}
	return out, nil
}

// withStates runs states in a goroutine while facts runs, and returns their errors joined.
func withStates(states, facts func() error) error {
	var (
		wg       sync.WaitGroup
		stateErr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		stateErr = states()
	}()
	factsErr := facts()
	wg.Wait()
	return errors.Join(factsErr, stateErr)
}
