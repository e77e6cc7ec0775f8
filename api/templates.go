package api

// The template catalogue: GET /v1/templates lists the tenant's WhatsApp message templates (synced from Meta and kept
// current by its webhooks), POST /v1/templates/sync fetches them now, and every template message is checked
// against the catalogue of its channel's business account before it is queued (checkTemplate).

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/template"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// TemplateReader reads a tenant's template catalogue. Part of Reader.
type TemplateReader interface {
	// Templates returns the templates of business account waba of tenant, or of all its accounts when waba is "".
	Templates(tenant, waba string) ([]template.Template, error)
	// Template returns one template, or an error wrapping ErrNotFound.
	Template(tenant, waba, name, language string) (template.Template, error)
}

// TemplateFetcher fetches a tenant's catalogues from Meta's Graph API, one per business account of its channels.
// cmd/switchboard/node implements it; it must be safe for concurrent use and honour ctx.
type TemplateFetcher interface {
	FetchTemplates(ctx context.Context, tenant string) ([]inbox.TemplateCatalogue, error)
}

// The template codes of the API (the send check's are actors/template's).
const (
	codeChannelNotFound = "channel_not_found" // channel_id names no channel of the tenant
	codeGraphFailed     = "graph_failed"      // Meta's Graph API refused or did not answer a sync
)

// TemplateContact is what params_from reads: the contact's name and custom field values (JSON values as the
// contacts API stores them).
type TemplateContact struct {
	Name   string
	Fields map[string]json.RawMessage
}

// templateList is the body of GET /v1/templates.
type templateList struct {
	Templates []template.Template `json:"templates"`
}

// listTemplates answers GET /v1/templates?channel_id=&status=: the catalogue of the channel's business account (of
// every account of the tenant's channels without channel_id), by name then language; status keeps one status
// (APPROVED, …). A channel without a waba_id has no catalogue: the list is empty.
func (a *API) listTemplates(ctx *fasthttp.RequestCtx, op tenant.OperatorRef) {
	args := ctx.QueryArgs()
	// The accounts are those of the tenant's configured channels: a catalogue left from an account the config no
	// longer names is not shown.
	var wabas []string
	if id := string(args.Peek("channel_id")); id != "" {
		ch, ok := channelOf(op.Tenant, id)
		if !ok {
			fail(ctx, codeChannelNotFound, "no channel "+quoteID(id))
			return
		}
		if ch.WABAID != "" {
			wabas = append(wabas, ch.WABAID)
		}
	} else {
		for _, ch := range op.Tenant.Channels {
			if ch.WABAID != "" && !slices.Contains(wabas, ch.WABAID) {
				wabas = append(wabas, ch.WABAID)
			}
		}
	}
	status := strings.ToUpper(string(args.Peek("status")))
	out := []template.Template{}
	for _, w := range wabas {
		list, err := a.cfg.Reader.Templates(op.Tenant.ID, w)
		if err != nil {
			a.storeFailed(ctx, op, err)
			return
		}
		for _, t := range list {
			if status == "" || t.Status == status {
				t.Derive() // a record stored before a field was derived
				out = append(out, t)
			}
		}
	}
	slices.SortStableFunc(out, func(x, y template.Template) int {
		if c := strings.Compare(x.Name, y.Name); c != 0 {
			return c
		}
		if c := strings.Compare(x.Language, y.Language); c != 0 {
			return c
		}
		return strings.Compare(x.WABA, y.WABA)
	})
	a.writeJSON(ctx, fasthttp.StatusOK, templateList{Templates: out})
}

// syncTemplates answers POST /v1/templates/sync (admin and builder): it fetches every catalogue of the tenant from
// Meta now and queues one template_sync per business account, answering {"synced":[{"waba","templates","changed",
// "deleted","invalid"}]} once each is applied.
func (a *API) syncTemplates(ctx *fasthttp.RequestCtx, op tenant.OperatorRef) {
	if a.cfg.Templates == nil || a.cfg.Producer == nil || a.cfg.Outcomes == nil {
		fail(ctx, codeUnavailable, "this node does not sync templates")
		return
	}
	fctx, cancel := context.WithTimeout(context.Background(), a.cfg.CommandTimeout)
	defer cancel()
	cats, err := a.cfg.Templates.FetchTemplates(fctx, op.Tenant.ID)
	if err != nil {
		a.log.Warn("fetch templates", "tenant", op.Tenant.ID, "err", err)
		fail(ctx, codeGraphFailed, "Meta's Graph API did not list the templates: "+err.Error())
		return
	}
	synced := make([]any, 0, len(cats))
	for i := range cats {
		res, ok := a.runWait(ctx, op, inbox.Command{Type: "template_sync", Catalogue: &cats[i]})
		if !ok {
			return
		}
		synced = append(synced, res)
	}
	a.writeJSON(ctx, fasthttp.StatusOK, struct {
		Synced []any `json:"synced"`
	}{synced})
}

// runWait produces cmd and waits for its outcome like run, but returns a success's body instead of answering it;
// on a refusal or a failure it answers ctx and returns false.
func (a *API) runWait(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, cmd inbox.Command) (any, bool) {
	var body any
	ok := false
	a.run(ctx, op, cmd, fasthttp.StatusOK, func(b any) any {
		body, ok = b, true
		return b
	})
	if ok {
		ctx.Response.ResetBody() // the caller answers
	}
	return body, ok
}

// channelOf returns the channel id of tenant t.
func channelOf(t *tenant.Tenant, id string) (*tenant.Channel, bool) {
	for i := range t.Channels {
		if t.Channels[i].ID == id {
			return &t.Channels[i], true
		}
	}
	return nil, false
}

// checkTemplate makes template message t ready to queue on channel channelID of op's tenant: it fills the body
// parameters params_from names from contact (ParamsFrom is cleared), then checks t against the channel's catalogue
// (template.Check: unknown, not APPROVED, wrong parameters, header or buttons) and names a named TEXT header's
// parameter as the catalogue does. A channel without a waba_id has no catalogue,
// nor has one whose account was never synced: their templates go unchecked, as Meta will judge them. On a refusal
// it answers ctx and returns false.
//
// The send path of POST /v1/conversations/{id}/messages calls it (through checkTemplateText), and so does starting
// a conversation.
func (a *API) checkTemplate(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, channelID string, t *inbox.Template, contact TemplateContact) bool {
	_, ok := a.checkTemplateText(ctx, op, channelID, t, contact)
	return ok
}

// checkTemplateText is checkTemplate that also returns the template's body filled in, for the message's text (so
// the conversation shows what the customer read; set it as the Outbound's Text); "" when the channel has no
// catalogue.
func (a *API) checkTemplateText(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, channelID string, t *inbox.Template, contact TemplateContact) (body string, ok bool) {
	if len(t.ParamsFrom) > 0 {
		if msg := resolveParams(t, contact); msg != "" {
			fail(ctx, template.CodeInvalidParams, msg)
			return "", false
		}
	}
	ch, known := channelOf(op.Tenant, channelID)
	if !known || ch.WABAID == "" {
		return "", true
	}
	rec, err := a.cfg.Reader.Template(op.Tenant.ID, ch.WABAID, t.Name, t.Language)
	found := err == nil
	rec.Derive()
	if err != nil && !errors.Is(err, ErrNotFound) {
		a.storeFailed(ctx, op, err)
		return "", false
	}
	if !found {
		// An account never synced yet (the node's first start, or the Graph API down since) has no catalogue to
		// refuse by: its templates go unchecked until the first sync.
		all, err := a.cfg.Reader.Templates(op.Tenant.ID, ch.WABAID)
		if err != nil {
			a.storeFailed(ctx, op, err)
			return "", false
		}
		if len(all) == 0 {
			return "", true
		}
	}
	if r := template.Check(&rec, found, t); r != nil {
		fail(ctx, r.Code, r.Message)
		return "", false
	}
	if len(rec.ParamNames) == len(t.Params) && len(rec.ParamNames) > 0 {
		t.ParamNames = rec.ParamNames
	}
	if h := t.Header; h != nil && h.Type == "text" && rec.Header != nil && rec.Header.ParamName != "" {
		// Meta takes a named header parameter by its name, as it does the body's.
		h.ParameterName = rec.Header.ParamName
	}
	headerText := ""
	if t.Header != nil && t.Header.Type == "text" {
		headerText = t.Header.Text
	}
	return template.Render(&rec, t.Params, headerText).Body, true
}

// resolveParams fills t.Params from t.ParamsFrom: position i takes the contact value ParamsFrom[i] names
// ("contact.name", "contact.fields.<key>"), or Params[i] when ParamsFrom[i] is "" or the contact has no such value.
// It returns what is wrong, or "".
func resolveParams(t *inbox.Template, c TemplateContact) string {
	n := max(len(t.Params), len(t.ParamsFrom))
	out := make([]string, n)
	copy(out, t.Params)
	for i, src := range t.ParamsFrom {
		var v string
		switch {
		case src == "":
			continue
		case src == "contact.name":
			v = c.Name
		case strings.HasPrefix(src, "contact.fields."):
			v = fieldText(c.Fields[strings.TrimPrefix(src, "contact.fields.")])
		default:
			return "params_from[" + strconv.Itoa(i) + "]: " + strconv.Quote(src) +
				" is not contact.name nor contact.fields.<key>"
		}
		if strings.TrimSpace(v) != "" {
			out[i] = v
		} else if strings.TrimSpace(out[i]) == "" {
			return "parameter " + strconv.Itoa(i+1) + ": the contact has no " + src + " and params gives no value"
		}
	}
	t.Params, t.ParamsFrom = out, nil
	return ""
}

// fieldText is a custom field's value as text: a string as it is, a number or a boolean as JSON writes it.
func fieldText(v json.RawMessage) string {
	if len(v) == 0 || string(v) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	return string(v)
}

// templateContact returns what params_from reads for conversation c: its contact record's name and fields, or the
// name the conversation knows when there is no record (yet). The record is found by c.Contact.WaID, else by
// c.Contact.ID.
func (a *API) templateContact(tenantID string, c *conversation.Conversation) TemplateContact {
	tc := TemplateContact{Name: c.Contact.Name}
	id := c.Contact.ID
	if c.Contact.WaID != "" {
		// The contact's id is derived from its address (a conversation stored before contacts has another one).
		id = conversation.ContactID(c.Contact.WaID)
	}
	if id == "" {
		return tc
	}
	if k, err := a.cfg.Reader.Contact(tenantID, id); err == nil {
		if k.Name != "" {
			tc.Name = k.Name
		}
		tc.Fields = k.Fields
	}
	return tc
}

// checkConversationTemplate is the send path's check of template message out to conversation id: it reads the
// conversation for its channel and contact (a template's catalogue is its channel's), then checkTemplate, and sets
// out.Text to the filled body.
func (a *API) checkConversationTemplate(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, id string, out *inbox.Outbound) bool {
	c, found, ok := a.storedConversation(ctx, op, id) // channels.go
	if !found {
		return ok
	}
	body, ok := a.checkTemplateText(ctx, op, c.ChannelID, out.Template, a.templateContact(op.Tenant.ID, &c))
	out.Text = body
	return ok
}

// jsonProblem says what is wrong with a template's JSON without echoing it: the field of the wrong type and the
// type it takes ("header.location.latitude must be a number"), or that it is not a JSON object.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		want := "a " + te.Type.Kind().String()
		switch te.Type.Kind() {
		case reflect.Float32, reflect.Float64, reflect.Int, reflect.Int64:
			want = "a number"
		case reflect.Slice:
			want = "an array"
		case reflect.Struct, reflect.Map, reflect.Pointer:
			want = "an object"
		}
		return te.Field + " must be " + want
	}
	return "must be a JSON object"
}
