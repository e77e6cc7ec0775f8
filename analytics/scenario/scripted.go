package scenario

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/analytics/insights"
)

// Scripted plays the scenario of issue 5 and its neighbours with known timings, on tenant acme's channel, with t0
// 50 minutes past an hour so that the scenario spans two hours. Seconds after t0:
//
//	A: customer 0, assigned alice 5, alice replies 65, customer 100, alice replies 130, closed 300;
//	   labels billing at 10, a note by alice at 20, the last reply delivered at 140.
//	B: customer 60 and 80, labels billing+vip at 70, assigned bob 120, bob replies 240, transferred to carol 250,
//	   customer 400, carol replies 460, closed 600.
//	C: customer 120, assigned carol 150, label vip at 160 and removed at 180, carol replies 170, customer 700
//	   (still open, assigned to carol, awaiting a reply).
//	D: customer 200 (never assigned: waiting).
//	E: customer 30, assigned alice 40, alice replies 70, closed 90; customer 1000 (reopens to the queue),
//	   assigned bob 1020, bob replies 1100, bob unassigns 1200 (waiting again, answered).
//
// Tenant globex has one conversation (customer 10, assigned alice 1010, alice replies 1020, closed 1030) that must
// not leak into acme's figures. ScriptedFigures holds what the figures must be, computed by hand.
func Scripted(tb testing.TB, t0 time.Time) (acme, globex *Sim) {
	tb.Helper()
	if t0.Minute() != 50 || t0.Second() != 0 || t0.Nanosecond() != 0 {
		tb.Fatalf("scenario: t0 %v must be 50 minutes past an hour", t0)
	}
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	acme, globex = New(tb, "acme", "acme-wa"), New(tb, "globex", "globex-wa")
	type step struct {
		s  float64
		do func(time.Time)
	}
	steps := []step{
		{0, func(t time.Time) { acme.Customer("a", t) }},
		{5, func(t time.Time) { acme.Assign("a", "alice", t) }},
		{10, func(t time.Time) { acme.Labels("a", "alice", []string{"billing"}, nil, t) }},
		{20, func(t time.Time) { acme.Note("a", "alice", t) }},
		{65, func(t time.Time) { acme.Reply("a", "alice", t) }},
		{100, func(t time.Time) { acme.Customer("a", t) }},
		{130, func(t time.Time) { acme.Reply("a", "alice", t) }},
		{140, func(t time.Time) { acme.Status("a", conversation.Delivered, t) }},
		{300, func(t time.Time) { acme.Close("a", "alice", t) }},

		{60, func(t time.Time) { acme.Customer("b", t) }},
		{70, func(t time.Time) { acme.Labels("b", "bob", []string{"vip", "billing"}, nil, t) }},
		{80, func(t time.Time) { acme.Customer("b", t) }},
		{120, func(t time.Time) { acme.Assign("b", "bob", t) }},
		{240, func(t time.Time) { acme.Reply("b", "bob", t) }},
		{250, func(t time.Time) { acme.Transfer("b", "bob", "carol", t) }},
		{400, func(t time.Time) { acme.Customer("b", t) }},
		{460, func(t time.Time) { acme.Reply("b", "carol", t) }},
		{600, func(t time.Time) { acme.Close("b", "carol", t) }},

		{120, func(t time.Time) { acme.Customer("c", t) }},
		{150, func(t time.Time) { acme.Assign("c", "carol", t) }},
		{160, func(t time.Time) { acme.Labels("c", "carol", []string{"vip"}, nil, t) }},
		{170, func(t time.Time) { acme.Reply("c", "carol", t) }},
		{180, func(t time.Time) { acme.Labels("c", "carol", nil, []string{"vip"}, t) }},
		{700, func(t time.Time) { acme.Customer("c", t) }},

		{200, func(t time.Time) { acme.Customer("d", t) }},

		{30, func(t time.Time) { acme.Customer("e", t) }},
		{40, func(t time.Time) { acme.Assign("e", "alice", t) }},
		{70, func(t time.Time) { acme.Reply("e", "alice", t) }},
		{90, func(t time.Time) { acme.Close("e", "alice", t) }},
		{1000, func(t time.Time) { acme.Customer("e", t) }},
		{1020, func(t time.Time) { acme.Assign("e", "bob", t) }},
		{1100, func(t time.Time) { acme.Reply("e", "bob", t) }},
		{1200, func(t time.Time) { acme.Unassign("e", "bob", t) }},

		{10, func(t time.Time) { globex.Customer("g", t) }},
		{1010, func(t time.Time) { globex.Assign("g", "alice", t) }},
		{1020, func(t time.Time) { globex.Reply("g", "alice", t) }},
		{1030, func(t time.Time) { globex.Close("g", "alice", t) }},
	}
	// Steps run in time order (stable, so one conversation's steps keep their order), as the router would see them.
	order := make([]int, len(steps))
	for i := range order {
		order[i] = i
	}
	for i := 1; i < len(order); i++ {
		for j := i; j > 0 && steps[order[j]].s < steps[order[j-1]].s; j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	for _, i := range order {
		steps[i].do(at(steps[i].s))
	}
	return acme, globex
}

// ScriptedT0 returns a t0 for Scripted: 50 minutes past the hour that began three hours before now, so that a
// 24-hour window ending now holds the whole scenario.
func ScriptedT0(now time.Time) time.Time {
	return now.UTC().Truncate(time.Hour).Add(-3*time.Hour + 50*time.Minute)
}

func st(n uint64, avg, p50, p90 float64) insights.Stats {
	return insights.Stats{Count: n, Avg: avg, P50: p50, P90: p90}
}

// ScriptedFigures are acme's figures for the scenario, computed by hand (quantiles interpolate: p90 of 5 sorted
// samples is s[3] + 0.6·(s[4]−s[3])).
var ScriptedFigures = struct {
	Total      insights.Figures
	ByOperator map[string]insights.Figures
	ByLabel    map[string]insights.Figures
	// Hours are the figures of the hour of t0 and of the next hour.
	Hours [2]insights.Figures
}{
	Total: insights.Figures{
		Finished: 3, Active: 1, Unanswered: 2, AwaitingReply: 2, MessagesIn: 10, MessagesOut: 7,
		Wait:          st(5, 25, 20, 48),    // 5 10 20 30 60
		FirstResponse: st(5, 87, 65, 148),   // 40 50 65 100 180
		Reply:         st(7, 75, 60, 132),   // 30 40 50 60 65 100 180
		Handling:      st(5, 201, 180, 328), // 50 130 180 295 350
	},
	ByOperator: map[string]insights.Figures{
		"alice": {Finished: 2, MessagesIn: 1, MessagesOut: 3,
			Wait:          st(2, 7.5, 7.5, 9.5),    // 5 10
			FirstResponse: st(2, 52.5, 52.5, 62.5), // 40 65
			Reply:         st(3, 45, 40, 60),       // 30 40 65
			Handling:      st(2, 172.5, 172.5, 270.5)},
		"bob": {MessagesOut: 2,
			Wait:          st(2, 40, 40, 56),    // 20 60
			FirstResponse: st(2, 140, 140, 172), // 100 180
			Reply:         st(2, 140, 140, 172), // 100 180
			Handling:      st(2, 155, 155, 175)},
		"carol": {Finished: 1, Active: 1, AwaitingReply: 1, MessagesIn: 2, MessagesOut: 2,
			Wait:          st(1, 30, 30, 30),
			FirstResponse: st(1, 50, 50, 50),
			Reply:         st(2, 55, 55, 59), // 50 60
			Handling:      st(1, 350, 350, 350)},
	},
	ByLabel: map[string]insights.Figures{
		"billing": {Finished: 2, MessagesIn: 5, MessagesOut: 4, // A and B
			Wait:          st(2, 32.5, 32.5, 54.5),
			FirstResponse: st(2, 122.5, 122.5, 168.5),
			Reply:         st(4, 83.75, 62.5, 145.5), // 30 60 65 180
			Handling:      st(3, 775.0/3, 295, 339)}, // 130 295 350
		"vip": {Finished: 1, MessagesIn: 3, MessagesOut: 2, // B (C's vip was removed)
			Wait:          st(1, 60, 60, 60),
			FirstResponse: st(1, 180, 180, 180),
			Reply:         st(2, 120, 120, 168),
			Handling:      st(2, 240, 240, 328)},
	},
	Hours: [2]insights.Figures{
		{Finished: 2, MessagesIn: 8, MessagesOut: 6,
			Wait:          st(4, 26.25, 20, 51),
			FirstResponse: st(4, 83.75, 57.5, 145.5),
			Reply:         st(6, 425.0/6, 55, 122.5),
			Handling:      st(3, 475.0/3, 130, 262)},
		{Finished: 1, MessagesIn: 2, MessagesOut: 1,
			Wait:          st(1, 20, 20, 20),
			FirstResponse: st(1, 100, 100, 100),
			Reply:         st(1, 100, 100, 100),
			Handling:      st(2, 265, 265, 333)},
	},
}

// CheckScripted fails tb unless r, a report on acme whose window holds the whole scenario started at t0, has
// ScriptedFigures.
func CheckScripted(tb testing.TB, what string, r insights.Report, t0 time.Time) {
	tb.Helper()
	want := ScriptedFigures
	var errs []string
	check := func(where string, got, want insights.Figures) {
		for _, d := range diffFigures(got, want) {
			errs = append(errs, where+": "+d)
		}
	}
	if r.Tenant != "acme" {
		errs = append(errs, fmt.Sprintf("tenant %q, want acme", r.Tenant))
	}
	check("total", r.Figures, want.Total)
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-6 }
	if !near(r.AvgWaitSeconds, want.Total.Wait.Avg) || !near(r.AvgFirstResponseSeconds, want.Total.FirstResponse.Avg) ||
		!near(r.P90FirstResponseSeconds, want.Total.FirstResponse.P90) || !near(r.AvgHandlingSeconds, want.Total.Handling.Avg) ||
		!near(r.AvgReplySeconds, want.Total.Reply.Avg) {
		errs = append(errs, fmt.Sprintf("contract fields avg_wait %v avg_first_response %v p90_first_response %v avg_handling %v",
			r.AvgWaitSeconds, r.AvgFirstResponseSeconds, r.P90FirstResponseSeconds, r.AvgHandlingSeconds))
	}
	ops := map[string]bool{}
	for _, g := range r.ByOperator {
		ops[g.OperatorID] = true
		check("operator "+g.OperatorID, g.Figures, want.ByOperator[g.OperatorID])
	}
	for op := range want.ByOperator {
		if !ops[op] {
			errs = append(errs, "operator "+op+" missing")
		}
	}
	labels := map[string]bool{}
	for _, g := range r.ByLabel {
		labels[g.Label] = true
		check("label "+g.Label, g.Figures, want.ByLabel[g.Label])
	}
	for l := range want.ByLabel {
		if !labels[l] {
			errs = append(errs, "label "+l+" missing")
		}
	}
	// Every acme conversation is on channel acme-wa: the channel's figures are the totals.
	if len(r.ByChannel) != 1 || r.ByChannel[0].ChannelID != "acme-wa" {
		errs = append(errs, fmt.Sprintf("by channel %+v, want acme-wa alone", r.ByChannel))
	} else {
		check("channel acme-wa", r.ByChannel[0].Figures, want.Total)
	}
	h0 := t0.Truncate(time.Hour)
	var days []insights.Figures
	for _, b := range r.Hourly {
		switch {
		case b.Start.Equal(h0):
			check("hour of t0", b.Figures, want.Hours[0])
		case b.Start.Equal(h0.Add(time.Hour)):
			check("hour after t0", b.Figures, want.Hours[1])
		default:
			check("hour "+b.Start.String(), b.Figures, insights.Figures{})
		}
	}
	if len(r.Hourly) < 2 {
		errs = append(errs, fmt.Sprintf("%d hourly buckets", len(r.Hourly)))
	}
	// Daily: one day holds both hours, unless midnight falls between them.
	if h0.Day() == h0.Add(time.Hour).Day() {
		day := want.Total
		day.Active, day.Unanswered, day.AwaitingReply = 0, 0, 0
		days = append(days, day)
	} else {
		days = append(days, want.Hours[0], want.Hours[1])
	}
	var busy []insights.Figures
	for _, b := range r.Daily {
		if b.MessagesIn > 0 {
			busy = append(busy, b.Figures)
		}
	}
	if len(busy) != len(days) {
		errs = append(errs, fmt.Sprintf("%d busy days, want %d", len(busy), len(days)))
	} else {
		for i := range days {
			check(fmt.Sprintf("day %d", i), busy[i], days[i])
		}
	}
	if len(errs) > 0 {
		msg := ""
		for _, e := range errs {
			msg += "\n  " + e
		}
		tb.Errorf("%s: figures differ from the hand-computed ones:%s", what, msg)
	}
}

func diffFigures(got, want insights.Figures) []string {
	var d []string
	cnt := func(name string, g, w uint64) {
		if g != w {
			d = append(d, fmt.Sprintf("%s %d, want %d", name, g, w))
		}
	}
	stats := func(name string, g, w insights.Stats) {
		near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-6 }
		if g.Count != w.Count || !near(g.Avg, w.Avg) || !near(g.P50, w.P50) || !near(g.P90, w.P90) {
			d = append(d, fmt.Sprintf("%s %+v, want %+v", name, g, w))
		}
	}
	cnt("finished", got.Finished, want.Finished)
	cnt("active", got.Active, want.Active)
	cnt("unanswered", got.Unanswered, want.Unanswered)
	cnt("awaiting_reply", got.AwaitingReply, want.AwaitingReply)
	cnt("messages_in", got.MessagesIn, want.MessagesIn)
	cnt("messages_out", got.MessagesOut, want.MessagesOut)
	stats("wait", got.Wait, want.Wait)
	stats("first_response", got.FirstResponse, want.FirstResponse)
	stats("reply", got.Reply, want.Reply)
	stats("handling", got.Handling, want.Handling)
	return d
}
