package api

// GET /v1/events (Server-Sent Events from the live hub) and POST /v1/conversations/{id}/presence.

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/api/live"
)

// serveLive answers the live paths; false when parts is another.
func (a *API) serveLive(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, parts []string) bool {
	switch {
	case len(parts) == 1 && parts[0] == "events" && ctx.IsGet():
		a.streamEvents(ctx, op)
	case len(parts) == 3 && parts[0] == "conversations" && parts[2] == "presence" && ctx.IsPost():
		a.presence(ctx, op, parts[1])
	default:
		return false
	}
	return true
}

func (a *API) streamEvents(ctx *fasthttp.RequestCtx, op tenant.OperatorRef) {
	hub := a.cfg.Live
	if hub == nil {
		fail(ctx, codeUnavailable, "this node serves no live events")
		return
	}
	last := string(ctx.Request.Header.Peek("Last-Event-ID"))
	if last == "" {
		last = string(ctx.QueryArgs().Peek("last_event_id"))
	}
	sub, err := hub.Subscribe(op.Tenant.ID, op.Operator.ID, last)
	switch {
	case errors.Is(err, live.ErrTooManyConnections):
		fail(ctx, codeTooManyStreams, "too many open event streams for this operator")
		return
	case err != nil:
		fail(ctx, codeUnavailable, "the live events are stopping; retry")
		return
	}
	// The stream takes over the connection (fasthttp's hijack) and writes to it directly: no pipe and goroutine
	// between the hub and the socket, no chunked framing; the body ends when the connection closes. The server's
	// WriteTimeout does not apply to a hijacked connection: each write gets StreamWriteTimeout instead, so a long
	// stream is never cut and a client that stops reading is dropped. Hijacked connections are not waited for by
	// the server's Shutdown: the stream ends when ctx.Done is closed, which Shutdown does first.
	timeout := a.cfg.StreamWriteTimeout
	sc := live.StreamConfig{Heartbeat: a.cfg.Heartbeat, Done: ctx.Done()}
	if counts := a.cfg.Counts; counts != nil {
		tn, opID := op.Tenant.ID, op.Operator.ID
		sc.Counts = func() ([]byte, error) {
			return a.edge.counts.get(tn, opID, hub.Head(tn), func() ([]byte, error) {
				v, err := counts(tn, opID)
				if err != nil {
					a.log.Warn("counts for the event stream", "tenant", tn, "operator", opID, "err", err)
					return nil, err
				}
				return json.Marshal(v)
			})
		}
	}
	sc.Valid = a.stillValid(ctx)
	if masks(op) {
		sc.Transform = maskFrame
	}
	ctx.HijackSetNoResponse(true)
	stopping := ctx.Done()
	ctx.Hijack(func(c net.Conn) {
		done, readerDone := untilGone(c, stopping)
		sc.Done = done
		sc.BeforeWrite = func() { _ = c.SetWriteDeadline(time.Now().Add(timeout)) }
		w := bufio.NewWriterSize(c, 8<<10)
		_, _ = w.WriteString(streamHeader)
		sub.Stream(w, sc)
		// fasthttp recycles the connection's reader once this handler returns: the watching reader must be out of
		// it first. A read deadline in the past wakes it.
		_ = c.SetReadDeadline(time.Now())
		<-readerDone
	})
}

// stillValid returns the check a stream makes at each heartbeat that its credential still holds: a signed-out or
// expired session, or a token removed from the configuration, ends the stream within a heartbeat. A session that
// cannot be read (the store failing) is given the benefit of the doubt until the next heartbeat.
func (a *API) stillValid(ctx *fasthttp.RequestCtx) func() bool {
	if h := string(ctx.Request.Header.Peek("Authorization")); h != "" {
		token, _ := strings.CutPrefix(h, "Bearer ")
		return func() bool { _, ok := a.cfg.Directory.OperatorByToken(token); return ok }
	}
	k := KeyOf(string(ctx.Request.Header.Cookie(CookieName)))
	return func() bool {
		s, ok, err := a.cfg.Sessions.Get(k)
		if err != nil {
			return true
		}
		if ok {
			_, ok = a.sessionOperator(s)
		}
		return ok
	}
}

// untilGone returns done, closed when the client closes its end of c (a reload or a closed tab: the read sees EOF at
// once, so the operator's stream slot is freed then, not at the next heartbeat's failed write) or when stopping is
// closed, and readerDone, closed when the watching reader has stopped using c. A client sends nothing after its
// request, so whatever it might still send is discarded. The caller must make the reader stop (a read deadline)
// and wait for readerDone before c is released; that also ends the stopping watcher.
func untilGone(c net.Conn, stopping <-chan struct{}) (done, readerDone <-chan struct{}) {
	d := make(chan struct{})
	gone := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, c)
		close(gone)
	}()
	go func() {
		select {
		case <-gone:
		case <-stopping:
		}
		close(d)
	}()
	return d, gone
}

// streamHeader starts a stream's response; the body is delimited by the connection's end.
const streamHeader = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n" +
	"X-Accel-Buffering: no\r\nConnection: close\r\n\r\n"

func (a *API) presence(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, id string) {
	if a.cfg.Live == nil {
		fail(ctx, codeUnavailable, "this node serves no live events")
		return
	}
	var body struct {
		State string `json:"state"`
	}
	if err := json.Unmarshal(ctx.PostBody(), &body); err != nil {
		fail(ctx, codeInvalidJSON, "the body must be {\"state\":\"viewing|typing|left\"}")
		return
	}
	switch body.State {
	case live.Viewing, live.Typing, live.Left:
	default:
		fail(ctx, codeInvalidPresence, "state must be viewing, typing or left")
		return
	}
	// Presence is the node's own (its hub); a tenant another node owns is not read here: the conversation is
	// checked by its id's shape only, and the presence is shown to the tenant's own operators alone.
	if !a.local(op.Tenant.ID) {
		if !conversation.ValidID(id) {
			fail(ctx, conversation.CodeNotFound, "no conversation "+quoteID(id))
			return
		}
	} else if _, ok := a.load(ctx, op, id); !ok {
		return
	}
	a.cfg.Live.SetPresence(op.Tenant.ID, live.Presence{ConversationID: id, OperatorID: op.Operator.ID,
		OperatorName: op.Operator.Name, State: body.State})
	ctx.SetStatusCode(fasthttp.StatusNoContent)
}

// countsCache shares the `counts` data among an operator's streams: an entry computed after the tenant's newest
// event (its hub head) is still exact until another event is published, so the streams of one operator (a console in
// several tabs, or a burst after one event) read the store once. Bounded: past maxCountsEntries it starts afresh.
type countsCache struct {
	mu      sync.Mutex
	entries map[string]countsEntry
}

type countsEntry struct {
	head int64
	data []byte
}

const maxCountsEntries = 10000

// get returns the cached data of tenant and operator when it was computed at head, else computes and keeps it.
func (c *countsCache) get(tenant, operator string, head int64, compute func() ([]byte, error)) ([]byte, error) {
	key := tenant + "\x00" + operator
	c.mu.Lock()
	if e, ok := c.entries[key]; ok && e.head == head {
		c.mu.Unlock()
		return e.data, nil
	}
	c.mu.Unlock()
	data, err := compute()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.entries == nil || len(c.entries) >= maxCountsEntries {
		c.entries = make(map[string]countsEntry)
	}
	if e, ok := c.entries[key]; !ok || e.head <= head {
		c.entries[key] = countsEntry{head: head, data: data}
	}
	c.mu.Unlock()
	return data, nil
}
