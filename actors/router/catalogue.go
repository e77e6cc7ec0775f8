package router

// The catalogue: one child actor per tenant (started by its tenant actor) that applies the tenant's
// conversation-less state other than operators — contacts here; templates and canned responses in
// catalogue_templates.go and catalogue_canned.go, which register their handlers in catalogueHandlers. It reads and
// writes Pebble, commits with Store.Commit (group commit: it never waits for an fsync) and publishes each command's
// outcome and finishes its item once the batch is durable, like operatorCommand. Events go in the same batch through
// the outbox.
//
// The tenant actor routes to it, in partition order: commands whose type starts with contact_, canned_ or
// template_, KindTemplate items, and every inbound message (whose sender becomes or updates a contact).

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/switchboard-hq/switchboard/actors/audit"
	"github.com/switchboard-hq/switchboard/actors/contact"
	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// catalogueMsg carries one item from the tenant actor to its catalogue.
type catalogueMsg struct {
	item *inbox.Item
	pos  conversation.Position
	at   time.Time
	ack  *recordAck
	// role is the commanding operator's role, for commands.
	role string
	// decide is set on a contact_block the tenant actor waits for (a request): the catalogue answers it with a
	// *blockDecision once it has decided, before the batch is durable.
	decide bool
	// blockedWa is the wa_id of the contact the block blocked, "" when it was refused.
	blockedWa string
}

// blockDecision answers a contact_block request: the blocked contact's wa_id, "" when the block was refused.
type blockDecision struct {
	wa string
}

// catalogueHandlers are the catalogue's handlers of the commands it does not apply itself, by the prefix of their
// type ("template_", "canned_"), and of KindTemplate items (key "kind:template"). Files of the router register
// theirs in an init function; a handler finishes its item (finish, or commit) exactly once, or returns an error
// that stops the router.
var catalogueHandlers = map[string]func(a *catalogueActor, c *actor.Context, m *catalogueMsg) error{}

// catalogueCommand reports whether a conversation-less command of type typ is the catalogue's.
func catalogueCommand(typ string) bool {
	return strings.HasPrefix(typ, "contact_") || strings.HasPrefix(typ, "canned_") || strings.HasPrefix(typ, "template_")
}

// profileCacheMax bounds the catalogue's memory of the profile names it last stored, per tenant: past it, the
// memory starts over (a message then costs one store read).
const profileCacheMax = 100_000

// catalogueActor holds a tenant's contact schema and applies the catalogue's items.
type catalogueActor struct {
	r      *Router
	tenant string
	schema contact.Schema
	// profiles is the profile name stored on the contact of each wa_id seen lately, so the messages of a known
	// sender cost no store read; the catalogue is the only writer of contacts, so it stays true.
	profiles map[string]string
	// pipe applies import batches (catalogue_pipe.go); nil until the first.
	pipe *importPipe
	// ids may hold every contact id of the tenant's store (catalogue_filter.go): built from the store at the first
	// import batch, then every contact the catalogue writes is added; nil until then.
	ids *idFilter
	// erased is the input position of the latest erase of each contact id ever erased (store.ErasedContacts): an
	// older input that Kafka delivers again makes no contact of it.
	erased map[string]contact.Position
}

func (a *catalogueActor) Receive(c *actor.Context) {
	switch m := c.Message().(type) {
	case actor.Started:
		a.profiles = map[string]string{}
		erased, err := a.r.cfg.Store.ErasedContacts(a.tenant)
		if err != nil {
			a.r.fail(fmt.Errorf("tenant %s catalogue: %w", a.tenant, err))
		}
		a.erased = erased
	case actor.Stopped:
		if a.pipe != nil {
			a.pipe.close()
		}
	case *schemaMsg:
		a.schema = m.schema
	case *catalogueMsg:
		a.guard(m, func() error { return a.handle(c, m) })
		if m.decide {
			c.Respond(&blockDecision{wa: m.blockedWa})
		}
	}
}

// guard runs f, turning a panic (a bug in a rule) into a counted, logged failure that still finishes the item.
func (a *catalogueActor) guard(m *catalogueMsg, f func() error) {
	defer func() {
		if p := recover(); p != nil {
			a.r.metrics.failed.Inc()
			a.r.log.Error("BUG: catalogue panicked", "tenant", a.tenant, "panic", p)
			a.finish(m, outcome.Result{Code: outcome.CodeInternal, Message: "internal error"})
		}
	}()
	if err := f(); err != nil {
		a.r.fail(fmt.Errorf("tenant %s catalogue: %w", a.tenant, err))
	}
}

// finish publishes the outcome of an item that wrote nothing and finishes it.
func (a *catalogueActor) finish(m *catalogueMsg, res outcome.Result) {
	if m.item.Kind == inbox.KindCommand {
		a.r.cfg.Outcomes.Publish(m.item.Command.RequestID, res)
	}
	m.ack.itemDone()
}

// commit commits b and, once it is durable, wakes the relay (when b holds events), publishes res and finishes m.
func (a *catalogueActor) commit(b *store.Batch, m *catalogueMsg, res outcome.Result, events int) error {
	relay := a.r.cfg.Relay
	return a.r.cfg.Store.Commit(b, func(err error) {
		if err != nil {
			a.r.fail(fmt.Errorf("persist tenant %s catalogue: %w", a.tenant, err))
			return
		}
		if relay != nil && events > 0 {
			relay.Notify()
		}
		a.finish(m, res)
	})
}

// putEvent adds a contact event to b.
func (a *catalogueActor) putEvent(b *store.Batch, typ, id string, m *catalogueMsg) error {
	actorID := ""
	if m.item.Command != nil {
		actorID = m.item.Command.OperatorID
	}
	ev := contact.NewEvent(typ, a.tenant, id, actorID, m.at, posOf(m.pos))
	var buf [256]byte // the batch copies the event
	v, err := ev.AppendJSON(buf[:0])
	if err != nil {
		return fmt.Errorf("encode %s event: %w", typ, err)
	}
	a.r.metrics.eventsBy.Get(typ).Inc()
	return b.PutOutbox(a.tenant, v)
}

// writeContact commits next (prev before it, nil if new) with its event of type typ ("" for none), and finishes m
// with res once durable.
func (a *catalogueActor) writeContact(m *catalogueMsg, prev, next *contact.Contact, typ string, res outcome.Result) error {
	if a.ids != nil && prev == nil {
		a.ids.add(next.ID)
	}
	b := a.r.cfg.Store.NewBatch()
	if err := b.PutContact(a.tenant, prev, next); err != nil {
		b.Discard()
		return fmt.Errorf("write contact %s: %w", next.ID, err)
	}
	if typ == "" {
		return a.commit(b, m, res, 0)
	}
	if err := a.putEvent(b, typ, next.ID, m); err != nil {
		b.Discard()
		return err
	}
	return a.commit(b, m, res, 1)
}

func posOf(p conversation.Position) contact.Position {
	return contact.Position{Offset: p.Offset, Index: p.Index}
}

func (a *catalogueActor) handle(c *actor.Context, m *catalogueMsg) error {
	if a.pipe != nil && (m.item.Kind != inbox.KindCommand || m.item.Command.Type != "contact_import") {
		a.pipe.drain()
	}
	switch m.item.Kind {
	case inbox.KindMessage:
		return a.observe(m)
	case inbox.KindCommand:
	default:
		if h := catalogueHandlers["kind:"+string(m.item.Kind)]; h != nil {
			return h(a, c, m)
		}
		a.finish(m, outcome.Result{})
		return nil
	}
	cmd := m.item.Command
	switch cmd.Type {
	case "contact_create", "contact_update":
		return a.upsert(m)
	case "contact_delete", "contact_erase":
		return a.remove(m)
	case "contact_block", "contact_unblock":
		return a.block(m)
	case "contact_import":
		return a.importRows(m)
	}
	for prefix, h := range catalogueHandlers {
		if strings.HasPrefix(cmd.Type, prefix) {
			return h(a, c, m)
		}
	}
	a.r.metrics.commandsBy.Get([2]string{cmd.Type, conversation.CodeInvalidCommand}).Inc()
	a.finish(m, outcome.Result{Code: conversation.CodeInvalidCommand, Message: fmt.Sprintf("unknown command %q", cmd.Type)})
	return nil
}

// refuse publishes a refusal of a command that wrote nothing.
func (a *catalogueActor) refuse(m *catalogueMsg, code, format string, args ...any) {
	a.r.metrics.commandsBy.Get([2]string{m.item.Command.Type, code}).Inc()
	a.finish(m, outcome.Result{Code: code, Message: fmt.Sprintf(format, args...)})
}

// load returns the tenant's contact id, nil when there is none.
func (a *catalogueActor) load(id string) (*contact.Contact, error) {
	c, err := a.r.cfg.Store.Contact(a.tenant, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load contact %s: %w", id, err)
	}
	found := c // only a found contact moves to the heap
	return &found, nil
}

// erasedBefore reports whether contact id was erased by an input after pos: an input at pos is older than the
// erase, delivered again (store/contacts_erased.go).
func (a *catalogueActor) erasedBefore(id string, pos conversation.Position) bool {
	at, ok := a.erased[id]
	return ok && posOf(pos).Less(at)
}

// replayed reports (and answers) a command whose record was applied to the contact already, or that comes from
// before the contact's erase.
func (a *catalogueActor) replayed(m *catalogueMsg, id string, prev *contact.Contact) bool {
	if prev == nil && !a.erasedBefore(id, m.pos) || prev != nil && prev.Applied.Less(posOf(m.pos)) {
		return false
	}
	a.r.metrics.skippedBy.Get("replay").Inc()
	a.finish(m, outcome.Result{Code: outcome.CodeReplayed, Message: "command already applied"})
	return true
}

// upsert applies contact_create (Command.Contact) and contact_update (Command.ContactID, Command.Contact).
func (a *catalogueActor) upsert(m *catalogueMsg) error {
	cmd := m.item.Command
	if cmd.Contact == nil {
		a.refuse(m, contact.CodeInvalidCommand, "%s without a contact", cmd.Type)
		return nil
	}
	mode, id := contact.Update, cmd.ContactID
	if cmd.Type == "contact_create" {
		mode = contact.Create
		_, wa, err := contact.NormalizePhone(cmd.Contact.Phone)
		if err != nil {
			var r *contact.Refusal
			errors.As(err, &r)
			a.refuse(m, r.Code, "%s", r.Message)
			return nil
		}
		id = conversation.ContactID(wa)
	}
	prev, err := a.load(id)
	if err != nil {
		return err
	}
	if a.replayed(m, id, prev) {
		return nil
	}
	next, out := contact.Upsert(prev, id, cmd.Contact, a.schema, contact.Change{Mode: mode, At: m.at, Pos: posOf(m.pos)})
	switch {
	case out.Result == contact.Refused:
		a.refuse(m, out.Code, "%s", out.Reason)
		return nil
	case !out.Write:
		a.r.metrics.commandsBy.Get([2]string{cmd.Type, "ok"}).Inc()
		a.finish(m, outcome.Result{Body: next})
		return nil
	}
	typ := contact.EventUpdated
	if out.Result == contact.Created {
		typ = contact.EventCreated
	}
	a.r.metrics.commandsBy.Get([2]string{cmd.Type, "ok"}).Inc()
	return a.writeContact(m, prev, &next, typ, outcome.Result{Body: next})
}

// Removed is the outcome body of contact_delete and contact_erase.
type Removed struct {
	ID string `json:"id"`
	// Existed is false when there was no contact record to remove (an erase is answered ok all the same).
	Existed bool `json:"existed"`
}

// remove applies contact_delete (the contact must exist) and contact_erase (the contact side of an erase: its
// record, postings and blocked entry go, and a contact.erased event tells the analytics sink; the conversations'
// side is the conversation actors'). An erase of a contact with no record still emits contact.erased, so consumers
// forget what they hold of that id.
func (a *catalogueActor) remove(m *catalogueMsg) error {
	cmd := m.item.Command
	if cmd.ContactID == "" {
		a.refuse(m, contact.CodeInvalidCommand, "%s without a contact id", cmd.Type)
		return nil
	}
	prev, err := a.load(cmd.ContactID)
	if err != nil {
		return err
	}
	erase := cmd.Type == "contact_erase"
	if prev != nil && !prev.Applied.Less(posOf(m.pos)) {
		// Delivered again after the contact was written anew (the customer wrote after the erase): the contact
		// is not this command's.
		a.r.metrics.skippedBy.Get("replay").Inc()
		a.finish(m, outcome.Result{Code: outcome.CodeReplayed, Message: "command already applied"})
		return nil
	}
	if prev == nil && !erase {
		a.refuse(m, contact.CodeNotFound, "no contact %s", cmd.ContactID)
		return nil
	}
	b := a.r.cfg.Store.NewBatch()
	if prev != nil {
		if err := b.DeleteContact(a.tenant, prev); err != nil {
			b.Discard()
			return fmt.Errorf("delete contact %s: %w", prev.ID, err)
		}
		delete(a.profiles, prev.WaID)
	}
	typ := contact.EventDeleted
	if erase {
		typ = contact.EventErased
		// The scrub of Pebble's files this erase owes (store/erase.go), durable with it.
		if err := b.MarkScrub(a.tenant, cmd.ContactID); err != nil {
			b.Discard()
			return err
		}
		// The mark that keeps older inputs, replayed, from making the contact again (store/contacts_erased.go).
		if err := b.PutContactErased(a.tenant, cmd.ContactID, posOf(m.pos)); err != nil {
			b.Discard()
			return err
		}
		if a.erased == nil {
			a.erased = map[string]contact.Position{}
		}
		a.erased[cmd.ContactID] = posOf(m.pos)
	}
	if err := a.putEvent(b, typ, cmd.ContactID, m); err != nil {
		b.Discard()
		return err
	}
	if erase {
		// The audit log's entry, in the erase's batch (audit.go).
		if err := writeAudit(a.r, b, a.tenant, []audit.Entry{contactErasedEntry(a.tenant, m)}); err != nil {
			b.Discard()
			return err
		}
	}
	a.r.metrics.commandsBy.Get([2]string{cmd.Type, "ok"}).Inc()
	if err := a.commit(b, m, outcome.Result{Body: Removed{ID: cmd.ContactID, Existed: prev != nil}}, 1); err != nil {
		return err
	}
	if erase {
		// The deleted record's copies in Pebble's files go too (store/erase.go). The batch is applied, so the
		// scrub's flush takes it, durable or not yet.
		a.r.cfg.Store.RequestScrub(a.tenant)
	}
	return nil
}

// block applies contact_block and contact_unblock. For a block it tells the tenant actor, which waits for it, the
// wa_id of the contact it blocked (m.blockedWa), so the tenant's blocked set follows the decision before the next
// item is routed.
func (a *catalogueActor) block(m *catalogueMsg) error {
	cmd := m.item.Command
	blocked := cmd.Type == "contact_block"
	prev, err := a.load(cmd.ContactID)
	if err != nil {
		return err
	}
	if prev == nil {
		a.refuse(m, contact.CodeNotFound, "no contact %s", cmd.ContactID)
		return nil
	}
	if a.replayed(m, cmd.ContactID, prev) {
		// A replay leaves the tenant's set as the store says (the blocked index it was rebuilt from).
		if blocked && prev.Blocked {
			m.blockedWa = prev.WaID
		}
		return nil
	}
	if blocked {
		m.blockedWa = prev.WaID
	}
	next, changed := contact.SetBlocked(*prev, blocked, m.at, posOf(m.pos))
	a.r.metrics.commandsBy.Get([2]string{cmd.Type, "ok"}).Inc()
	if !changed {
		a.finish(m, outcome.Result{Body: next})
		return nil
	}
	typ := contact.EventUnblocked
	if blocked {
		typ = contact.EventBlocked
	}
	return a.writeContact(m, prev, &next, typ, outcome.Result{Body: next})
}

// importRows applies a contact_import batch: each row is upserted by phone, in order, and the batch is one Pebble
// batch. A row refused leaves the others; a phone that a row of the same import (this batch or an earlier one)
// wrote is refused as a duplicate of that line. Imported rows emit no events (a million-row import would flood the
// event stream); the outcome body is a *contact.ImportResult.
func (a *catalogueActor) importRows(m *catalogueMsg) error {
	cmd := m.item.Command
	res := &contact.ImportResult{Rows: make([]contact.ImportRow, 0, len(cmd.Contacts))}
	// written holds the rows' contacts written in this batch: the store does not see them before the commit.
	written := make(map[string]*contact.Contact, len(cmd.Contacts))
	// The batch's stored contacts are read at once, in key order (H2: one Get per row was a quarter of an import's
	// CPU).
	ids := make([]string, 0, len(cmd.Contacts))
	for i := range cmd.Contacts {
		if _, wa, err := contact.NormalizePhone(cmd.Contacts[i].Phone); err == nil {
			ids = append(ids, conversation.ContactID(wa))
		}
	}
	if a.pipe == nil {
		a.pipe = newImportPipe()
	}
	a.pipe.prune()
	if a.ids == nil {
		// Everything written so far is in the store: the pipe is new, and other writes are applied before
		// their handler returns.
		if err := a.buildIDFilter(); err != nil {
			return err
		}
	}
	// Only the ids the filter may hold are read; the batches still in the pipe are newer than the store.
	read := ids[:0:0]
	for _, id := range ids {
		if a.pipe.lookup(id) == nil && a.ids.mayHave(id) {
			read = append(read, id)
		}
	}
	stored, err := a.r.cfg.Store.ContactsByID(a.tenant, read)
	if err != nil {
		return fmt.Errorf("load the contacts of an import batch: %w", err)
	}
	a.r.metrics.importReads.Add(float64(len(read)))
	for _, id := range ids {
		if c := a.pipe.lookup(id); c != nil {
			stored[id] = c
		}
	}
	// writes are encoded and applied on the pipe's goroutine.
	type write struct{ prev, next *contact.Contact }
	writes := make([]write, 0, len(cmd.Contacts))
	pos := posOf(m.pos)
	for i := range cmd.Contacts {
		in := &cmd.Contacts[i]
		row := contact.ImportRow{Line: in.Line, Phone: in.Phone}
		phone, wa, err := contact.NormalizePhone(in.Phone)
		if err != nil {
			var r *contact.Refusal
			errors.As(err, &r)
			row.Result, row.Code, row.Reason = contact.Refused, r.Code, r.Message
			res.Add(row)
			continue
		}
		row.Phone = phone
		id := conversation.ContactID(wa)
		row.ContactID = id
		prev := written[id]
		if prev == nil {
			prev = stored[id]
		}
		if prev != nil && !prev.Applied.Less(pos) && written[id] == nil || prev == nil && a.erasedBefore(id, m.pos) {
			// This batch was applied before (a replay), or comes from before the contact's erase: its rows
			// changed nothing this time.
			row.Result = contact.Unchanged
			res.Add(row)
			continue
		}
		next, out := contact.Upsert(prev, id, in, a.schema, contact.Change{Mode: contact.Import, At: m.at, Pos: pos,
			ImportID: cmd.ImportID})
		row.Result, row.Code, row.Reason = out.Result, out.Code, out.Reason
		if out.Write {
			writes = append(writes, write{prev, &next})
			written[id] = &next
			if prev == nil {
				a.ids.add(id)
			}
		}
		res.Add(row)
	}
	a.r.metrics.importRows.WithLabelValues(string(contact.Created)).Add(float64(res.Created))
	a.r.metrics.importRows.WithLabelValues(string(contact.Updated)).Add(float64(res.Updated))
	a.r.metrics.importRows.WithLabelValues(string(contact.Unchanged)).Add(float64(res.Unchanged))
	a.r.metrics.importRows.WithLabelValues(string(contact.Refused)).Add(float64(res.Refused))
	a.r.metrics.commandsBy.Get([2]string{cmd.Type, "ok"}).Inc()
	if len(writes) == 0 {
		a.finish(m, outcome.Result{Body: res})
		return nil
	}
	a.pipe.send(written, func() {
		// The contacts are not changed once decided (Upsert copies), so this goroutine reads them safely.
		b := a.r.cfg.Store.NewSortedBatch()
		for _, w := range writes {
			if err := b.PutContact(a.tenant, w.prev, w.next); err != nil {
				b.Discard()
				a.r.fail(fmt.Errorf("tenant %s catalogue: write contact %s: %w", a.tenant, w.next.ID, err))
				return
			}
		}
		if err := a.commit(b, m, outcome.Result{Body: res}, 0); err != nil {
			a.r.fail(fmt.Errorf("tenant %s catalogue: %w", a.tenant, err))
		}
	})
	return nil
}

// buildIDFilter fills a.ids with the contact ids of the tenant's store.
func (a *catalogueActor) buildIDFilter() error {
	f := newIDFilter(0)
	if err := a.r.cfg.Store.EachContactID(a.tenant, f.add); err != nil {
		return fmt.Errorf("build the contact id filter: %w", err)
	}
	a.ids = f
	return nil
}

// observe makes the sender of an inbound message a contact, or updates its WhatsApp profile name.
func (a *catalogueActor) observe(m *catalogueMsg) error {
	msg := m.item.Message
	if name, ok := a.profiles[msg.From]; ok && (msg.ProfileName == "" || msg.ProfileName == name) {
		a.finish(m, outcome.Result{})
		return nil
	}
	id := conversation.ContactID(msg.From)
	prev, err := a.load(id)
	if err != nil {
		return err
	}
	if prev != nil && !prev.Applied.Less(posOf(m.pos)) {
		a.finish(m, outcome.Result{})
		return nil
	}
	if prev == nil && a.erasedBefore(id, m.pos) {
		// An erased customer's old message, replayed, makes no contact (store/contacts_erased.go).
		a.finish(m, outcome.Result{})
		return nil
	}
	if prev == nil {
		// An erased customer's old message, replayed, makes no contact (erase.go).
		if replay, err := a.erasedReplay(m.item.Channel, msg.From, m.pos); err != nil || replay {
			if err == nil {
				a.finish(m, outcome.Result{})
			}
			return err
		}
	}
	next, changed := contact.Observe(prev, id, msg.From, msg.ProfileName, m.at, posOf(m.pos))
	if !changed {
		if prev != nil {
			a.remember(prev.WaID, prev.ProfileName)
		}
		a.finish(m, outcome.Result{})
		return nil
	}
	typ := contact.EventUpdated
	switch {
	case prev == nil:
		typ = contact.EventCreated
	case prev.Blocked:
		typ = "" // a blocked contact's messages are heard by nobody, their profile name's change neither
	}
	a.r.metrics.appliedBy.Get("contact").Inc()
	a.remember(next.WaID, next.ProfileName)
	return a.writeContact(m, prev, &next, typ, outcome.Result{})
}

// remember notes the profile name stored for wa, within profileCacheMax.
func (a *catalogueActor) remember(wa, name string) {
	if len(a.profiles) >= profileCacheMax {
		clear(a.profiles)
	}
	a.profiles[wa] = name
}
