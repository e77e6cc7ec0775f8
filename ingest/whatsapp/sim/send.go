package sim

import (
	"bytes"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// route serves the simulator's own endpoints under /sim/ and everything else as the Graph API would.
func (s *Sim) route(ctx *fasthttp.RequestCtx) {
	s.handling(ctx.Conn())
	path := ctx.Path()
	if s.routeMedia(ctx, path) {
		return
	}
	switch string(path) {
	case "/sim/messages":
		s.serveMessages(ctx)
		return
	case "/sim/stats":
		s.serveStats(ctx)
		return
	case "/sim/reads":
		s.serveReads(ctx)
		return
	}
	if s.routeTemplates(ctx, path) {
		return
	}
	s.c.requests.Add(1)
	phone, ok := sendPath(path)
	switch {
	case !ok:
		s.reject(ctx, &apiError{status: fasthttp.StatusBadRequest, code: CodeUnknownPath, message: title(CodeUnknownPath),
			details: "Unknown path components: " + string(path)})
	case !ctx.IsPost():
		s.reject(ctx, &apiError{status: fasthttp.StatusBadRequest, code: CodeInvalidParameter,
			typ: "GraphMethodException", message: "Unsupported " + strings.ToLower(string(ctx.Method())) + " request",
			details: "The messages edge only takes POST"})
	default:
		s.send(ctx, phone)
	}
	if s.cfg.Latency > 0 {
		s.wait(s.cfg.Latency)
	}
}

// sendPath returns the phone number id of "/{version}/{phone_number_id}/messages" or "/{phone_number_id}/messages".
// An id that is not digits is still returned: it is an unknown object, not an unknown path.
func sendPath(path []byte) ([]byte, bool) {
	rest, ok := bytes.CutSuffix(path, []byte("/messages"))
	if !ok || len(rest) < 2 || rest[0] != '/' {
		return nil, false
	}
	rest = rest[1:]
	if i := bytes.IndexByte(rest, '/'); i >= 0 {
		if !validVersion(rest[:i]) {
			return nil, false
		}
		rest = rest[i+1:]
	}
	if len(rest) == 0 || bytes.IndexByte(rest, '/') >= 0 {
		return nil, false
	}
	return rest, true
}

// validVersion accepts Graph API versions: "v" and digits, with an optional "." and digits (v21.0).
func validVersion(v []byte) bool {
	if len(v) < 2 || v[0] != 'v' {
		return false
	}
	major, minor, _ := bytes.Cut(v[1:], []byte("."))
	return allDigits(string(major)) && (len(minor) == 0 || allDigits(string(minor)))
}

// send answers one send request: authentication, validation, the rate limit, injected and deterministic failures,
// then acceptance.
func (s *Sim) send(ctx *fasthttp.RequestCtx, phone []byte) {
	token, ok := bearer(ctx.Request.Header.Peek(fasthttp.HeaderAuthorization))
	if !ok {
		s.reject(ctx, &apiError{status: fasthttp.StatusUnauthorized, code: CodeAccessToken, message: title(CodeAccessToken),
			details: "An Authorization: Bearer <access token> header is required"})
		return
	}
	switch want, known := s.cfg.Tokens[string(phone)]; {
	case !allDigits(string(phone)) || s.cfg.Tokens != nil && !known:
		s.reject(ctx, unknownObject(phone))
		return
	case s.cfg.Tokens != nil && string(token) != want:
		s.reject(ctx, &apiError{status: fasthttp.StatusUnauthorized, code: CodeAccessToken,
			message: "Error validating access token", details: "The access token is not valid for this phone number id"})
		return
	}
	body := ctx.PostBody()
	if wamid, isRead, e := asRead(body); isRead {
		if e != nil {
			s.reject(ctx, e)
			return
		}
		if s.number(phone) == nil {
			s.reject(ctx, unknownObject(phone))
			return
		}
		// Meta's throughput limit counts messages; marking one read is not a message, so it takes no token.
		s.acceptRead(ctx, phone, wamid)
		return
	}
	req, e := validate(body)
	if e != nil {
		s.reject(ctx, e)
		return
	}
	num := s.number(phone)
	if num == nil {
		s.reject(ctx, unknownObject(phone))
		return
	}
	num.mu.Lock()
	ok = num.bucket.take(s.clock())
	num.mu.Unlock()
	if !ok {
		s.c.rateLimited.Add(1)
		s.reject(ctx, rateLimited())
		return
	}

	failCode := 0
	if s.failFrom > 0 {
		switch u, f := s.draw(), s.cfg.Fail; {
		case u < f.Rate429:
			s.c.inj429.Add(1)
			s.reject(ctx, rateLimited())
			return
		case u < f.Rate429+f.Rate5xx/2:
			s.c.inj5xx.Add(1)
			s.reject(ctx, &apiError{status: fasthttp.StatusInternalServerError, code: CodeSomethingWentWrong,
				message: title(CodeSomethingWentWrong), details: "An unknown error occurred"})
			return
		case u < f.Rate429+f.Rate5xx:
			s.c.inj5xx.Add(1)
			s.reject(ctx, &apiError{status: fasthttp.StatusServiceUnavailable, code: CodeServiceUnavailable,
				message: title(CodeServiceUnavailable), details: "The service is temporarily unavailable"})
			return
		case u < s.failFrom:
			s.c.injPermanent.Add(1)
			failCode = f.PermanentCode
		}
	}
	switch {
	case failCode != 0:
	case req.typ == "template" && req.template == MissingTemplate:
		s.reject(ctx, permanent(CodeTemplateMissing, "template name ("+MissingTemplate+") does not exist in the translation"))
		return
	case strings.HasPrefix(req.to, UndeliverablePrefix):
		failCode = CodeUndeliverable
	case strings.HasPrefix(req.to, WindowClosedPrefix) && req.typ != "template":
		failCode = CodeReengagement
	}
	if failCode != 0 && !s.cfg.Fail.PermanentAsync {
		s.reject(ctx, permanent(failCode, permanentDetails(failCode)))
		return
	}
	s.accept(ctx, phone, num, req, body, failCode)
}

// accept records a message, answers with its wamid and schedules its status webhooks.
func (s *Sim) accept(ctx *fasthttp.RequestCtx, phone []byte, num *number, req checked, body []byte, failCode int) {
	now := s.clk.Now()
	num.mu.Lock()
	num.window.add(s.clock())
	num.mu.Unlock()
	m := Received{
		WAMID:         s.newWAMID(req.to),
		PhoneNumberID: string(phone),
		To:            req.to,
		Type:          req.typ,
		Payload:       append([]byte(nil), body...), // fasthttp reuses the request's buffer
		ReceivedAt:    now,
		FailCode:      failCode,
	}
	if k := ctx.Request.Header.Peek(idempotencyHeader); len(k) > 0 {
		m.IdempotencyKey = string(k)
	} else {
		m.IdempotencyKey = req.opaque
	}
	s.c.accepted.Add(1)
	if s.cfg.OnAccepted != nil {
		s.cfg.OnAccepted(&m)
	}
	if failCode != 0 {
		s.c.failedAsync.Add(1)
	}
	recorded, dup := s.rec.add(m)
	if !recorded {
		s.c.unrecorded.Add(1)
	}
	if dup {
		s.c.duplicates.Add(1)
	}
	if s.hooks != nil {
		j := statusJob{wamid: m.WAMID, to: m.To, phone: m.PhoneNumberID, kind: statusSent}
		if failCode != 0 {
			j.kind, j.code = statusFailed, failCode
		}
		s.hooks.enqueue(j)
	}

	r := &ctx.Response
	r.SetStatusCode(fasthttp.StatusOK)
	r.Header.SetContentType("application/json")
	r.AppendBodyString(`{"messaging_product":"whatsapp","contacts":[{"input":"`)
	r.AppendBodyString(m.To) // digits only: nothing to escape
	r.AppendBodyString(`","wa_id":"`)
	r.AppendBodyString(m.To)
	r.AppendBodyString(`"}],"messages":[{"id":"`)
	r.AppendBodyString(m.WAMID)
	if req.typ == "template" {
		r.AppendBodyString(`","message_status":"accepted"}]}`)
	} else {
		r.AppendBodyString(`"}]}`)
	}
}

func (s *Sim) reject(ctx *fasthttp.RequestCtx, e *apiError) {
	s.c.reject(e.code)
	e.write(ctx, s.traceID())
}

// draw returns the next number in [0, 1) of the seeded source.
func (s *Sim) draw() float64 {
	s.randMu.Lock()
	defer s.randMu.Unlock()
	return s.rand.Float64()
}

// wait sleeps for d or until the simulator stops.
func (s *Sim) wait(d time.Duration) {
	select {
	case <-s.clk.After(d):
	case <-s.stop:
	}
}

// bearer returns the token of "Bearer <token>".
func bearer(h []byte) ([]byte, bool) {
	const prefix = "bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(string(h[:len(prefix)]), prefix) {
		return nil, false
	}
	tok := bytes.TrimSpace(h[len(prefix):])
	return tok, len(tok) > 0
}

func rateLimited() *apiError {
	return &apiError{status: fasthttp.StatusTooManyRequests, code: CodeRateLimit, message: title(CodeRateLimit),
		details: "Cloud API message throughput has been reached for this phone number"}
}

func unknownObject(phone []byte) *apiError {
	return &apiError{status: fasthttp.StatusBadRequest, code: CodeInvalidParameter, typ: "GraphMethodException",
		message: "Unsupported post request. Object with ID '" + string(phone) + "' does not exist, cannot be " +
			"loaded due to missing permissions, or does not support this operation",
		details: "Unknown phone number id " + string(phone)}
}

func permanentDetails(code int) string {
	switch code {
	case CodeUndeliverable:
		return "Message could not be delivered to the recipient"
	case CodeReengagement:
		return "Message failed to send because more than 24 hours have passed since the customer last replied to this number"
	}
	return title(code)
}
