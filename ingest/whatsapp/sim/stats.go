package sim

import (
	"sort"
	"strconv"
	"sync/atomic"
)

// Stats is what the simulator counted since it started or since the last Reset. Every count of a rejection is
// also in Rejected under its code.
type Stats struct {
	// Requests counts every request answered in Meta's shape: the send endpoint and unknown paths.
	Requests int64 `json:"requests"`
	// Accepted counts messages answered with a wamid, recorded or not.
	Accepted int64 `json:"accepted"`
	// Reads counts mark-as-read calls answered {"success":true} (Reads holds the first Config.MaxRecorded).
	Reads int64 `json:"reads"`
	// Recorded is how many accepted messages Messages holds (at most Config.MaxRecorded).
	Recorded int `json:"recorded"`
	// Unrecorded counts accepted messages not recorded because Config.MaxRecorded were already held.
	Unrecorded int64 `json:"unrecorded"`
	// Duplicates counts accepted messages whose idempotency hint (the Idempotency-Key header, else
	// biz_opaque_callback_data) an earlier accepted message carried. Hints are remembered for the first
	// Config.MaxRecorded distinct ones.
	Duplicates int64 `json:"duplicates"`
	// Rejected counts error answers by Meta error code.
	Rejected map[int]int64 `json:"rejected"`
	// RateLimited counts 130429 answers from the per-number token bucket (injected ones are in Injected).
	RateLimited int64 `json:"rate_limited"`
	// Injected counts the failures injected by Config.Fail.
	Injected InjectedStats `json:"injected"`
	// FailedAsync counts accepted messages reported by a failed status webhook (Config.Fail.PermanentAsync).
	FailedAsync int64 `json:"failed_async"`
	// MaxPerSecond is, by phone number id, the most messages accepted in any rolling one-second window. The bucket
	// admits at most Burst + Rate in one; a sender pacing itself at Rate stays near Rate.
	MaxPerSecond map[string]int `json:"max_per_second"`
	// Rate and Burst are the bucket's settings (Config.Rate, Config.Burst).
	Rate  int `json:"rate"`
	Burst int `json:"burst"`
	// Webhooks counts status webhooks.
	Webhooks WebhookStats `json:"status_webhooks"`
	// Customers counts inbound webhooks posted by Customers.
	Customers CustomerStats `json:"customers"`
}

// InjectedStats counts injected failures by kind.
type InjectedStats struct {
	TooManyRequests int64 `json:"too_many_requests"` // 429, code 130429
	ServerErrors    int64 `json:"server_errors"`     // 500 (code 131000) and 503 (code 2)
	Permanent       int64 `json:"permanent"`         // Fail.PermanentCode, answered or (async) reported
}

// WebhookStats counts status webhooks (one per status: sent, delivered, read or failed).
type WebhookStats struct {
	Posted  int64 `json:"posted"`  // answered 200
	Retried int64 `json:"retried"` // attempts answered otherwise or failed, then tried again
	Failed  int64 `json:"failed"`  // given up after the retries; the message's later statuses are not sent
	Dropped int64 `json:"dropped"` // messages whose statuses were never sent because the queue was full
	Pending int   `json:"pending"` // messages with statuses still to send, now
}

// CustomerStats counts inbound webhooks posted by Customers.
type CustomerStats struct {
	Posted int64 `json:"posted"` // answered 200
	Failed int64 `json:"failed"` // not answered 200 after the retries
}

// counters are monotonic; Stats subtracts the values saved by the last Reset, so the metrics built on them never go
// down.
type counters struct {
	requests, accepted, unrecorded, duplicates, rateLimited, failedAsync atomic.Int64
	reads                                                                atomic.Int64
	inj429, inj5xx, injPermanent                                         atomic.Int64
	whPosted, whRetried, whFailed, whDropped                             atomic.Int64
	custPosted, custFailed                                               atomic.Int64
	// rejected has a counter for every code the simulator answers with; it is built by New and only read after.
	rejected map[int]*atomic.Int64
}

// tally is a snapshot of counters.
type tally struct {
	requests, accepted, unrecorded, duplicates, rateLimited, failedAsync int64
	reads                                                                int64
	inj429, inj5xx, injPermanent                                         int64
	whPosted, whRetried, whFailed, whDropped                             int64
	custPosted, custFailed                                               int64
	rejected                                                             map[int]int64
}

func newCounters(permanentCode int) *counters {
	c := &counters{rejected: map[int]*atomic.Int64{}}
	for code := range titles {
		c.rejected[code] = new(atomic.Int64)
	}
	if c.rejected[permanentCode] == nil {
		c.rejected[permanentCode] = new(atomic.Int64)
	}
	return c
}

func (c *counters) reject(code int) {
	n := c.rejected[code]
	if n == nil {
		panic("BUG: no counter for meta error code " + strconv.Itoa(code))
	}
	n.Add(1)
}

// codes lists the codes of rejected in order, for stable metrics.
func (c *counters) codes() []int {
	codes := make([]int, 0, len(c.rejected))
	for code := range c.rejected {
		codes = append(codes, code)
	}
	sort.Ints(codes)
	return codes
}

func (c *counters) load() tally {
	t := tally{
		requests: c.requests.Load(), accepted: c.accepted.Load(), unrecorded: c.unrecorded.Load(),
		duplicates: c.duplicates.Load(), rateLimited: c.rateLimited.Load(), failedAsync: c.failedAsync.Load(),
		reads:  c.reads.Load(),
		inj429: c.inj429.Load(), inj5xx: c.inj5xx.Load(), injPermanent: c.injPermanent.Load(),
		whPosted: c.whPosted.Load(), whRetried: c.whRetried.Load(), whFailed: c.whFailed.Load(),
		whDropped: c.whDropped.Load(), custPosted: c.custPosted.Load(), custFailed: c.custFailed.Load(),
		rejected: make(map[int]int64, len(c.rejected)),
	}
	for code, n := range c.rejected {
		t.rejected[code] = n.Load()
	}
	return t
}

// since returns the Stats counted between base and t. Rejected keeps only non-zero codes.
func (t tally) since(base tally) Stats {
	s := Stats{
		Requests: t.requests - base.requests, Accepted: t.accepted - base.accepted, Reads: t.reads - base.reads,
		Unrecorded: t.unrecorded - base.unrecorded, Duplicates: t.duplicates - base.duplicates,
		RateLimited: t.rateLimited - base.rateLimited, FailedAsync: t.failedAsync - base.failedAsync,
		Injected: InjectedStats{
			TooManyRequests: t.inj429 - base.inj429,
			ServerErrors:    t.inj5xx - base.inj5xx,
			Permanent:       t.injPermanent - base.injPermanent,
		},
		Webhooks: WebhookStats{
			Posted: t.whPosted - base.whPosted, Retried: t.whRetried - base.whRetried,
			Failed: t.whFailed - base.whFailed, Dropped: t.whDropped - base.whDropped,
		},
		Customers: CustomerStats{Posted: t.custPosted - base.custPosted, Failed: t.custFailed - base.custFailed},
		Rejected:  map[int]int64{},
	}
	for code, n := range t.rejected {
		if d := n - base.rejected[code]; d != 0 {
			s.Rejected[code] = d
		}
	}
	return s
}
