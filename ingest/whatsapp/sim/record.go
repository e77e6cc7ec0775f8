package sim

import (
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// Received is one message the simulator accepted.
type Received struct {
	// WAMID is the id the simulator answered with.
	WAMID         string `json:"wamid"`
	PhoneNumberID string `json:"phone_number_id"`
	To            string `json:"to"`
	// Type is the message type, "text" when the request left it out (as Meta defaults it).
	Type string `json:"type"`
	// Payload is the request body as received.
	Payload json.RawMessage `json:"payload"`
	// ReceivedAt is when the simulator accepted it.
	ReceivedAt time.Time `json:"received_at"`
	// IdempotencyKey is the request's idempotency hint: its Idempotency-Key header, else its
	// biz_opaque_callback_data; "" when it had neither.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// FailCode is the error code of the failed status webhook the simulator reports for it instead of sent,
	// delivered and read (Config.Fail.PermanentAsync); 0 for a message that is delivered.
	FailCode int `json:"fail_code,omitempty"`
}

// recorder keeps the first max accepted messages and the first max distinct idempotency hints.
type recorder struct {
	mu   sync.Mutex
	max  int
	msgs []Received
	keys map[string]struct{}
}

// add records m unless max are held and reports whether m's hint was seen before.
func (r *recorder) add(m Received) (recorded, duplicate bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m.IdempotencyKey != "" {
		if _, duplicate = r.keys[m.IdempotencyKey]; !duplicate && len(r.keys) < r.max {
			r.keys[m.IdempotencyKey] = struct{}{}
		}
	}
	if len(r.msgs) >= r.max {
		return false, duplicate
	}
	r.msgs = append(r.msgs, m)
	return true, duplicate
}

// slice returns a copy of the messages from offset, at most limit of them (limit < 0: all).
func (r *recorder) slice(offset, limit int) []Received {
	r.mu.Lock()
	defer r.mu.Unlock()
	if offset >= len(r.msgs) {
		return []Received{}
	}
	end := len(r.msgs)
	if limit >= 0 && offset+limit < end {
		end = offset + limit
	}
	return append([]Received(nil), r.msgs[offset:end]...)
}

func (r *recorder) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs, r.keys = nil, map[string]struct{}{}
}

// serveMessages answers GET /sim/messages[?offset=N&limit=M] with the recorded messages, oldest first, and
// DELETE /sim/messages with a Reset.
func (s *Sim) serveMessages(ctx *fasthttp.RequestCtx) {
	switch {
	case ctx.IsGet():
		offset, ok1 := queryInt(ctx, "offset", 0)
		limit, ok2 := queryInt(ctx, "limit", -1)
		if !ok1 || !ok2 || offset < 0 {
			ctx.Error("offset and limit must be integers, offset not negative\n", fasthttp.StatusBadRequest)
			return
		}
		writeJSON(ctx, s.rec.slice(offset, limit))
	case ctx.IsDelete():
		s.Reset()
		ctx.SetStatusCode(fasthttp.StatusNoContent)
	default:
		ctx.Response.Header.Set(fasthttp.HeaderAllow, "GET, DELETE")
		ctx.Error("GET or DELETE\n", fasthttp.StatusMethodNotAllowed)
	}
}

// serveStats answers GET /sim/stats.
func (s *Sim) serveStats(ctx *fasthttp.RequestCtx) { serveGet(ctx, func() any { return s.Stats() }) }

// serveGet answers a GET with v's JSON, and any other method 405.
func serveGet(ctx *fasthttp.RequestCtx, v func() any) {
	if !ctx.IsGet() {
		ctx.Response.Header.Set(fasthttp.HeaderAllow, "GET")
		ctx.Error("GET\n", fasthttp.StatusMethodNotAllowed)
		return
	}
	writeJSON(ctx, v())
}

func queryInt(ctx *fasthttp.RequestCtx, name string, def int) (int, bool) {
	v := ctx.QueryArgs().Peek(name)
	if len(v) == 0 {
		return def, true
	}
	n, err := strconv.Atoi(string(v))
	return n, err == nil
}

func writeJSON(ctx *fasthttp.RequestCtx, v any) {
	ctx.SetContentType("application/json")
	if err := json.NewEncoder(ctx).Encode(v); err != nil {
		panic("BUG: encode simulator JSON: " + err.Error())
	}
}
