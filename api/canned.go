package api

// Canned responses: GET/POST /v1/canned-responses, PATCH/DELETE /v1/canned-responses/{id} and
// POST /v1/canned-responses/{id}/render. Every operator reads them and renders them into a conversation; admins and
// builders manage them. Changes are canned_* commands applied by the tenant's catalogue (actors/canned's rules).

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/canned"
	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// CannedReader reads a tenant's canned responses; part of Reader.
type CannedReader interface {
	// CannedResponses returns every canned response of the tenant (at most canned.MaxPerTenant), deleted ones
	// left out.
	CannedResponses(tenant string) ([]canned.Response, error)
	// Canned returns one canned response, or an error wrapping ErrNotFound (deleted ones too).
	Canned(tenant, id string) (canned.Response, error)
}

// CannedView is a canned response as the API shows it.
type CannedView struct {
	ID       string          `json:"id"`
	Title    string          `json:"title"`
	Category string          `json:"category"`
	Text     string          `json:"text"`
	Media    json.RawMessage `json:"media"`
	// Variables are the variables the text uses, each once.
	Variables []string  `json:"variables"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by,omitempty"`
}

func cannedView(r *canned.Response) CannedView {
	v := CannedView{ID: r.ID, Title: r.Title, Category: r.Category, Text: r.Text, Media: r.Media,
		Variables: []string{}, UpdatedAt: r.UpdatedAt, UpdatedBy: r.UpdatedBy}
	if len(v.Media) == 0 {
		v.Media = json.RawMessage("null")
	}
	for _, name := range canned.Variables(r.Text) {
		if !slices.Contains(v.Variables, name) {
			v.Variables = append(v.Variables, name)
		}
	}
	return v
}

// serveCanned routes /v1/canned-responses[/{id}[/render]]; parts[0] is "canned-responses".
func (a *API) serveCanned(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, parts []string) {
	m := string(ctx.Method())
	switch {
	case len(parts) == 1 && m == fasthttp.MethodGet:
		a.listCanned(ctx, op)
	case len(parts) == 1 && m == fasthttp.MethodPost:
		a.createCanned(ctx, op)
	case len(parts) == 2 && m == fasthttp.MethodPatch:
		a.updateCanned(ctx, op, parts[1])
	case len(parts) == 2 && m == fasthttp.MethodDelete:
		a.deleteCanned(ctx, op, parts[1])
	case len(parts) == 2 && m == fasthttp.MethodGet:
		if r, ok := a.loadCanned(ctx, op, parts[1]); ok {
			a.writeJSON(ctx, fasthttp.StatusOK, cannedView(&r))
		}
	case len(parts) == 3 && parts[2] == "render" && m == fasthttp.MethodPost:
		a.renderCanned(ctx, op, parts[1])
	case len(parts) <= 3:
		fail(ctx, codeMethodNotAllowed, m+" is not allowed on "+string(ctx.Path()))
	default:
		fail(ctx, codeNotFound, "no such endpoint: "+m+" "+string(ctx.Path()))
	}
}

// listCanned answers GET /v1/canned-responses?q=&category=: {"canned_responses":[…]} by category, then title. q
// keeps those whose title, text or category holds every word of it (case-insensitive); category keeps one category
// ("" is not a filter).
func (a *API) listCanned(ctx *fasthttp.RequestCtx, op tenant.OperatorRef) {
	args := ctx.QueryArgs()
	words := strings.Fields(strings.ToLower(string(args.Peek("q"))))
	category := strings.TrimSpace(string(args.Peek("category")))
	list, err := a.cfg.Reader.CannedResponses(op.Tenant.ID)
	if err != nil {
		a.storeFailed(ctx, op, err)
		return
	}
	out := make([]CannedView, 0, len(list))
	for i := range list {
		r := &list[i]
		if category != "" && !strings.EqualFold(r.Category, category) {
			continue
		}
		hay := strings.ToLower(r.Title + "\n" + r.Category + "\n" + r.Text)
		if !allContained(hay, words) {
			continue
		}
		out = append(out, cannedView(r))
	}
	slices.SortStableFunc(out, func(x, y CannedView) int {
		if c := strings.Compare(strings.ToLower(x.Category), strings.ToLower(y.Category)); c != 0 {
			return c
		}
		return strings.Compare(strings.ToLower(x.Title), strings.ToLower(y.Title))
	})
	a.writeJSON(ctx, fasthttp.StatusOK, struct {
		CannedResponses []CannedView `json:"canned_responses"`
	}{out})
}

func allContained(hay string, words []string) bool {
	for _, w := range words {
		if !strings.Contains(hay, w) {
			return false
		}
	}
	return true
}

// cannedBody is the body of POST and PATCH: on PATCH, what is absent stays as it is, and "media": null removes
// the file.
type cannedBody struct {
	Title    *string         `json:"title"`
	Category *string         `json:"category"`
	Text     *string         `json:"text"`
	Media    json.RawMessage `json:"media"`
}

func (a *API) createCanned(ctx *fasthttp.RequestCtx, op tenant.OperatorRef) {
	var b cannedBody
	if !decode(ctx, &b, false) {
		return
	}
	in := inbox.CannedInput{ID: "d" + newID(), Title: deref(b.Title), Category: deref(b.Category), Text: deref(b.Text)}
	if !isNull(b.Media) {
		in.Media = b.Media
	}
	a.runCanned(ctx, op, canned.Create, in, fasthttp.StatusCreated)
}

// updateCanned answers PATCH /v1/canned-responses/{id}: the change is merged onto the stored response and the
// whole response sent (the last change wins when two people edit the same response at once).
func (a *API) updateCanned(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, id string) {
	var b cannedBody
	if !decode(ctx, &b, false) {
		return
	}
	cur, ok := a.loadCanned(ctx, op, id)
	if !ok {
		return
	}
	in := inbox.CannedInput{ID: id, Title: cur.Title, Category: cur.Category, Text: cur.Text, Media: cur.Media}
	if b.Title != nil {
		in.Title = *b.Title
	}
	if b.Category != nil {
		in.Category = *b.Category
	}
	if b.Text != nil {
		in.Text = *b.Text
	}
	switch {
	case isNull(b.Media) && b.Media != nil:
		in.Media = nil
	case b.Media != nil:
		in.Media = b.Media
	}
	a.runCanned(ctx, op, canned.Update, in, fasthttp.StatusOK)
}

func (a *API) deleteCanned(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, id string) {
	if !canned.ValidID(id) {
		fail(ctx, canned.CodeNotFound, "no canned response "+quoteID(id))
		return
	}
	a.runCanned(ctx, op, canned.Delete, inbox.CannedInput{ID: id}, fasthttp.StatusOK)
}

// runCanned checks the input as the catalogue will (so a bad one is a 400 without a record) and runs the command.
func (a *API) runCanned(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, typ string, in inbox.CannedInput, status int) {
	if typ != canned.Delete {
		if r := canned.Validate(in); r != nil {
			fail(ctx, r.Code, r.Message)
			return
		}
	}
	a.run(ctx, op, inbox.Command{Type: typ, Canned: &in}, status, func(body any) any {
		if r, ok := body.(*canned.Response); ok {
			return cannedView(r)
		}
		return body
	})
}

// loadCanned reads one canned response of the caller's tenant; another tenant's, a deleted one and an id no
// response can have are all 404 canned_not_found.
func (a *API) loadCanned(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, id string) (canned.Response, bool) {
	if !canned.ValidID(id) {
		fail(ctx, canned.CodeNotFound, "no canned response "+quoteID(id))
		return canned.Response{}, false
	}
	r, err := a.cfg.Reader.Canned(op.Tenant.ID, id)
	if errors.Is(err, ErrNotFound) || err == nil && r.Deleted {
		fail(ctx, canned.CodeNotFound, "no canned response "+quoteID(id))
		return r, false
	}
	if err != nil {
		a.storeFailed(ctx, op, err)
		return r, false
	}
	return r, true
}

// renderedCanned is the answer of POST /v1/canned-responses/{id}/render.
type renderedCanned struct {
	Text  string          `json:"text"`
	Media json.RawMessage `json:"media"`
	// Missing are the variables left as written: no value for this conversation.
	Missing []string `json:"missing"`
}

// renderCanned answers POST /v1/canned-responses/{id}/render {"conversation_id"}: the text with the variables of
// that conversation's contact and of the caller filled in.
func (a *API) renderCanned(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, id string) {
	var b struct {
		ConversationID string `json:"conversation_id"`
	}
	if !decode(ctx, &b, false) {
		return
	}
	r, ok := a.loadCanned(ctx, op, id)
	if !ok {
		return
	}
	c, ok := a.load(ctx, op, b.ConversationID)
	if !ok {
		return
	}
	vars := a.renderVars(op, &c)
	text, missing := canned.Render(r.Text, vars)
	out := renderedCanned{Text: text, Media: r.Media, Missing: missing}
	if out.Missing == nil {
		out.Missing = []string{}
	}
	if len(out.Media) == 0 {
		out.Media = json.RawMessage("null")
	}
	a.writeJSON(ctx, fasthttp.StatusOK, out)
}

// renderVars are the values a canned response may use in conversation c, for the caller: the contact record's name
// and fields where there is one (else the name the conversation knows, templates.go's templateContact), the number
// masked as the caller sees it.
func (a *API) renderVars(op tenant.OperatorRef, c *conversation.Conversation) canned.Vars {
	tc := a.templateContact(op.Tenant.ID, c)
	v := canned.Vars{ContactName: tc.Name, OperatorName: op.Operator.Name}
	// A masked caller's {{contact.phone}} stays unfilled (listed in missing): the masked number would go to the
	// customer as the reply's text, and the whole one is hidden from the caller.
	if c.Contact.WaID != "" && !masks(op) {
		v.ContactPhone = "+" + c.Contact.WaID
	}
	if len(tc.Fields) > 0 {
		v.Fields = make(map[string]string, len(tc.Fields))
		for k, f := range tc.Fields {
			v.Fields[k] = fieldText(f)
		}
	}
	if v.OperatorName == "" {
		v.OperatorName = op.Operator.ID
	}
	return v
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func isNull(m json.RawMessage) bool {
	return len(m) == 0 || bytes.Equal(bytes.TrimSpace(m), []byte("null"))
}
