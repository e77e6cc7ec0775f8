// Package insights computes the figures analysts ask of Switchboard (docs/design.md, "Analytics definitions") from the
// events stored in ClickHouse: counts (finished, active, unanswered, awaiting reply, messages in and out) and four
// durations (wait, first response, reply and handling time) as average, median and 90th percentile, in total, by
// operator, label and channel, and as hourly and daily series.
//
// Query computes them in ClickHouse; Compute computes the same from a slice of raw events in memory, and the two agree
// (a test holds them to it), so a figure can always be recomputed from the raw events.
//
// Definitions, over the window [Now−Since, Now] (at one-second resolution, by the event's time):
//   - finished: conversation.closed events (one per finished cycle), by the operator who held the conversation.
//   - messages in / out: message.received / message.queued (public replies, text or template); in is attributed to
//     the conversation's assignee at the time, out to its author.
//   - wait: wait_seconds of conversation.assigned (queue entry → assignment), by the operator assigned.
//   - first response: first_response_seconds of the message.queued that is a cycle's first public reply.
//   - reply: for each run of customer messages, the first of them → the public reply that ends the run; a run that a
//     close ends unanswered has no reply time. Counted when the reply is in the window; the run may start up to
//     ReplyLookback before the window.
//   - handling: handling_seconds of the event that ends an operator's holding (closed, transferred, unassigned),
//     by that operator: one sample per holding.
//   - active, unanswered, awaiting reply: conversations that at Now are assigned, waiting in the queue, or open
//     with a customer message as their last message. These are points in time, so hourly and daily buckets leave
//     them zero.
//
// Events are deduplicated by (tenant, id) everywhere: the sink is at-least-once and a repeat never changes a figure.
// Labels are a conversation's labels at Now (its latest conversation.labels_changed); a conversation without labels
// is in no label group. The channel is the events' channel_id (events published before they carried one are in no
// channel group).
//
// It may import analytics/schema, the conversation rules' types and clickhouse-go's driver interface.
package insights

import (
	"math"
	"time"
)

// ReplyLookback is how long before the window a run of customer messages may start and still give the reply that ends
// it in the window its full reply time. A run that started earlier is measured from its first message within the
// lookback.
const ReplyLookback = 7 * 24 * time.Hour

// Filter selects what a report covers.
type Filter struct {
	// Tenant is the tenant to report on; empty reports on every tenant together.
	Tenant string
	// Since is the length of the window, ending at Now. Default 24 h. It is used at one-second resolution.
	Since time.Duration
	// Now is the end of the window. Zero means the current time.
	Now time.Time
	// Raw recomputes the point-in-time figures (active, unanswered, awaiting reply) from the raw events as of Now.
	// Otherwise, when Now is zero, they come from the conversations aggregate, which holds each conversation's
	// latest state and answers faster. A non-zero Now always uses the raw events.
	Raw bool
}

// window returns the window's bounds in Unix seconds, both inclusive.
func (f Filter) window() (from, to int64) {
	now := f.Now
	if now.IsZero() {
		now = time.Now()
	}
	since := f.Since
	if since <= 0 {
		since = 24 * time.Hour
	}
	to = now.Unix()
	return to - int64(since/time.Second), to
}

// Stats summarises one duration over its samples, in seconds. P50 and P90 interpolate linearly between the two
// nearest samples, as ClickHouse's quantile does (exactly so up to 8,192 samples per group; above that ClickHouse
// samples them).
type Stats struct {
	Count uint64  `json:"count"`
	Avg   float64 `json:"avg"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
}

// Figures are the figures of one slice of the events: all of them, one operator's, one label's, one hour's.
type Figures struct {
	Finished      uint64 `json:"finished"`
	Active        uint64 `json:"active"`
	Unanswered    uint64 `json:"unanswered"`
	AwaitingReply uint64 `json:"awaiting_reply"`
	MessagesIn    uint64 `json:"messages_in"`
	MessagesOut   uint64 `json:"messages_out"`
	Wait          Stats  `json:"wait"`
	FirstResponse Stats  `json:"first_response"`
	Reply         Stats  `json:"reply"`
	Handling      Stats  `json:"handling"`
}

// OperatorFigures are the figures of one operator.
type OperatorFigures struct {
	OperatorID string `json:"operator_id"`
	Figures
}

// LabelFigures are the figures of the conversations that carry one label.
type LabelFigures struct {
	Label string `json:"label"`
	Figures
}

// ChannelFigures are the figures of one channel.
type ChannelFigures struct {
	ChannelID string `json:"channel_id"`
	Figures
}

// Bucket holds the figures of the events in [Start, Start+an hour or a day), UTC.
type Bucket struct {
	Start time.Time `json:"start"`
	Figures
}

// Report is the answer of GET /v1/insights and `switchboard insights` (docs/contract.md): the contract's fields
// (finished, active, unanswered, avg_wait_seconds, avg_first_response_seconds, p90_first_response_seconds,
// avg_handling_seconds, by_operator) and the rest of the figures beside them.
type Report struct {
	Tenant string    `json:"tenant,omitempty"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Figures
	AvgWaitSeconds          float64           `json:"avg_wait_seconds"`
	AvgFirstResponseSeconds float64           `json:"avg_first_response_seconds"`
	P90FirstResponseSeconds float64           `json:"p90_first_response_seconds"`
	AvgReplySeconds         float64           `json:"avg_reply_seconds"`
	AvgHandlingSeconds      float64           `json:"avg_handling_seconds"`
	ByOperator              []OperatorFigures `json:"by_operator"`
	ByLabel                 []LabelFigures    `json:"by_label"`
	ByChannel               []ChannelFigures  `json:"by_channel"`
	Hourly                  []Bucket          `json:"hourly"`
	Daily                   []Bucket          `json:"daily"`
}

// metric is what one fact row counts or measures.
type metric uint8

const (
	mFinished metric = iota + 1
	mIn
	mOut
	mFirstResponse
	mWait
	mHandling
	mReply
)

// dimension names a grouping of the facts.
const (
	dimTotal    = "total"
	dimOperator = "operator"
	dimLabel    = "label"
	dimChannel  = "channel"
	dimHour     = "hour"
	dimDay      = "day"
)

// set records one aggregated metric on f.
func (f *Figures) set(m metric, s Stats) {
	switch m {
	case mFinished:
		f.Finished = s.Count
	case mIn:
		f.MessagesIn = s.Count
	case mOut:
		f.MessagesOut = s.Count
	case mFirstResponse:
		f.FirstResponse = s
	case mWait:
		f.Wait = s
	case mHandling:
		f.Handling = s
	case mReply:
		f.Reply = s
	}
}

// builder collects aggregated rows, by dimension and key, into a Report.
type builder struct {
	groups map[[2]string]*Figures
}

func newBuilder() *builder { return &builder{groups: map[[2]string]*Figures{}} }

func (b *builder) figures(dim, key string) *Figures {
	k := [2]string{dim, key}
	f := b.groups[k]
	if f == nil {
		f = &Figures{}
		b.groups[k] = f
	}
	return f
}

// state records the point-in-time counts of a group.
func (b *builder) state(dim, key string, active, unanswered, awaiting uint64) {
	f := b.figures(dim, key)
	f.Active, f.Unanswered, f.AwaitingReply = active, unanswered, awaiting
}

// report assembles the Report of the window [from, to].
func (b *builder) report(tenant string, from, to int64) Report {
	r := Report{
		Tenant:     tenant,
		From:       time.Unix(from, 0).UTC(),
		To:         time.Unix(to, 0).UTC(),
		ByOperator: []OperatorFigures{},
		ByLabel:    []LabelFigures{},
		ByChannel:  []ChannelFigures{},
		Hourly:     []Bucket{},
		Daily:      []Bucket{},
	}
	if f := b.groups[[2]string{dimTotal, ""}]; f != nil {
		r.Figures = *f
	}
	r.AvgWaitSeconds = r.Wait.Avg
	r.AvgFirstResponseSeconds = r.FirstResponse.Avg
	r.P90FirstResponseSeconds = r.FirstResponse.P90
	r.AvgReplySeconds = r.Reply.Avg
	r.AvgHandlingSeconds = r.Handling.Avg
	for k, f := range b.groups {
		switch k[0] {
		case dimOperator:
			r.ByOperator = append(r.ByOperator, OperatorFigures{OperatorID: k[1], Figures: *f})
		case dimLabel:
			r.ByLabel = append(r.ByLabel, LabelFigures{Label: k[1], Figures: *f})
		case dimChannel:
			r.ByChannel = append(r.ByChannel, ChannelFigures{ChannelID: k[1], Figures: *f})
		}
	}
	sortBy(r.ByOperator, func(g OperatorFigures) string { return g.OperatorID })
	sortBy(r.ByLabel, func(g LabelFigures) string { return g.Label })
	sortBy(r.ByChannel, func(g ChannelFigures) string { return g.ChannelID })
	r.Hourly = b.series(dimHour, 3600, from, to)
	r.Daily = b.series(dimDay, 86400, from, to)
	return r
}

// series returns one bucket per step from the one holding from to the one holding to, empty ones included.
func (b *builder) series(dim string, step, from, to int64) []Bucket {
	out := []Bucket{}
	for s := from / step * step; s <= to; s += step {
		bk := Bucket{Start: time.Unix(s, 0).UTC()}
		if f := b.groups[[2]string{dim, itoa(s)}]; f != nil {
			bk.Figures = *f
		}
		out = append(out, bk)
	}
	return out
}

// clean turns what ClickHouse answers for an empty set (nan) into 0.
func clean(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}
