package whatsapp

import (
	"context"
	"sync/atomic"
	"time"
)

// deadlineSlices is how many shared contexts a produce timeout is cut into: webhooks arriving within timeout/64 of
// each other share one context, so each gets between 63/64 of the timeout and all of it.
const deadlineSlices = 64

// sharedDeadline hands out contexts that expire about timeout from now, shared by the webhooks of the same slice of
// time: a context.WithTimeout of its own cost each webhook four allocations (the context, its timer, its done
// channel), a shared one costs them once per slice. At most deadlineSlices of them are alive (each expires on its
// own; none is cancelled early, so a produce in flight keeps its bound). Safe for concurrent use.
type sharedDeadline struct {
	timeout time.Duration
	slice   time.Duration
	cur     atomic.Pointer[deadlineCtx]
}

type deadlineCtx struct {
	ctx     context.Context
	cancel  context.CancelFunc // called by nobody: the context ends at its deadline, which releases its timer
	created time.Time
}

func newSharedDeadline(timeout time.Duration) *sharedDeadline {
	return &sharedDeadline{timeout: timeout, slice: timeout / deadlineSlices}
}

// context returns a context whose deadline is between timeout-timeout/64 and timeout from now.
func (s *sharedDeadline) context() context.Context {
	now := time.Now()
	if c := s.cur.Load(); c != nil && now.Sub(c.created) < s.slice {
		return c.ctx
	}
	c := &deadlineCtx{created: now}
	c.ctx, c.cancel = context.WithDeadline(context.Background(), now.Add(s.timeout))
	// Two webhooks starting a slice at once both build one: the one stored serves the next webhooks.
	s.cur.Store(c)
	return c.ctx
}
