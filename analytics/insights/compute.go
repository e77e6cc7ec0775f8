package insights

import (
	"cmp"
	"slices"
	"strconv"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/analytics/schema"
)

// Compute computes the report of f from raw events in memory, repeats included, by the same definitions as Query.
// It is the reference Query is tested against, and recomputes figures from raw events without ClickHouse.
// f.Raw does not matter: Compute always works from the events.
func Compute(events []schema.Event, f Filter) Report {
	from, to := f.window()
	// Deduplicate by (tenant, id): a repeat has the same content.
	seen := make(map[[2]string]bool, len(events))
	var evs []*schema.Event
	for i := range events {
		e := &events[i]
		if f.Tenant != "" && e.TenantID != f.Tenant {
			continue
		}
		k := [2]string{e.TenantID, e.ID}
		if seen[k] {
			continue
		}
		seen[k] = true
		evs = append(evs, e)
	}

	type convKey = [2]string
	type state struct {
		seq                       uint64
		status, assignee          string
		labelSeq                  uint64
		labels                    []string
		lastMsgSeq                uint64
		lastMsg                   string
		channel                   string
		hasLabels, hasMsg, hasAny bool
	}
	states := map[convKey]*state{}
	replied := map[convKey]bool{}
	for _, e := range evs {
		if e.At.Unix() > to {
			continue
		}
		ck := convKey{e.TenantID, e.ConversationID}
		s := states[ck]
		if s == nil {
			s = &state{}
			states[ck] = s
		}
		if !s.hasAny || e.Seq > s.seq {
			s.seq, s.status, s.assignee, s.hasAny = e.Seq, e.Status, e.AssigneeID, true
		}
		if e.Type == conversation.EventLabelsChanged && (!s.hasLabels || e.Seq > s.labelSeq) {
			s.labelSeq, s.labels, s.hasLabels = e.Seq, e.Labels, true
		}
		if (e.Type == conversation.EventMessageReceived || e.Type == conversation.EventMessageQueued) &&
			(!s.hasMsg || e.Seq > s.lastMsgSeq) {
			s.lastMsgSeq, s.lastMsg, s.hasMsg = e.Seq, e.Type, true
		}
		s.channel = max(s.channel, e.ChannelID)
		if e.Type == conversation.EventMessageQueued && e.At.Unix() >= from {
			replied[ck] = true
		}
	}

	acc := newAccumulator()
	labelsOf := func(e *schema.Event) []string {
		if s := states[convKey{e.TenantID, e.ConversationID}]; s != nil {
			return s.labels
		}
		return nil
	}
	fact := func(m metric, v float64, op string, e *schema.Event, at int64) {
		acc.add(m, v, op, e.ChannelID, labelsOf(e), at)
	}
	for _, e := range evs {
		at := e.At.Unix()
		if at < from || at > to {
			continue
		}
		switch e.Type {
		case conversation.EventClosed:
			fact(mFinished, 0, e.PreviousOperatorID, e, at)
			if e.PreviousOperatorID != "" {
				fact(mHandling, e.HandlingSeconds, e.PreviousOperatorID, e, at)
			}
		case conversation.EventTransferred, conversation.EventUnassigned:
			if e.PreviousOperatorID != "" {
				fact(mHandling, e.HandlingSeconds, e.PreviousOperatorID, e, at)
			}
		case conversation.EventMessageReceived:
			fact(mIn, 0, e.AssigneeID, e, at)
		case conversation.EventMessageQueued:
			fact(mOut, 0, e.OperatorID, e, at)
			if e.FirstResponseSeconds > 0 {
				fact(mFirstResponse, e.FirstResponseSeconds, e.OperatorID, e, at)
			}
		case conversation.EventAssigned:
			fact(mWait, e.WaitSeconds, e.OperatorID, e, at)
		}
	}

	// Reply time: per conversation with a reply in the window, its messages and closes in [from−lookback, to],
	// in the conversation's order.
	lookFrom := from - int64(ReplyLookback.Seconds())
	turns := map[convKey][]*schema.Event{}
	for _, e := range evs {
		ck := convKey{e.TenantID, e.ConversationID}
		at := e.At.Unix()
		if !replied[ck] || at < lookFrom || at > to {
			continue
		}
		switch e.Type {
		case conversation.EventMessageReceived, conversation.EventMessageQueued, conversation.EventClosed:
			turns[ck] = append(turns[ck], e)
		}
	}
	for _, seq := range turns {
		slices.SortStableFunc(seq, func(a, b *schema.Event) int {
			return cmp.Or(cmp.Compare(a.Seq, b.Seq), cmp.Compare(exactTime(a), exactTime(b)))
		})
		var start *schema.Event
		for _, e := range seq {
			switch e.Type {
			case conversation.EventMessageReceived:
				if start == nil {
					start = e
				}
			case conversation.EventMessageQueued:
				if start != nil && e.At.Unix() >= from {
					fact(mReply, exactTime(e)-exactTime(start), e.OperatorID, e, e.At.Unix())
				}
				start = nil
			default: // closed: the run ends unanswered
				start = nil
			}
		}
	}

	b := newBuilder()
	acc.into(b)
	for _, s := range states {
		if s.status == string(conversation.Closed) {
			continue
		}
		var active, unanswered, awaiting uint64
		switch s.status {
		case string(conversation.Assigned):
			active = 1
		case string(conversation.Unassigned):
			unanswered = 1
		}
		if s.lastMsg == conversation.EventMessageReceived {
			awaiting = 1
		}
		add := func(dim, key string) {
			fg := b.figures(dim, key)
			fg.Active += active
			fg.Unanswered += unanswered
			fg.AwaitingReply += awaiting
		}
		add(dimTotal, "")
		if s.assignee != "" {
			add(dimOperator, s.assignee)
		}
		if s.channel != "" {
			add(dimChannel, s.channel)
		}
		for _, l := range s.labels {
			add(dimLabel, l)
		}
	}
	return b.report(f.Tenant, from, to)
}

// exactTime is an event's time in Unix seconds with its fraction, as Query computes it (toUInt32(at) + at_ns/1e9).
func exactTime(e *schema.Event) float64 {
	return float64(e.At.Unix()) + float64(e.At.Nanosecond())/1e9
}

// accumulator gathers fact samples per group, for Compute.
type accumulator struct {
	samples map[[3]string][]float64
}

func newAccumulator() *accumulator { return &accumulator{samples: map[[3]string][]float64{}} }

func (a *accumulator) add(m metric, v float64, op, channel string, labels []string, at int64) {
	ms := strconv.Itoa(int(m))
	put := func(dim, key string) {
		k := [3]string{dim, key, ms}
		a.samples[k] = append(a.samples[k], v)
	}
	put(dimTotal, "")
	if op != "" {
		put(dimOperator, op)
	}
	if channel != "" {
		put(dimChannel, channel)
	}
	for _, l := range labels {
		put(dimLabel, l)
	}
	put(dimHour, itoa(at/3600*3600))
	put(dimDay, itoa(at/86400*86400))
}

func (a *accumulator) into(b *builder) {
	for k, vs := range a.samples {
		m, _ := strconv.Atoi(k[2])
		b.figures(k[0], k[1]).set(metric(m), summarise(vs))
	}
}

// summarise returns the Stats of samples as ClickHouse's avg and quantile compute them.
func summarise(vs []float64) Stats {
	s := Stats{Count: uint64(len(vs))}
	if len(vs) == 0 {
		return s
	}
	var sum float64
	for _, v := range vs {
		sum += v
	}
	s.Avg = sum / float64(len(vs))
	sorted := slices.Clone(vs)
	slices.Sort(sorted)
	s.P50, s.P90 = quantile(sorted, 0.5), quantile(sorted, 0.9)
	return s
}

// quantile interpolates linearly between the two samples nearest to level·(n−1), as ClickHouse's quantile does.
func quantile(sorted []float64, level float64) float64 {
	idx := level * float64(len(sorted)-1)
	lo := int(idx)
	if lo >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	return sorted[lo] + (sorted[lo+1]-sorted[lo])*(idx-float64(lo))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func sortBy[T any](s []T, key func(T) string) {
	slices.SortFunc(s, func(a, b T) int { return cmp.Compare(key(a), key(b)) })
}
