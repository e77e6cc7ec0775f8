package sim

// The message template catalogue of the Graph API: GET /{version}/{waba-id}/message_templates lists it, paged with
// cursors as Meta does, and POST /sim/templates/{name}/status changes a template's status and posts Meta's signed
// message_template_status_update webhook, so a test or a demo can pause, reject or approve a template.
//
// Every business account id serves its own copy of the seeded catalogue (SeedTemplates), made on first use.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/ingest/whatsapp/meta"
)

// SeedTemplate is one template of the seeded catalogue, in the shape the Graph API lists.
type SeedTemplate struct {
	ID             string            `json:"id"`
	Name           string            `json:"name"`
	Language       string            `json:"language"`
	Status         string            `json:"status"`
	Category       string            `json:"category"`
	ParameterFmt   string            `json:"parameter_format"`
	Components     []json.RawMessage `json:"components"`
	RejectedReason string            `json:"rejected_reason,omitempty"`
}

func comps(c ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(c))
	for i, s := range c {
		out[i] = json.RawMessage(s)
	}
	return out
}

// SeedTemplates is the catalogue every business account starts with: approved text templates (order_update with
// two parameters, in two languages; refund_update; Meta's hello_world; appointment_reminder, of named parameters),
// approved ones with an IMAGE (spring_sale) and a DOCUMENT (invoice_ready) header, one with a dynamic URL button
// (order_tracking), one with a LOCATION header (pickup_ready), one with a named TEXT header and a COPY_CODE button
// (flash_sale), a PENDING one (welcome_offer) and a REJECTED one (black_friday). A send of one of them is checked
// against it as Meta checks it (templates_send.go).
var SeedTemplates = []SeedTemplate{
	{ID: "1100000000000001", Name: "hello_world", Language: "en_US", Status: "APPROVED", Category: "UTILITY", Components: comps(
		`{"type":"HEADER","format":"TEXT","text":"Hello World"}`,
		`{"type":"BODY","text":"Welcome and congratulations!! This message demonstrates your ability to send a WhatsApp message notification from the Cloud API, hosted by Meta. Thank you for taking the time to test with us."}`,
		`{"type":"FOOTER","text":"WhatsApp Business Platform sample message"}`)},
	{ID: "1100000000000002", Name: "order_update", Language: "en_US", Status: "APPROVED", Category: "UTILITY", Components: comps(
		`{"type":"BODY","text":"Hi {{1}}, your order {{2}} has shipped and should arrive within 3 days.","example":{"body_text":[["Ana","R-1024"]]}}`,
		`{"type":"FOOTER","text":"Reply STOP to opt out"}`,
		`{"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"Track my order"}]}`)},
	{ID: "1100000000000003", Name: "order_update", Language: "pt_BR", Status: "APPROVED", Category: "UTILITY", Components: comps(
		`{"type":"BODY","text":"Olá {{1}}, seu pedido {{2}} foi enviado e chega em até 3 dias.","example":{"body_text":[["Ana","R-1024"]]}}`)},
	{ID: "1100000000000004", Name: "refund_update", Language: "en_US", Status: "APPROVED", Category: "UTILITY", Components: comps(
		`{"type":"BODY","text":"Hello {{1}}, your refund {{2}} has been processed. It can take up to 5 business days to appear.","example":{"body_text":[["Ana","R-2291"]]}}`)},
	{ID: "1100000000000005", Name: "spring_sale", Language: "en_US", Status: "APPROVED", Category: "MARKETING", Components: comps(
		`{"type":"HEADER","format":"IMAGE","example":{"header_handle":["4::aW1hZ2UvanBlZw==:ARbXq"]}}`,
		`{"type":"BODY","text":"Hi {{1}}, our spring sale starts today: 20% off everything until Sunday.","example":{"body_text":[["Ana"]]}}`,
		`{"type":"BUTTONS","buttons":[{"type":"URL","text":"Shop now","url":"https://shop.example.com/sale"}]}`)},
	{ID: "1100000000000006", Name: "invoice_ready", Language: "en_US", Status: "APPROVED", Category: "UTILITY", Components: comps(
		`{"type":"HEADER","format":"DOCUMENT","example":{"header_handle":["4::YXBwbGljYXRpb24vcGRm:ARbXr"]}}`,
		`{"type":"BODY","text":"Hi {{1}}, your invoice {{2}} is attached.","example":{"body_text":[["Ana","INV-7"]]}}`)},
	{ID: "1100000000000007", Name: "welcome_offer", Language: "en_US", Status: "PENDING", Category: "MARKETING", Components: comps(
		`{"type":"BODY","text":"Welcome {{1}}! Here is 10% off your first order: {{2}}","example":{"body_text":[["Ana","HELLO10"]]}}`)},
	{ID: "1100000000000009", Name: "appointment_reminder", Language: "en_US", Status: "APPROVED", Category: "UTILITY",
		ParameterFmt: "NAMED", Components: comps(
			`{"type":"BODY","text":"Hello {{first_name}}, your appointment at our {{city}} store is confirmed for {{date}}.","example":{"body_text_named_params":[{"param_name":"first_name","example":"Ana"},{"param_name":"city","example":"Lisbon"},{"param_name":"date","example":"May 3"}]}}`)},
	{ID: "1100000000000010", Name: "order_tracking", Language: "en_US", Status: "APPROVED", Category: "UTILITY", Components: comps(
		`{"type":"BODY","text":"Hi {{1}}, your order {{2}} is on its way.","example":{"body_text":[["Ana","R-1024"]]}}`,
		`{"type":"BUTTONS","buttons":[{"type":"URL","text":"Track order","url":"https://shop.example.com/track/{{1}}","example":["https://shop.example.com/track/R-1024"]},{"type":"QUICK_REPLY","text":"Talk to us"}]}`)},
	{ID: "1100000000000011", Name: "pickup_ready", Language: "en_US", Status: "APPROVED", Category: "UTILITY",
		ParameterFmt: "NAMED", Components: comps(
			`{"type":"HEADER","format":"LOCATION"}`,
			`{"type":"BODY","text":"Hi {{first_name}}, your order {{order}} is ready for pickup at the place above.","example":{"body_text_named_params":[{"param_name":"first_name","example":"Ana"},{"param_name":"order","example":"R-1024"}]}}`,
			`{"type":"FOOTER","text":"Open 9:00 to 19:00"}`,
			`{"type":"BUTTONS","buttons":[{"type":"URL","text":"All stores","url":"https://shop.example.com/stores"},{"type":"PHONE_NUMBER","text":"Call the store","phone_number":"+15550100200"}]}`)},
	{ID: "1100000000000012", Name: "flash_sale", Language: "en_US", Status: "APPROVED", Category: "MARKETING",
		ParameterFmt: "NAMED", Components: comps(
			`{"type":"HEADER","format":"TEXT","text":"{{sale_name}} starts now","example":{"header_text_named_params":[{"param_name":"sale_name","example":"Flash sale"}]}}`,
			`{"type":"BODY","text":"Hi {{first_name}}, copy your code below for 20% off today.","example":{"body_text_named_params":[{"param_name":"first_name","example":"Ana"}]}}`,
			`{"type":"BUTTONS","buttons":[{"type":"COPY_CODE","example":"SAVE20"}]}`)},
	{ID: "1100000000000008", Name: "black_friday", Language: "en_US", Status: "REJECTED", Category: "MARKETING",
		RejectedReason: "INVALID_FORMAT", Components: comps(`{"type":"BODY","text":"{{1}} BLACK FRIDAY!!! Buy now!!!"}`)},
}

func init() {
	for i := range SeedTemplates {
		if SeedTemplates[i].ParameterFmt == "" {
			SeedTemplates[i].ParameterFmt = "POSITIONAL"
		}
	}
}

// catalogues holds each business account's templates.
type catalogues struct {
	mu     sync.Mutex
	byWABA map[string][]SeedTemplate
}

// MaxCatalogues bounds the business accounts the simulator keeps a catalogue for; another one is listed the seeded
// catalogue but its changes are not kept.
const MaxCatalogues = 10_000

// ofLocked returns waba's catalogue, seeding it on first use; the caller holds mu.
func (c *catalogues) ofLocked(waba string) []SeedTemplate {
	if c.byWABA == nil {
		c.byWABA = map[string][]SeedTemplate{}
	}
	l, ok := c.byWABA[waba]
	if !ok {
		l = slices.Clone(SeedTemplates)
		if len(c.byWABA) < MaxCatalogues {
			c.byWABA[waba] = l
		}
	}
	return l
}

// Templates returns a copy of waba's catalogue.
func (s *Sim) Templates(waba string) []SeedTemplate {
	s.tpl.mu.Lock()
	defer s.tpl.mu.Unlock()
	return slices.Clone(s.tpl.ofLocked(waba))
}

// routeTemplates serves the catalogue's paths and reports whether path was one of them.
func (s *Sim) routeTemplates(ctx *fasthttp.RequestCtx, path []byte) bool {
	if rest, ok := bytes.CutPrefix(path, []byte("/sim/templates/")); ok {
		name, ok := bytes.CutSuffix(rest, []byte("/status"))
		if !ok || len(name) == 0 || bytes.IndexByte(name, '/') >= 0 {
			return false
		}
		s.setTemplateStatus(ctx, string(name))
		return true
	}
	rest, ok := bytes.CutSuffix(path, []byte("/message_templates"))
	if !ok || len(rest) < 2 || rest[0] != '/' {
		return false
	}
	rest = rest[1:]
	if i := bytes.IndexByte(rest, '/'); i >= 0 {
		if !validVersion(rest[:i]) {
			return false
		}
		rest = rest[i+1:]
	}
	if len(rest) == 0 || bytes.IndexByte(rest, '/') >= 0 {
		return false
	}
	s.c.requests.Add(1)
	s.listTemplates(ctx, string(rest))
	return true
}

// listTemplates answers GET /{waba}/message_templates?limit=&after= like the Graph API: {"data":[…],"paging":
// {"cursors":{"before","after"},"next"}}, "next" only when more follow. A token is required; with Config.Tokens it
// must be one of them.
func (s *Sim) listTemplates(ctx *fasthttp.RequestCtx, waba string) {
	token, ok := bearer(ctx.Request.Header.Peek(fasthttp.HeaderAuthorization))
	if !ok {
		s.reject(ctx, &apiError{status: fasthttp.StatusUnauthorized, code: CodeAccessToken, message: title(CodeAccessToken),
			details: "An Authorization: Bearer <access token> header is required"})
		return
	}
	if s.cfg.Tokens != nil {
		known := false
		for _, t := range s.cfg.Tokens {
			known = known || t == string(token)
		}
		if !known {
			s.reject(ctx, &apiError{status: fasthttp.StatusUnauthorized, code: CodeAccessToken,
				message: "Error validating access token", details: "The access token is not valid"})
			return
		}
	}
	if !ctx.IsGet() {
		s.reject(ctx, &apiError{status: fasthttp.StatusBadRequest, code: CodeInvalidParameter, typ: "GraphMethodException",
			message: "Unsupported " + strings.ToLower(string(ctx.Method())) + " request", details: "This simulator lists templates only"})
		return
	}
	if !allDigits(waba) {
		s.reject(ctx, unknownObject([]byte(waba)))
		return
	}
	limit := 25
	if v := ctx.QueryArgs().Peek("limit"); len(v) > 0 {
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 1 {
			s.reject(ctx, invalidParam("Param limit must be a positive number"))
			return
		}
		limit = min(n, 1000)
	}
	from := 0
	if v := ctx.QueryArgs().Peek("after"); len(v) > 0 {
		b, err := base64.RawURLEncoding.DecodeString(string(v))
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil || n < 0 {
			s.reject(ctx, invalidParam("Param after is not a valid cursor"))
			return
		}
		from = n
	}
	all := s.Templates(waba)
	from = min(from, len(all))
	to := min(from+limit, len(all))
	cursor := func(i int) string { return base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(i))) }
	paging := map[string]any{"cursors": map[string]string{"before": cursor(from), "after": cursor(to)}}
	if to < len(all) {
		paging["next"] = "http://" + string(ctx.Host()) + string(ctx.Path()) + "?limit=" + strconv.Itoa(limit) + "&after=" + cursor(to)
	}
	writeJSON(ctx, map[string]any{"data": all[from:to], "paging": paging})
}

// setTemplateStatus answers POST /sim/templates/{name}/status {"language","status","reason","waba"}: it sets the
// status of that template in waba's catalogue (every catalogue listed so far when waba is empty) and posts Meta's
// message_template_status_update webhook for each, signed, to the WebhookURL; it answers
// {"changed":N,"webhooks":[HTTP status of each post]} once every post is answered, so a caller knows the receiver
// took it. 404 when no catalogue has the template, 409 without a WebhookURL.
func (s *Sim) setTemplateStatus(ctx *fasthttp.RequestCtx, name string) {
	if !ctx.IsPost() {
		ctx.Response.Header.Set(fasthttp.HeaderAllow, "POST")
		ctx.Error("POST\n", fasthttp.StatusMethodNotAllowed)
		return
	}
	var b struct {
		Language string `json:"language"`
		Status   string `json:"status"`
		Reason   string `json:"reason"`
		WABA     string `json:"waba"`
	}
	if err := json.Unmarshal(ctx.PostBody(), &b); err != nil || b.Language == "" || b.Status == "" {
		ctx.Error("body: {\"language\",\"status\"[,\"reason\",\"waba\"]} required\n", fasthttp.StatusBadRequest)
		return
	}
	if s.cfg.WebhookURL == "" {
		ctx.Error("the simulator has no webhook URL to post the status webhook to\n", fasthttp.StatusConflict)
		return
	}
	type hit struct{ waba, id string }
	var hits []hit
	s.tpl.mu.Lock()
	wabas := []string{b.WABA}
	if b.WABA == "" {
		wabas = wabas[:0]
		for w := range s.tpl.byWABA {
			wabas = append(wabas, w)
		}
		slices.Sort(wabas)
	}
	for _, w := range wabas {
		l := s.tpl.ofLocked(w)
		for i := range l {
			if l[i].Name == name && l[i].Language == b.Language {
				l[i].Status = b.Status
				if b.Status == "REJECTED" {
					l[i].RejectedReason = b.Reason
				}
				hits = append(hits, hit{w, l[i].ID})
			}
		}
	}
	s.tpl.mu.Unlock()
	if len(hits) == 0 {
		ctx.Error("no catalogue has template "+name+" in "+b.Language+"\n", fasthttp.StatusNotFound)
		return
	}
	reason := b.Reason
	if reason == "" {
		reason = "NONE"
	}
	codes := make([]int, 0, len(hits))
	pctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, h := range hits {
		id, _ := strconv.ParseInt(h.id, 10, 64)
		body, err := json.Marshal(map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{
			"id": h.waba, "time": time.Now().Unix(), "changes": []any{map[string]any{
				"field": "message_template_status_update",
				"value": map[string]any{"event": b.Status, "message_template_id": id, "message_template_name": name,
					"message_template_language": b.Language, "reason": reason},
			}},
		}}})
		if err != nil {
			panic("BUG: marshal template webhook: " + err.Error())
		}
		code, _, err := meta.Post(pctx, s.client, s.cfg.WebhookURL, s.cfg.AppSecret, body)
		if err != nil {
			code = http.StatusBadGateway
		}
		codes = append(codes, code)
	}
	writeJSON(ctx, map[string]any{"changed": len(hits), "webhooks": codes})
}
