package insights

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-hq/switchboard/analytics/schema"
)

// Range selects what a Summary covers: one tenant (empty: every tenant) and the window [From, To], both inclusive at
// one-second resolution. A zero To means now, and then the point-in-time figures (active, unanswered, awaiting reply)
// come from the conversations aggregate; a given To recomputes them from the raw events as of To, which is slower.
type Range struct {
	Tenant   string
	From, To time.Time
}

// Totals are the figures of the insights screen for one slice of a range: the counts, and the average of each
// duration with its number of samples. Active, unanswered and awaiting reply are at the range's end (zero by hour).
type Totals struct {
	Finished                uint64  `json:"finished"`
	Active                  uint64  `json:"active"`
	Unanswered              uint64  `json:"unanswered"`
	AwaitingReply           uint64  `json:"awaiting_reply"`
	MessagesIn              uint64  `json:"messages_in"`
	MessagesOut             uint64  `json:"messages_out"`
	FirstResponses          uint64  `json:"first_responses"`
	AvgFirstResponseSeconds float64 `json:"avg_first_response_seconds"`
	Assignments             uint64  `json:"assignments"`
	AvgWaitSeconds          float64 `json:"avg_wait_seconds"`
	Handlings               uint64  `json:"handlings"`
	AvgHandlingSeconds      float64 `json:"avg_handling_seconds"`
}

// OperatorTotals are one operator's Totals.
type OperatorTotals struct {
	OperatorID string `json:"operator_id"`
	Totals
}

// HourTotals are the Totals of the facts in [Start, Start+1h) ∩ the range.
type HourTotals struct {
	Start time.Time `json:"start"`
	Totals
}

// Summary is the answer of GET /v1/insights?from=&to= (README, "Analytics"): the totals of the range, by operator
// (operators with any figure, by id) and by hour (every hour from the one holding From to the one holding To).
type Summary struct {
	Tenant     string           `json:"tenant,omitempty"`
	From       time.Time        `json:"from"`
	To         time.Time        `json:"to"`
	Totals     Totals           `json:"totals"`
	ByOperator []OperatorTotals `json:"by_operator"`
	ByHour     []HourTotals     `json:"by_hour"`
}

// SummaryOf projects a Report on the Summary's figures: Compute's report gives the reference QuerySummary is held to.
func SummaryOf(r Report) Summary {
	s := Summary{Tenant: r.Tenant, From: r.From, To: r.To, Totals: totalsOf(r.Figures),
		ByOperator: []OperatorTotals{}, ByHour: []HourTotals{}}
	for _, o := range r.ByOperator {
		s.ByOperator = append(s.ByOperator, OperatorTotals{OperatorID: o.OperatorID, Totals: totalsOf(o.Figures)})
	}
	for _, b := range r.Hourly {
		s.ByHour = append(s.ByHour, HourTotals{Start: b.Start, Totals: totalsOf(b.Figures)})
	}
	return s
}

func totalsOf(f Figures) Totals {
	return Totals{Finished: f.Finished, Active: f.Active, Unanswered: f.Unanswered, AwaitingReply: f.AwaitingReply,
		MessagesIn: f.MessagesIn, MessagesOut: f.MessagesOut,
		FirstResponses: f.FirstResponse.Count, AvgFirstResponseSeconds: f.FirstResponse.Avg,
		Assignments: f.Wait.Count, AvgWaitSeconds: f.Wait.Avg, Handlings: f.Handling.Count, AvgHandlingSeconds: f.Handling.Avg}
}

// Filter returns the Filter of the same window, for Compute.
func (r Range) Filter() Filter {
	return Filter{Tenant: r.Tenant, Now: r.To, Since: r.To.Sub(r.From)}
}

// QuerySummary computes the Summary of r in ClickHouse: the whole hours of the range from the hourly roll-ups
// (schema.Roll) where they are current, the rest (the range's ragged edges, hours not rolled up yet or that
// received events since) from the raw events, deduplicated by id; and the point-in-time figures like Query.
// It equals SummaryOf(Compute(events, r.Filter())) (a test holds it to that).
func QuerySummary(ctx context.Context, conn Querier, r Range) (Summary, error) {
	live := r.To.IsZero()
	to := r.To.Unix()
	if live {
		to = time.Now().Unix()
	}
	from := r.From.Unix()
	if from > to {
		return Summary{}, fmt.Errorf("insights: range from %v after to %v", r.From, to)
	}
	var (
		states []stateRow
		cells  []cell
	)
	if err := withStates(func() (err error) {
		states, err = queryOpen(ctx, conn, r.Tenant, live, to)
		return err
	}, func() (err error) {
		cells, err = hourlyCells(ctx, conn, r.Tenant, from, to)
		return err
	}); err != nil {
		return Summary{}, err
	}
	acc := map[[2]string]*metricSums{}
	add := func(dim, key string, c cell) {
		k := [2]string{dim, key}
		s := acc[k]
		if s == nil {
			s = &metricSums{}
			acc[k] = s
		}
		s.n[c.metric] += c.n
		s.total[c.metric] += c.total
	}
	for _, c := range cells {
		add(dimTotal, "", c)
		if c.op != "" {
			add(dimOperator, c.op, c)
		}
		add(dimHour, itoa(c.hour), c)
	}
	b := newBuilder()
	for k, s := range acc {
		fg := b.figures(k[0], k[1])
		for m := mFinished; m <= mHandling; m++ {
			if s.n[m] > 0 {
				fg.set(m, Stats{Count: s.n[m], Avg: s.total[m] / float64(s.n[m])})
			}
		}
	}
	for _, s := range states {
		b.state(s.dim, s.key, s.active, s.unanswered, s.awaiting)
	}
	return SummaryOf(b.report(r.Tenant, from, to)), nil
}

type metricSums struct {
	n     [mHandling + 1]uint64
	total [mHandling + 1]float64
}

// cell is the count and sum of one metric's facts of one tenant, hour and operator.
type cell struct {
	hour   int64
	op     string
	metric metric
	n      uint64
	total  float64
}

// hourlyCells returns the facts of [from, to] by hour, operator and metric: whole hours from current roll-ups, the
// rest from the raw events.
func hourlyCells(ctx context.Context, conn Querier, tenant string, from, to int64) ([]cell, error) {
	tc, targs := tenantCond(tenant)
	first, end := (from+3599)/3600*3600, (to+1)/3600*3600 // the whole hours: [first, end)
	rolled := map[int64]uint64{}                          // hour → version of its current roll-up
	if first < end {
		var err error
		if rolled, err = currentRollups(ctx, conn, tc, targs, first, end); err != nil {
			return nil, err
		}
	}
	// The raw intervals [a, b): everything in [from, to] outside the current roll-ups.
	var raw [][2]int64
	addRaw := func(a, b int64) {
		if a >= b {
			return
		}
		if n := len(raw); n > 0 && raw[n-1][1] == a {
			raw[n-1][1] = b
			return
		}
		raw = append(raw, [2]int64{a, b})
	}
	if first >= end {
		addRaw(from, to+1)
	} else {
		addRaw(from, first)
		for h := first; h < end; h += 3600 {
			if _, ok := rolled[h]; !ok {
				addRaw(h, h+3600)
			}
		}
		addRaw(end, to+1)
	}
	var out []cell
	read := func(q string, args ...any) error {
		rows, err := conn.Query(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("insights: query hourly facts: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				c     cell
				tnt   string
				hour  uint32
				m     uint8
				total float64
			)
			if err := rows.Scan(&tnt, &hour, &c.op, &m, &c.n, &total); err != nil {
				return fmt.Errorf("insights: read hourly facts: %w", err)
			}
			c.hour, c.metric, c.total = int64(hour), metric(m), clean(total)
			out = append(out, c)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("insights: read hourly facts: %w", err)
		}
		return nil
	}
	if len(raw) > 0 {
		conds := make([]string, len(raw))
		for i, iv := range raw {
			conds[i] = fmt.Sprintf("(at >= toDateTime(%d) AND at < toDateTime(%d))", iv[0], iv[1])
		}
		where := fmt.Sprintf("%s AND at >= toDateTime(%d) AND at < toDateTime(%d) AND (%s)", tc, raw[0][0],
			raw[len(raw)-1][1], strings.Join(conds, " OR "))
		if err := read(strings.Replace(schema.HourlyFactsSQL, "{where}", where, 1), targs...); err != nil {
			return nil, err
		}
	}
	if len(rolled) > 0 {
		pairs := make([]string, 0, len(rolled))
		for _, h := range slices.Sorted(maps.Keys(rolled)) {
			pairs = append(pairs, "("+itoa(h)+", "+strconv.FormatUint(rolled[h], 10)+")")
		}
		q := fmt.Sprintf(`SELECT tenant_id, toUInt32(hour), operator_id, metric, sum(n), sum(total)
			FROM switchboard.insights_hourly
			WHERE %s AND hour >= toDateTime(%d) AND hour < toDateTime(%d) AND (toUInt32(hour), version) IN (%s)
			GROUP BY tenant_id, hour, operator_id, metric`, tc, first, end, strings.Join(pairs, ", "))
		if err := read(q, targs...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// currentRollups returns, of the hours in [first, end), those whose latest roll-up holds every event of the tenant
// (none inserted at or after its rolled_at), with that roll-up's version.
func currentRollups(ctx context.Context, conn Querier, tc string, targs []any, first, end int64) (map[int64]uint64, error) {
	q := fmt.Sprintf(`
		SELECT h, v FROM (
			SELECT toUInt32(hour) AS h, argMax(toUInt32(rolled_at), version) AS r, max(version) AS v
			FROM switchboard.insights_rolled
			WHERE hour >= toDateTime(%[1]d) AND hour < toDateTime(%[2]d)
			GROUP BY h
		) AS rolled ANY LEFT JOIN (
			SELECT toUInt32(hour) AS h, toUInt32(maxMerge(inserted_at)) AS m
			FROM switchboard.insights_arrivals
			WHERE %[3]s AND hour >= toDateTime(%[1]d) AND hour < toDateTime(%[2]d)
			GROUP BY h
		) AS arrived USING h
		WHERE m < r`, first, end, tc)
	rows, err := conn.Query(ctx, q, targs...)
	if err != nil {
		return nil, fmt.Errorf("insights: query roll-ups: %w", err)
	}
	defer rows.Close()
	out := map[int64]uint64{}
	for rows.Next() {
		var (
			h uint32
			v uint64
		)
		if err := rows.Scan(&h, &v); err != nil {
			return nil, fmt.Errorf("insights: read roll-ups: %w", err)
		}
		out[int64(h)] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("insights: read roll-ups: %w", err)
	}
	return out, nil
}

// The point-in-time counts in total and by assignee, for the summary: as stateSQL without the channel and label
// groups, reading three columns of the conversations aggregate instead of all of them.
const openSQL = `
SELECT g.1 AS dim, g.2 AS key, countIf(s_status = 'assigned') AS active, countIf(s_status = 'unassigned') AS unanswered,
	countIf(s_last = 'message.received') AS awaiting
FROM (SELECT s_status, s_assignee, s_last FROM ({state}) WHERE s_status != 'closed')
ARRAY JOIN [('total', ''), ('operator', s_assignee)] AS g
WHERE g.2 != '' OR g.1 = 'total'
GROUP BY dim, key`

const openAggSQL = `
SELECT finalizeAggregation(status) AS s_status, finalizeAggregation(assignee_id) AS s_assignee,
	finalizeAggregation(last_message) AS s_last
FROM switchboard.conversations FINAL
WHERE {tenant}`

// The latest state of the conversations with no event after {to}, before the first snapshot: the aggregate, merged.
const openAggPastSQL = `
SELECT finalizeAggregation(status) AS s_status, finalizeAggregation(assignee_id) AS s_assignee,
	finalizeAggregation(last_message) AS s_last
FROM switchboard.conversations FINAL
WHERE {tenant} AND finalizeAggregation(last_at) <= toDateTime({to})`

// The open conversations' latest state from a snapshot (schema.SnapshotOpen) and, for those with events inserted
// since it covers ({changed}), from the conversations aggregate. A snapshot row is open by construction; an
// aggregate row is filtered by openSQL. For a past to, {exclude} and {having} leave out the conversations with an
// event after it.
const openSnapSQL = `
SELECT status AS s_status, assignee_id AS s_assignee, if(awaiting = 1, 'message.received', '') AS s_last
FROM switchboard.insights_open
WHERE version = {version} AND {tenant} AND (tenant_id, conversation_id) NOT IN ({changed}){exclude}
UNION ALL
SELECT argMaxMerge(status) AS s_status, argMaxMerge(assignee_id) AS s_assignee, argMaxMerge(last_message) AS s_last
FROM switchboard.conversations
WHERE {tenant} AND (tenant_id, conversation_id) IN ({changed})
GROUP BY tenant_id, conversation_id{having}`

// The conversations with an event inserted at or after covered, in the hours of event time ({hours}) that received
// one: what a snapshot may not hold.
const changedSQL = `
SELECT tenant_id, conversation_id FROM switchboard.events
WHERE {tenant} AND at >= toDateTime({first}) AND at < toDateTime({end}) AND intDiv(toUInt32(at), 3600) * 3600 IN ({hours})
	AND inserted_at >= toDateTime({covered})`

// afterSQL are the conversations with an event after {to}.
const afterSQL = `SELECT tenant_id, conversation_id FROM switchboard.events WHERE {tenant} AND at > toDateTime({to})`

// pastWindow is how far before a past to the events of the conversations active after it are read for their state
// at to. One with a message in that window has its state there; one without is read over its whole history. A
// variable for a test only (export_test.go), which sets it while no other test runs.
var pastWindow = 24 * time.Hour

// The state at {to} of the conversations with an event after it, from their events since {from} (pastWindow before
// to): the state columns of the last event up to to, the last message's type, whether a message up to to is in the
// window (known: else the whole history decides), and the first version after to (1: created after to).
const pastStatesSQL = `
SELECT tenant_id, conversation_id,
	argMaxIf(status, seq, at <= toDateTime({to})) AS s_status, argMaxIf(assignee_id, seq, at <= toDateTime({to})) AS s_assignee,
	argMaxIf(CAST(type AS String), seq, at <= toDateTime({to}) AND type IN ('message.received', 'message.queued')) AS s_last,
	countIf(at <= toDateTime({to}) AND type IN ('message.received', 'message.queued')) > 0 AS known,
	minIf(seq, at > toDateTime({to}) AND type != 'message.status') AS first_after
FROM switchboard.events
WHERE {tenant} AND at >= toDateTime({from}) AND (tenant_id, conversation_id) IN ({after})
GROUP BY tenant_id, conversation_id`

// The same over the whole history up to {to}, for the conversations ({ids}) the window did not settle.
const pastHistorySQL = `
SELECT tenant_id, conversation_id, argMax(status, seq) AS s_status, argMax(assignee_id, seq) AS s_assignee,
	CAST(argMax(type, if(type IN ('message.received', 'message.queued'), seq, toUInt64(0))) AS String) AS s_last,
	1 AS known, toUInt64(0) AS first_after
FROM switchboard.events
WHERE {tenant} AND at <= toDateTime({to}) AND (tenant_id, conversation_id) IN ({ids})
GROUP BY tenant_id, conversation_id`

// queryOpen returns the point-in-time counts at to: when live, from the latest snapshot of the open conversations
// and the aggregate for those changed since (or from the aggregate alone before the first snapshot); for a past to,
// the same for the conversations with no event after to, and the others' state at to from their raw events.
func queryOpen(ctx context.Context, conn Querier, tenant string, live bool, to int64) ([]stateRow, error) {
	snap, ok, err := schema.LatestOpen(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("insights: %w", err)
	}
	var inner string
	switch {
	case !ok && live:
		inner = openAggSQL
	case !ok:
		inner = strings.ReplaceAll(openAggPastSQL, "{to}", itoa(to))
	default:
		hours, err := arrivedSince(ctx, conn, tenant, snap.Covered.Unix())
		if err != nil {
			return nil, err
		}
		changed := "SELECT '', '' WHERE 0"
		if len(hours) > 0 {
			list := make([]string, len(hours))
			for i, h := range hours {
				list[i] = itoa(h)
			}
			changed = strings.NewReplacer("{first}", itoa(hours[0]), "{end}", itoa(hours[len(hours)-1]+3600),
				"{hours}", strings.Join(list, ", "), "{covered}", itoa(snap.Covered.Unix())).Replace(changedSQL)
		}
		exclude, having := "", ""
		if !live {
			exclude = " AND (tenant_id, conversation_id) NOT IN (" + strings.ReplaceAll(afterSQL, "{to}", itoa(to)) + ")"
			having = " HAVING maxMerge(last_at) <= toDateTime(" + itoa(to) + ")"
		}
		inner = strings.NewReplacer("{version}", strconv.FormatUint(snap.Version, 10), "{changed}", changed,
			"{exclude}", exclude, "{having}", having).Replace(openSnapSQL)
	}
	if live {
		return readStates(ctx, conn, openSQL, inner, tenant)
	}
	// The conversations without an event after to, and those with one, at once; their counts of a group add up.
	var (
		states []stateRow
		counts stateCounts
	)
	if err := withStates(func() (err error) {
		states, err = readStates(ctx, conn, openSQL, inner, tenant)
		return err
	}, func() (err error) {
		counts, err = pastStates(ctx, conn, tenant, to)
		return err
	}); err != nil {
		return nil, err
	}
	for _, r := range states {
		counts.add(r.dim, r.key, r.active, r.unanswered, r.awaiting)
	}
	return counts.rows(), nil
}

// stateCounts sums point-in-time counts by group (dimension and key).
type stateCounts map[[2]string]*stateRow

func (c stateCounts) add(dim, key string, active, unanswered, awaiting uint64) {
	r := c[[2]string{dim, key}]
	if r == nil {
		r = &stateRow{dim: dim, key: key}
		c[[2]string{dim, key}] = r
	}
	r.active += active
	r.unanswered += unanswered
	r.awaiting += awaiting
}

func (c stateCounts) rows() []stateRow {
	out := make([]stateRow, 0, len(c))
	for _, r := range c {
		out = append(out, *r)
	}
	return out
}

// pastStates counts by group, as openSQL does, the conversations with an event after to by their state at to: from
// their events of the pastWindow before to, and for those the window does not settle, from their whole history.
func pastStates(ctx context.Context, conn Querier, tenant string, to int64) (stateCounts, error) {
	tc, targs := tenantCond(tenant)
	bind := func(q string) (string, []any) {
		var args []any
		for range strings.Count(q, "{tenant}") {
			args = append(args, targs...)
		}
		return strings.ReplaceAll(q, "{tenant}", tc), args
	}
	after := strings.ReplaceAll(afterSQL, "{to}", itoa(to))
	q, args := bind(strings.NewReplacer("{after}", after, "{to}", itoa(to),
		"{from}", itoa(to-int64(pastWindow/time.Second))).Replace(pastStatesSQL))
	counts := stateCounts{}
	var unsettled []string
	read := func(q string, args []any) error {
		rows, err := conn.Query(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("insights: query past states: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				tnt, conv, status, assignee, last string
				known                             uint8
				firstAfter                        uint64
			)
			if err := rows.Scan(&tnt, &conv, &status, &assignee, &last, &known, &firstAfter); err != nil {
				return fmt.Errorf("insights: read past states: %w", err)
			}
			switch {
			case firstAfter == 1: // created after to
			case known == 0:
				unsettled = append(unsettled, "("+quote(tnt)+", "+quote(conv)+")")
			default:
				countState(counts, status, assignee, last)
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("insights: read past states: %w", err)
		}
		return nil
	}
	if err := read(q, args); err != nil {
		return nil, err
	}
	if len(unsettled) > 0 {
		ids := strings.Join(unsettled, ", ")
		unsettled = nil
		if err := read(bind(strings.NewReplacer("{ids}", ids, "{to}", itoa(to)).Replace(pastHistorySQL))); err != nil {
			return nil, err
		}
	}
	return counts, nil
}

// countState counts one conversation's state at a point in time as openSQL does: open ones only, in total and by
// assignee.
func countState(counts stateCounts, status, assignee, last string) {
	if status == "closed" || status == "" {
		return
	}
	one := func(b bool) uint64 {
		if b {
			return 1
		}
		return 0
	}
	a, u, w := one(status == "assigned"), one(status == "unassigned"), one(last == "message.received")
	counts.add(dimTotal, "", a, u, w)
	if assignee != "" {
		counts.add(dimOperator, assignee, a, u, w)
	}
}

// quote writes s as a ClickHouse string literal.
func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// arrivedSince returns the hours of event time, ascending, in which tenant received an event inserted at or after
// covered (switchboard.insights_arrivals).
func arrivedSince(ctx context.Context, conn Querier, tenant string, covered int64) ([]int64, error) {
	tc, targs := tenantCond(tenant)
	rows, err := conn.Query(ctx, fmt.Sprintf(`SELECT h FROM (
			SELECT toUInt32(hour) AS h, toUInt32(maxMerge(inserted_at)) AS m
			FROM switchboard.insights_arrivals WHERE %s GROUP BY tenant_id, h
		) WHERE m >= %d GROUP BY h ORDER BY h`, tc, covered), targs...)
	if err != nil {
		return nil, fmt.Errorf("insights: query arrivals: %w", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var h uint32
		if err := rows.Scan(&h); err != nil {
			return nil, fmt.Errorf("insights: read arrivals: %w", err)
		}
		out = append(out, int64(h))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("insights: read arrivals: %w", err)
	}
	return out, nil
}
