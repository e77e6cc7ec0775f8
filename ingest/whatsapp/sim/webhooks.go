package sim

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-hq/switchboard/ingest/whatsapp/meta"
)

// webhookRetryBase is the wait before the first retry of a status webhook; each further retry waits twice as long.
const webhookRetryBase = 100 * time.Millisecond

type statusKind uint8

const (
	statusSent statusKind = iota
	statusDelivered
	statusRead
	statusFailed
)

var statusNames = [...]string{statusSent: "sent", statusDelivered: "delivered", statusRead: "read", statusFailed: "failed"}

// statusJob is the next status webhook of one accepted message.
type statusJob struct {
	due     time.Duration // since the simulator's start
	seq     uint64        // orders jobs due at the same time
	wamid   string
	to      string
	phone   string
	kind    statusKind
	code    int // error code of a failed status
	attempt int
}

// webhooks posts the status webhooks of accepted messages: sent, delivered and read, StatusDelay apart, or one
// failed. A message's statuses are posted one after the other, each only after the previous one was answered 200
// (or given up), so a receiver sees them in order. Timers are a heap served by one dispatcher and a fixed pool of
// workers; the number of messages waiting is bounded and the send endpoint never waits for room.
type webhooks struct {
	url     string
	secret  string
	delay   time.Duration
	retries int
	workers int
	max     int // messages with statuses to send
	client  *http.Client
	clock   func() time.Duration                 // the simulator's clock
	after   func(time.Duration) <-chan time.Time // and its timers
	c       *counters
	log     *slog.Logger
	warned  atomic.Bool

	mu      sync.Mutex
	heap    []statusJob
	seq     uint64
	pending int
	wake    chan struct{} // a job became the heap's first
	work    chan statusJob
}

// enqueue schedules a message's first status, StatusDelay from now. It reports false, and counts a drop, when max
// messages are already waiting.
func (w *webhooks) enqueue(j statusJob) bool {
	w.mu.Lock()
	if w.pending >= w.max {
		w.mu.Unlock()
		w.c.whDropped.Add(1)
		return false
	}
	w.pending++
	j.due = w.clock() + w.delay
	w.pushLocked(j)
	w.mu.Unlock()
	return true
}

// pushLocked adds j to the heap and wakes the dispatcher when j is now first.
func (w *webhooks) pushLocked(j statusJob) {
	w.seq++
	j.seq = w.seq
	w.heap = append(w.heap, j)
	i := len(w.heap) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !w.before(i, p) {
			break
		}
		w.heap[i], w.heap[p] = w.heap[p], w.heap[i]
		i = p
	}
	if i == 0 {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

func (w *webhooks) before(i, k int) bool {
	a, b := &w.heap[i], &w.heap[k]
	return a.due < b.due || a.due == b.due && a.seq < b.seq
}

func (w *webhooks) popLocked() statusJob {
	top := w.heap[0]
	last := len(w.heap) - 1
	w.heap[0] = w.heap[last]
	w.heap[last] = statusJob{}
	w.heap = w.heap[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < last && w.before(l, m) {
			m = l
		}
		if r < last && w.before(r, m) {
			m = r
		}
		if m == i {
			break
		}
		w.heap[i], w.heap[m] = w.heap[m], w.heap[i]
		i = m
	}
	return top
}

// finish ends a message: its last status was posted or given up.
func (w *webhooks) finish() {
	w.mu.Lock()
	w.pending--
	w.mu.Unlock()
}

func (w *webhooks) schedule(j statusJob, after time.Duration) {
	j.due = w.clock() + after
	w.mu.Lock()
	w.pushLocked(j)
	w.mu.Unlock()
}

func (w *webhooks) pendingNow() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pending
}

// run runs the dispatcher and the workers until ctx ends; statuses not posted by then are not sent.
func (w *webhooks) run(ctx context.Context) {
	var wg sync.WaitGroup
	for range w.workers {
		wg.Go(func() {
			for {
				select {
				case j := <-w.work:
					w.post(ctx, j)
				case <-ctx.Done():
					return
				}
			}
		})
	}
	w.dispatch(ctx)
	wg.Wait()
}

// dispatch hands each job to a worker when it is due.
func (w *webhooks) dispatch(ctx context.Context) {
	for {
		var wait time.Duration = -1
		var job statusJob
		w.mu.Lock()
		if len(w.heap) > 0 {
			if d := w.heap[0].due - w.clock(); d > 0 {
				wait = d
			} else {
				job = w.popLocked()
				wait = 0
			}
		}
		w.mu.Unlock()
		if wait == 0 {
			select {
			case w.work <- job:
			case <-ctx.Done():
				return
			}
			continue
		}
		var fire <-chan time.Time
		if wait > 0 {
			fire = w.after(wait)
		}
		select {
		case <-w.wake:
		case <-fire:
		case <-ctx.Done():
			return
		}
	}
}

// post sends j's status and schedules what follows: the next status, a retry, or nothing.
func (w *webhooks) post(ctx context.Context, j statusJob) {
	st := meta.Status{ID: j.wamid, RecipientID: j.to, Status: statusNames[j.kind], Timestamp: time.Now().Unix()}
	if j.kind == statusFailed {
		st.ErrorCode, st.ErrorTitle = j.code, title(j.code)
	}
	body := meta.Payload(meta.Change{PhoneNumberID: j.phone, Statuses: []meta.Status{st}})
	code, _, err := meta.Post(ctx, w.client, w.url, w.secret, body)
	if ctx.Err() != nil {
		return // stopping: the rest is not sent
	}
	if err == nil && code == http.StatusOK {
		w.c.whPosted.Add(1)
		if j.kind == statusSent || j.kind == statusDelivered {
			j.kind++
			j.attempt = 0
			w.schedule(j, w.delay)
			return
		}
		w.finish()
		return
	}
	if j.attempt < w.retries {
		w.c.whRetried.Add(1)
		j.attempt++
		w.schedule(j, webhookRetryBase<<(j.attempt-1))
		return
	}
	w.c.whFailed.Add(1)
	w.finish()
	if !w.warned.Swap(true) {
		// Once: every later failure is only counted (status_webhooks failed in the stats and metrics).
		w.log.Warn("status webhook not answered 200, giving up on the message's statuses", "url", w.url,
			"status", code, "err", err, "attempts", j.attempt+1)
	}
}
