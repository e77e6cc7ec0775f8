package sim

// Meta's mark-as-read call: POST /{phone_number_id}/messages with
// {"messaging_product":"whatsapp","status":"read","message_id":"<wamid>"}, answered {"success":true}. It shares the
// messages edge with sends but is not a message: it has no recipient, no wamid of its own, no status webhooks, and
// it is recorded apart (GET /sim/reads), so GET /sim/messages stays the list of messages sent.

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// Read is one mark-as-read call the simulator accepted.
type Read struct {
	PhoneNumberID string `json:"phone_number_id"`
	// MessageID is the wamid of the customer's message marked read.
	MessageID  string    `json:"message_id"`
	ReceivedAt time.Time `json:"received_at"`
}

// readRequest is the body of a mark-as-read call. Pointers tell a missing field from an empty one.
type readRequest struct {
	MessagingProduct *string `json:"messaging_product"`
	Status           *string `json:"status"`
	MessageID        *string `json:"message_id"`
}

// asRead reports whether body is a mark-as-read call (it has a "status" field: a message never has one) and, if
// so, checks it as Meta does: the marked message's id, or the error to answer.
func asRead(body []byte) (wamid string, isRead bool, e *apiError) {
	var r readRequest
	if json.Unmarshal(body, &r) != nil || r.Status == nil {
		return "", false, nil // not one: the send validation says what is wrong with it
	}
	bad := func(details string) (string, bool, *apiError) {
		return "", true, &apiError{status: fasthttp.StatusBadRequest, code: CodeInvalidParameter,
			message: title(CodeInvalidParameter), details: details}
	}
	switch {
	case r.MessagingProduct == nil || *r.MessagingProduct != "whatsapp":
		return bad("The parameter messaging_product is required and must be whatsapp")
	case *r.Status != "read":
		return bad(`Param status must be "read"`)
	case r.MessageID == nil || *r.MessageID == "":
		return bad("The parameter message_id is required")
	}
	return *r.MessageID, true, nil
}

// readRecorder keeps the first max accepted mark-as-read calls.
type readRecorder struct {
	mu    sync.Mutex
	max   int
	reads []Read
}

func (r *readRecorder) add(rd Read) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reads) < r.max {
		r.reads = append(r.reads, rd)
	}
}

func (r *readRecorder) all() []Read {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Read{}, r.reads...)
}

func (r *readRecorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reads = nil
}

// acceptRead records a mark-as-read call and answers Meta's {"success":true}.
func (s *Sim) acceptRead(ctx *fasthttp.RequestCtx, phone []byte, wamid string) {
	s.reads.add(Read{PhoneNumberID: string(phone), MessageID: wamid, ReceivedAt: s.clk.Now()})
	s.c.reads.Add(1)
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("application/json")
	ctx.SetBodyString(`{"success":true}`)
}

// Reads returns a copy of the mark-as-read calls accepted since the start or the last Reset, oldest first.
func (s *Sim) Reads() []Read { return s.reads.all() }

// serveReads answers GET /sim/reads with the recorded mark-as-read calls, oldest first.
func (s *Sim) serveReads(ctx *fasthttp.RequestCtx) { serveGet(ctx, func() any { return s.Reads() }) }
