package api

// Contacts: GET/POST /v1/contacts, GET/PATCH/DELETE /v1/contacts/{id}, POST /v1/contacts/{id}/block|unblock and
// GET /v1/contacts/fields. Reads go through ContactReader; changes are catalogue commands (contact_create, …) whose
// outcome the tenant's catalogue publishes once durable. Input is checked here first (phone, fields against the
// tenant's schema), so a bad request is answered without a record; the catalogue checks again, as the rules decide.

import (
	"encoding/json"
	"errors"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/contact"
	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/refusal"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// ContactReader is the contact state the API reads. Like Reader, it is scoped by tenant and safe for concurrent use.
type ContactReader interface {
	// Contact returns a contact, or an error wrapping ErrNotFound.
	Contact(tenant, id string) (contact.Contact, error)
	// Contacts returns a page of contacts in id order, those q selects; next is the cursor of the following page,
	// "" at the end. It does bounded work per call, so a page may be short (even empty) and still have a cursor.
	Contacts(tenant string, q ContactQuery) (list []contact.Contact, next string, err error)
}

// ContactQuery selects contacts for ContactReader.Contacts.
type ContactQuery struct {
	// Text, when not empty, is a search as typed: words of the name and of text and choice fields, a phone
	// number's digits from its start or its last four (actors/search.ParseQuery; the last word as a prefix).
	Text string
	// Blocked, when set, keeps only blocked (true) or only unblocked (false) contacts.
	Blocked *bool
	// After is the cursor of the previous page (a contact id); empty starts at the beginning.
	After string
	// Limit is the most returned. 0 means 50.
	Limit int
}

// contactView is a contact as the API shows it (docs/contract.md, "Contacts").
type contactView struct {
	ID          string                     `json:"id"`
	Phone       string                     `json:"phone"`
	WaID        string                     `json:"wa_id"`
	Name        string                     `json:"name"`
	ProfileName string                     `json:"profile_name,omitempty"`
	Fields      map[string]json.RawMessage `json:"fields"`
	Blocked     bool                       `json:"blocked"`
	CreatedAt   time.Time                  `json:"created_at"`
	UpdatedAt   time.Time                  `json:"updated_at"`
	// Conversations are the contact's conversations on the tenant's channels, on GET /v1/contacts/{id}.
	Conversations []contactConversation `json:"conversations,omitempty"`
}

// contactConversation is one conversation of a contact.
type contactConversation struct {
	ID        string              `json:"id"`
	ChannelID string              `json:"channel_id"`
	Status    conversation.Status `json:"status"`
	UpdatedAt time.Time           `json:"updated_at"`
}

// contactViewOf is c as op sees it.
func contactViewOf(op tenant.OperatorRef, c contact.Contact) contactView {
	maskContact(op, &c)
	// A value the live schema does not show (its field removed, or its type or choices changed) is kept in the
	// record and hidden here (actors/tenant/labels.go).
	v := contactView{ID: c.ID, Phone: c.Phone, WaID: c.WaID, Name: c.Name, ProfileName: c.ProfileName,
		Fields:  schemaOf(op.Tenant).Visible(c.Fields),
		Blocked: c.Blocked, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	if v.Fields == nil {
		v.Fields = map[string]json.RawMessage{}
	}
	return v
}

// schemaOf is a tenant's contact field schema.
func schemaOf(t *tenant.Tenant) contact.Schema {
	s := make(contact.Schema, len(t.Settings.ContactFields))
	for i, f := range t.Settings.ContactFields {
		s[i] = contact.Field(f)
		if s[i].Label == "" {
			s[i].Label = f.Key
		}
	}
	return s
}

// serveContacts answers the contact paths; false when parts is another. The import and export paths
// (contacts_import.go, contacts_export.go) are not its: a contact id never reads "import" or "export.csv".
func (a *API) serveContacts(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, parts []string) bool {
	if len(parts) == 0 || parts[0] != "contacts" {
		return false
	}
	method := string(ctx.Method())
	switch {
	case len(parts) == 1 && ctx.IsGet():
		a.listContacts(ctx, op)
	case len(parts) == 1 && ctx.IsPost():
		a.createContact(ctx, op)
	case len(parts) == 2 && parts[1] == "fields" && ctx.IsGet():
		a.writeJSON(ctx, fasthttp.StatusOK, struct {
			Fields contact.Schema `json:"fields"`
		}{schemaOf(op.Tenant)})
	case len(parts) == 2 && conversation.ValidContactID(parts[1]) && ctx.IsGet():
		a.getContact(ctx, op, parts[1])
	case len(parts) == 2 && conversation.ValidContactID(parts[1]) && method == fasthttp.MethodPatch:
		a.updateContact(ctx, op, parts[1])
	case len(parts) == 2 && conversation.ValidContactID(parts[1]) && method == fasthttp.MethodDelete:
		a.deleteContact(ctx, op, parts[1])
	case len(parts) == 3 && (parts[2] == "block" || parts[2] == "unblock") && ctx.IsPost():
		a.blockContact(ctx, op, parts[1], parts[2] == "block")
	case len(parts) == 2 && parts[1] != "import" && parts[1] != "export.csv" && parts[1] != "fields" &&
		!conversation.ValidContactID(parts[1]):
		// An id no contact can have: no read, no record.
		fail(ctx, contact.CodeNotFound, "no contact "+quoteID(parts[1]))
	default:
		return false
	}
	return true
}

func (a *API) listContacts(ctx *fasthttp.RequestCtx, op tenant.OperatorRef) {
	args := ctx.QueryArgs()
	q := ContactQuery{Text: string(args.Peek("q")), After: string(args.Peek("cursor")), Limit: 50}
	if !utf8.ValidString(q.Text) || utf8.RuneCountInString(q.Text) > maxQueryRunes {
		fail(ctx, codeInvalidQuery, "q must be at most 200 characters of UTF-8")
		return
	}
	text, ok := searchText(op, q.Text)
	if !ok {
		fail(ctx, codeInvalidQuery, errHiddenDigits)
		return
	}
	q.Text = text
	if q.After != "" && !conversation.ValidContactID(q.After) {
		fail(ctx, codeInvalidCursor, "cursor is not one this listing returned")
		return
	}
	if q.Limit, ok = queryLimit(ctx, q.Limit); !ok {
		return
	}
	switch v := string(args.Peek("blocked")); v {
	case "":
	case "true", "false":
		b := v == "true"
		q.Blocked = &b
	default:
		fail(ctx, codeInvalidFilter, "blocked must be true or false")
		return
	}
	list, next, err := a.cfg.Reader.Contacts(op.Tenant.ID, q)
	if err != nil {
		a.storeFailed(ctx, op, err)
		return
	}
	views := make([]contactView, len(list))
	for i := range list {
		views[i] = contactViewOf(op, list[i])
	}
	a.writeJSON(ctx, fasthttp.StatusOK, struct {
		Contacts   []contactView `json:"contacts"`
		NextCursor string        `json:"next_cursor,omitempty"`
	}{views, next})
}

// loadContact reads a contact of the caller's tenant, answering 404 contact_not_found when there is none.
func (a *API) loadContact(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, id string) (contact.Contact, bool) {
	c, err := a.cfg.Reader.Contact(op.Tenant.ID, id)
	if errors.Is(err, ErrNotFound) {
		fail(ctx, contact.CodeNotFound, "no contact "+quoteID(id))
		return c, false
	}
	if err != nil {
		a.storeFailed(ctx, op, err)
		return c, false
	}
	return c, true
}

func (a *API) getContact(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, id string) {
	c, ok := a.loadContact(ctx, op, id)
	if !ok {
		return
	}
	v := contactViewOf(op, c)
	v.Conversations = []contactConversation{}
	// A contact's conversations are derived, one possible per channel of the tenant (removed ones included).
	for _, ch := range op.Tenant.ChannelIDs() {
		cv, err := a.cfg.Reader.Conversation(op.Tenant.ID, conversation.ID(ch, c.WaID))
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			a.storeFailed(ctx, op, err)
			return
		}
		v.Conversations = append(v.Conversations, contactConversation{ID: cv.ID, ChannelID: cv.ChannelID,
			Status: cv.Status, UpdatedAt: cv.UpdatedAt})
	}
	a.writeJSON(ctx, fasthttp.StatusOK, v)
}

// contactBody is the body of POST /v1/contacts and PATCH /v1/contacts/{id}.
type contactBody struct {
	Phone  string                     `json:"phone"`
	Name   *string                    `json:"name"`
	Fields map[string]json.RawMessage `json:"fields"`
}

// checkInput answers 400 for a name or field value the rules would refuse, naming the field.
func checkInput(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, b *contactBody) bool {
	if b.Name != nil && utf8.RuneCountInString(*b.Name) > contact.MaxNameRunes {
		fail(ctx, contact.CodeInvalidField, "field \"name\": longer than "+strconv.Itoa(contact.MaxNameRunes)+" characters")
		return false
	}
	s := schemaOf(op.Tenant)
	for k, v := range b.Fields {
		if _, err := s.Check(k, v); err != nil {
			var r *refusal.Refusal
			if errors.As(err, &r) {
				fail(ctx, r.Code, r.Message)
				return false
			}
		}
	}
	return true
}

func (a *API) presentContact(op tenant.OperatorRef) func(body any) any {
	return func(body any) any {
		if c, ok := body.(contact.Contact); ok {
			return contactViewOf(op, c)
		}
		return body
	}
}

func (a *API) createContact(ctx *fasthttp.RequestCtx, op tenant.OperatorRef) {
	var b contactBody
	if !decode(ctx, &b, false) {
		return
	}
	phone, _, err := contact.NormalizePhone(b.Phone)
	if err != nil {
		var r *refusal.Refusal
		errors.As(err, &r)
		fail(ctx, r.Code, r.Message)
		return
	}
	if !checkInput(ctx, op, &b) {
		return
	}
	a.run(ctx, op, inbox.Command{Type: "contact_create", Contact: &inbox.ContactInput{Phone: phone, Name: b.Name,
		Fields: b.Fields}}, fasthttp.StatusCreated, a.presentContact(op))
}

func (a *API) updateContact(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, id string) {
	var b contactBody
	if !decode(ctx, &b, false) {
		return
	}
	if !checkInput(ctx, op, &b) {
		return
	}
	a.run(ctx, op, inbox.Command{Type: "contact_update", ContactID: id, Contact: &inbox.ContactInput{Phone: b.Phone,
		Name: b.Name, Fields: b.Fields}}, fasthttp.StatusOK, a.presentContact(op))
}

func (a *API) deleteContact(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, id string) {
	a.run(ctx, op, inbox.Command{Type: "contact_delete", ContactID: id}, fasthttp.StatusOK, func(body any) any {
		return struct {
			ID      string `json:"id"`
			Deleted bool   `json:"deleted"`
		}{id, true}
	})
}

func (a *API) blockContact(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, id string, block bool) {
	if !conversation.ValidContactID(id) {
		fail(ctx, contact.CodeNotFound, "no contact "+quoteID(id))
		return
	}
	typ := "contact_unblock"
	if block {
		typ = "contact_block"
	}
	a.run(ctx, op, inbox.Command{Type: typ, ContactID: id}, fasthttp.StatusOK, a.presentContact(op))
}
