package router

// Scenario tests of the router's concurrency core: each testdata/*.txt file feeds inbox records straight to a
// partition consumer (partitionConsumer.deliver: the in-flight bound, one tenant actor per tenant, the commit
// prefix), which hands them to the real tenant and conversation actors on a hollywood engine over a temporary Pebble
// store. No Kafka: offsets are the scenario's, commits go to the harness. Each command is followed by "----" and the
// trace it must produce, pebble-style; `go test ./actors/router -run TestScenarios -rewrite` writes the actual traces
// into the files, to be reviewed with git diff.
//
// Every file runs in a testing/synctest bubble: after each step the harness waits until every actor, the store's
// sync goroutine and the feeding goroutine are blocked (synctest.Wait), so a trace is the state of quiescence, never
// of a moment; and time only moves when a step says so (passivate), so idle timers fire exactly there.
//
// Commands (CUST is a customer's address on the channel and names its conversation; OP an operator):
//
//	setup OP=ROLE:CAPACITY[:SKILL+SKILL]... [tenants=a,b] [reopen=last_operator] [offline-releases]
//	      [routing=manual] [max-in-flight=N] [contact-fields] [channels=N] [labels=L,L] [prune-step=N]
//	                                     start over: a new store and router; the first tenant is the default
//	edit OP=ROLE:CAPACITY... [reopen=...] [offline-releases] [routing=manual] [contact-fields] [channels=N]
//	                                     the directory's configuration changes to this (as the configuration
//	                                     topic changes it: a newer version); a tenant actor sees it when it
//	                                     rebuilds (restart)
//	message CUST [id=WAMID] [profile=NAME] [channel=CH] [text=T]
//	                                     a customer's text message (ids default to wamid.<offset>), with the
//	                                     sender's WhatsApp profile name, on the tenant's first channel or CH; its
//	                                     text is "hello" or T ("_" stands for a space, in T and NAME)
//	online|away|offline OP               an operator's availability command
//	capacity ADMIN OP N                  an admin's config_set of the operator's capacity
//	routing ADMIN auto|manual            an admin's config_set of the tenant's routing mode
//	retention ADMIN DURATION             an admin's config_set of the tenant's audit_retention (0: forever)
//	role ADMIN OP ROLE                   an admin's config_set of the operator's role
//	remove ADMIN OP                      an admin's config_set removing the operator
//	disable ADMIN OP                     an admin's config_set disabling the operator
//	rules ADMIN JSON                     an admin's config_set of the routing rules (a JSON list without spaces)
//	label-add|label-delete ADMIN NAME    an admin's config_set adding or removing a label of the catalogue
//	skills ADMIN OP SKILL,SKILL          an admin's config_set of the operator's skills ("-" for none)
//	fields ADMIN KEY:TYPE,KEY:TYPE       an admin's config_set replacing the contact fields
//	label OP CUST [add=L,L] [remove=L,L] an operator's labels command
//	take|close|unassign|reopen|erase OP CUST
//	                                     an operator's conversation command
//	read OP CUST [seq=N]                 an operator's read mark (seq 0 or none: the latest message)
//	assign OP CUST TARGET                an admin's assignment
//	start OP CUST [text=T]               an operator starts a conversation with CUST (a template, or text T)
//	send OP CUST                         an operator's text reply
//	status CUST WAMID [status=S]         a delivery status (default read) of message WAMID sent to CUST
//	delivery CUST SEQ ID [wamid=W]       the channel's answer to reply SEQ (id ID) of CUST's conversation: accepted
//	                                     as W, or failed without wamid=
//	contact-create CUST [name=NAME] [city=C] [plan=P]
//	                                     an operator's contact_create for +CUST (fields with setup contact-fields)
//	contact-update CUST [name=NAME] [city=C] [plan=P]
//	contact-delete|contact-erase CUST    contact commands, by the contact id of CUST
//	block|unblock CUST                   contact_block, contact_unblock
//	import ID LINE:CUST[:NAME]...        a contact_import batch of import ID (CUST "-" is an invalid number)
//	garbage                              a record that does not decode
//	record ITEM; ITEM...                 one record of several items, which the tenant actor routes in order
//	race ITEM; ITEM...                   as record, for items whose completion order is not determined: outcomes
//	                                     are printed sorted and without the command they answer
//
// Any record command takes t=TENANT (default the first tenant). It prints the record's offset, the router's counters
// that moved (events written to the outbox, capacity grants, proposals, skipped items, actors activated...), each
// command's outcome, and the committed offset: every record before it is durable. Other commands:
//
//	hold TENANT | release TENANT         the tenant actor stops taking records (they wait in its inbox, still in
//	                                     flight) or takes them again
//	passivate                            let IdleAfter and a tick pass: idle conversation actors stop
//	trim                                 let three quarters of IdleAfter pass: conversation actors idle for half of
//	                                     it drop their conversation (trimMsg), none stops yet
//	elapse DURATION                      the next records' time moves on by DURATION (records are a minute apart)
//	actors                               the conversation actors in memory (the actors-active gauge)
//	restart from=N                       the partition moves to a new generation: the consumer drains, commits and
//	                                     stops its actors; the new one rebuilds from the store and is fed offsets
//	                                     N and later again, as Kafka does from a lagging commit
//	conversations [t=TENANT]             the store's conversations
//	contacts [t=TENANT]                  the store's contacts and blocked index
//	parked WAMID [t=TENANT]              the status parked for WAMID (its message unknown), or (none)
//	operators [t=TENANT]                 the store's operators with the load the conversations give them, and the
//	                                     load the held index gives them where it differs
//	config-records                       the configuration records in the outbox (for switchboard.config), in
//	                                     order: key and version; they stay there (no relay runs)
//	audit [t=TENANT]                     the store's audit log, newest first: id, actor (role), action, target,
//	                                     changes; and the audit.recorded events in the outbox
//	deny OP TARGET                       the API's audit command: OP was refused TARGET (a route, e.g. PATCH_/v1/x)
//	held drop|add CUST [OP] [t=TENANT]   tamper with the held index: drop CUST's entry, or add one saying CUST holds
//	                                     OP; the invariants are checked again from the next step on
//
// After every step the invariants are checked: no operator holds more conversations than its capacity (from the
// store, whatever the interleaving), no rule panicked, the dispatcher never saw an assignment it did not grant,
// hollywood restarted no actor, the store's held index counts what the conversations say (store.OperatorLoads) and
// its lists' indexes are exactly what the conversations imply (store.CheckIndexes), no
// conversation actor received a release before the operator change that caused it was stored, and the commit never
// passes a record that is not durable (no command below the committed offset is still without its outcome).

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/anthdm/hollywood/actor"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-hq/switchboard/actors/contact"
	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/routing"
	"github.com/switchboard-hq/switchboard/actors/scenariofile"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/store/storetest"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

func TestScenarios(t *testing.T) {
	for _, path := range scenariofile.Files(t) {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := &harness{t: t}
				t.Cleanup(h.shutdown)
				scenariofile.Run(t, path, *scenariofile.Rewrite, h.run)
			})
		})
	}
}

// TestRaceRepeated runs the scenarios whose steps race actors against each other many times: their traces hold
// whatever the interleaving, and the invariants are checked after every step of every run — capacity in
// capacity_race, a release never ahead of its cause in release_order (which a wrong order breaks in some runs
// only).
func TestRaceRepeated(t *testing.T) {
	runs := 20
	if testing.Short() {
		runs = 3
	}
	for _, name := range []string{"capacity_race", "release_order"} {
		for i := range runs {
			t.Run(name+"/"+strconv.Itoa(i), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					h := &harness{t: t}
					t.Cleanup(h.shutdown)
					scenariofile.Run(t, "testdata/"+name+".txt", false, h.run)
				})
			})
		}
	}
}

// scenarioEpoch is the ingest time of a scenario's first record; each record is a minute after the one before.
var scenarioEpoch = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// harness is a running scenario: a router without Kafka, fed by a goroutine that plays the fetch loop.
type harness struct {
	t       *testing.T
	tenants []string
	ops     map[string]tenant.Operator // by id; every tenant has the same operators
	dir     *tenant.Directory
	// maxCap is the highest capacity each operator ("tenant/operator") has had in the scenario.
	maxCap map[string]int
	// editVersion is the configuration version the last edit gave.
	editVersion uint64
	st          *store.Store
	reg         *prometheus.Registry
	r           *Router
	out         *outcome.Registry

	gen     int32
	pc      *partitionConsumer
	feed    chan fed
	stop    chan struct{} // closed to stop the feeding goroutine
	fedDone chan struct{} // closed when it returned
	pushed  int           // records sent to the feed
	fedN    int           // records the current feeder delivered; guarded by mu
	mu      sync.Mutex

	log       [][]byte // every record, by offset
	at        time.Time
	committed int64 // the last offset committed; guarded by mu
	gates     map[string]chan struct{}
	counters  map[string]float64
	pending   []pendingOutcome
	names     map[string]string // conversation id -> customer
	broken    []string          // invariants a conversation actor's middleware saw broken; guarded by mu
	// repl, when set before setup, receives the store's replicated writes (keys_test.go counts them).
	repl store.Replicator
}

type fed struct {
	offset int64
	value  []byte
}

type pendingOutcome struct {
	label  string
	offset int64 // the record the command is an item of
	ch     <-chan outcome.Result
}

func (h *harness) run(cmd string) (out string, err error) {
	defer func() {
		if p := recover(); p != nil {
			out = fmt.Sprintf("bad command: %v", p)
		}
	}()
	fields := strings.Fields(cmd)
	a := parseArgs(fields[1:])
	if fields[0] != "setup" && h.r == nil {
		panic("setup first")
	}
	var lines []string
	switch fields[0] {
	case "setup":
		h.setup(a)
		return "ok", nil
	case "hold", "release":
		a.need(1)
		h.mu.Lock()
		gate := h.gates[a.Pos[0]]
		if gate == nil {
			h.mu.Unlock()
			panic("unknown tenant " + a.Pos[0])
		}
		select {
		case <-gate: // open
			if fields[0] == "hold" {
				h.gates[a.Pos[0]] = make(chan struct{})
			}
		default: // held
			if fields[0] == "release" {
				close(gate)
			}
		}
		h.mu.Unlock()
		lines = h.settle()
	case "passivate":
		time.Sleep(h.r.cfg.IdleAfter + h.r.cfg.IdleAfter/4)
		lines = h.settle()
		lines = append(lines, fmt.Sprintf("actors active %v", gauge(h.r.metrics.actorsActive)))
	case "trim":
		before := h.r.trims.Load()
		time.Sleep(h.r.cfg.IdleAfter * 3 / 4)
		lines = h.settle()
		lines = append(lines, fmt.Sprintf("trimmed %d", h.r.trims.Load()-before),
			fmt.Sprintf("actors active %v", gauge(h.r.metrics.actorsActive)))
	case "restart":
		from, ok := a.KV["from"]
		if !ok {
			panic("restart needs from=N")
		}
		n, perr := strconv.Atoi(from)
		if perr != nil || n < 0 || n > len(h.log) {
			panic("bad from=" + from)
		}
		h.stopConsumer()
		h.startConsumer()
		for off := n; off < len(h.log); off++ {
			h.push(int64(off), h.log[off])
		}
		lines = append(lines, fmt.Sprintf("generation %d replays offsets %d-%d", h.gen, n, len(h.log)-1))
		lines = append(lines, h.settle()...)
	case "edit":
		// The configuration the directory gives changes, as a record of the configuration topic would change it:
		// a newer version than anything applied before.
		cfg := h.config(a)
		h.editVersion += 100
		for i := range cfg.Tenants {
			cfg.Tenants[i].Version = h.editVersion
		}
		h.dir.Replace(cfg)
		return "ok", nil
	case "elapse":
		a.need(1)
		d, err := time.ParseDuration(a.Pos[0])
		if err != nil {
			return "", err
		}
		h.at = h.at.Add(d)
		return "ok", nil
	case "actors":
		lines = append(lines, fmt.Sprintf("actors active %v", gauge(h.r.metrics.actorsActive)))
	case "held":
		// Tampers with the store's index of held conversations, as a store written before it existed (drop) or
		// one that drifted (add) would hold it; the invariants are not checked until the next step.
		a.need(2)
		lines = h.tamperHeld(a)
		return strings.Join(lines, "\n"), nil
	case "conversations":
		lines = h.conversations(a.tenant(h))
	case "contacts":
		lines = h.contacts(a.tenant(h))
	case "parked":
		a.need(1)
		st, err := h.st.ParkedStatus(a.tenant(h), a.Pos[0])
		switch {
		case errors.Is(err, store.ErrNotFound):
			lines = append(lines, "(none)")
		case err != nil:
			return "", err
		default:
			lines = append(lines, fmt.Sprintf("%s %s recipient=%s", st.ID, st.Status, st.RecipientID))
		}
	case "operators":
		lines = h.operators(a.tenant(h))
	case "config-records":
		lines = h.configRecords()
	case "audit":
		lines = h.audit(a.tenant(h))
	default:
		return h.record(cmd, fields[0] == "race")
	}
	return strings.Join(lines, "\n"), h.check()
}

// setup starts a scenario over: a new store, router and partition consumer.
func (h *harness) setup(a args) {
	h.shutdown()
	h.tenants = []string{"acme"}
	if v, ok := a.KV["tenants"]; ok {
		h.tenants = strings.Split(v, ",")
	}
	cfg := h.config(a)
	h.ops = map[string]tenant.Operator{}
	for _, o := range cfg.Tenants[0].Operators {
		h.ops[o.ID] = o
	}
	h.dir = tenant.NewDirectory(cfg)
	h.maxCap = map[string]int{}
	// No scrubs after erases and no flush at Close: Pebble's flushes must not run in more than one synctest bubble
	// (store.Config.NoScrub, NoCloseFlush).
	scfg := store.Config{NoScrub: true, NoCloseFlush: true}
	if h.repl != nil {
		scfg.Replicator, scfg.Partition = h.repl, func(string) int { return 0 }
	}
	h.st = storetest.Open(h.t, scfg)
	h.reg = prometheus.NewRegistry()
	h.out = outcome.NewRegistry()
	maxInFlight := 0
	if v, ok := a.KV["max-in-flight"]; ok {
		maxInFlight, _ = strconv.Atoi(v)
	}
	var err error
	pruneStep := 0
	if v, ok := a.KV["prune-step"]; ok {
		pruneStep, _ = strconv.Atoi(v)
	}
	h.r, err = New(Config{Brokers: []string{"127.0.0.1:1"}, Store: h.st, Directory: h.dir,
		Outcomes: h.out, MaxInFlight: maxInFlight, Registerer: h.reg, Logger: slog.New(slog.DiscardHandler),
		AuditPruneStep: pruneStep})
	if err != nil {
		h.t.Fatal(err)
	}
	h.gen, h.log, h.pushed, h.at, h.committed = 0, nil, 0, scenarioEpoch, -1
	h.gates, h.names, h.pending, h.broken = map[string]chan struct{}{}, map[string]string{}, nil, nil
	for _, tn := range h.tenants {
		g := make(chan struct{})
		close(g)
		h.gates[tn] = g
	}
	h.counters = h.snapshot()
	h.startConsumer()
}

// config is the tenants' configuration that setup's (or edit's) arguments describe.
func (h *harness) config(a args) *tenant.Config {
	var yaml strings.Builder
	yaml.WriteString("tenants:\n")
	for _, tn := range h.tenants {
		fmt.Fprintf(&yaml, "  - id: %s\n    settings:\n", tn)
		if v, ok := a.KV["reopen"]; ok {
			fmt.Fprintf(&yaml, "      reopen_to: %s\n", v)
		}
		if a.Has("offline-releases") {
			yaml.WriteString("      offline_releases: true\n")
		}
		if v, ok := a.KV["routing"]; ok {
			fmt.Fprintf(&yaml, "      routing: %s\n", v)
		}
		if a.Has("contact-fields") {
			yaml.WriteString("      contact_fields:\n        - {key: city, type: text}\n" +
				"        - {key: plan, type: choice, choices: [basic, premium]}\n")
		}
		if v, ok := a.KV["labels"]; ok {
			fmt.Fprintf(&yaml, "    labels:\n")
			for _, l := range strings.Split(v, ",") {
				fmt.Fprintf(&yaml, "      - {name: %s}\n", l)
			}
		}
		fmt.Fprintf(&yaml, "    channels:\n      - {id: %s-wa, type: whatsapp, phone_number_id: \"%s-1\", app_secret: s, verify_token: v}\n", tn, tn)
		if v, ok := a.KV["channels"]; ok {
			n, _ := strconv.Atoi(v)
			for i := 2; i <= n; i++ {
				fmt.Fprintf(&yaml, "      - {id: %s-wa%d, type: whatsapp, phone_number_id: \"%s-%d\", app_secret: s, verify_token: v}\n", tn, i, tn, i)
			}
		}
		yaml.WriteString("    operators:\n")
		for _, k := range slices.Sorted(maps.Keys(a.KV)) {
			role, capacity, ok := strings.Cut(a.KV[k], ":")
			if !ok {
				continue
			}
			capacity, skills, _ := strings.Cut(capacity, ":")
			fmt.Fprintf(&yaml, "      - {id: %s, name: %s, role: %s, capacity: %s, token: scenario-token-%s-%s, skills: [%s]}\n",
				k, k, role, capacity, tn, k, strings.ReplaceAll(skills, "+", ","))
		}
	}
	cfg, err := tenant.Parse([]byte(yaml.String()))
	if err != nil {
		panic(fmt.Sprintf("tenant config: %v\n%s", err, yaml.String()))
	}
	return cfg
}

// startConsumer starts a partition consumer for the next generation and the goroutine that feeds it.
func (h *harness) startConsumer() {
	h.gen++
	h.pc = newPartitionConsumer(h.r, 0, h.gen, func(next int64) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		if next < h.committed {
			return fmt.Errorf("BUG: commit %d after %d", next, h.committed)
		}
		h.committed = next
		return nil
	})
	// The gate holds a tenant's records before its actor handles them: they stay in flight.
	h.pc.tenantOpts = []actor.OptFunc{actor.WithMiddleware(func(next actor.ReceiveFunc) actor.ReceiveFunc {
		return func(c *actor.Context) {
			if m, ok := c.Message().(*recordMsg); ok {
				<-h.gate(m.rec.Tenant)
			}
			next(c)
		}
	})}
	// A release reaches a conversation only once the operator change that caused it is applied to the store, so
	// no crash can keep the conversation's change and lose its cause.
	h.pc.convOpts = []actor.OptFunc{actor.WithMiddleware(func(next actor.ReceiveFunc) actor.ReceiveFunc {
		return func(c *actor.Context) {
			if m, ok := c.Message().(*releaseMsg); ok {
				h.checkCause(c.Receiver().(*conversationActor).tenant, m.op, m.cause)
			}
			next(c)
		}
	})}
	h.feed = make(chan fed, 1024)
	h.stop = make(chan struct{})
	h.fedDone = make(chan struct{})
	h.mu.Lock()
	h.fedN = 0
	h.mu.Unlock()
	h.pushed = 0
	pc, feed, stop, done := h.pc, h.feed, h.stop, h.fedDone
	go func() {
		defer close(done)
		for {
			select {
			case f := <-feed:
				if !pc.deliver(stop, f.offset, f.value) {
					return
				}
				h.mu.Lock()
				h.fedN++
				h.mu.Unlock()
			case <-stop:
				return
			}
		}
	}()
}

// checkCause records a broken invariant unless tenant's operator op is stored as applied at cause or later.
func (h *harness) checkCause(tenant, op string, cause conversation.Position) {
	ops, err := h.st.Operators(tenant)
	if err != nil {
		h.t.Error(err)
		return
	}
	for _, o := range ops {
		if o.ID == op && !o.Applied.Less(cause) {
			return
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.broken = append(h.broken, fmt.Sprintf("tenant %s: a conversation released by %s at %d.%d before that change was "+
		"stored", tenant, op, cause.Offset, cause.Index))
}

func (h *harness) gate(tenant string) chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.gates[tenant]
}

// stopConsumer stops feeding and stops the partition consumer (drain, commit, tenant actors stopped).
func (h *harness) stopConsumer() {
	if h.pc == nil {
		return
	}
	close(h.stop)
	<-h.fedDone
	h.pc.stop()
	h.pc = nil
}

func (h *harness) shutdown() {
	if h.r == nil {
		return
	}
	h.mu.Lock()
	for tn, g := range h.gates { // a held tenant would never drain
		select {
		case <-g:
		default:
			close(g)
			h.gates[tn] = g
		}
	}
	h.mu.Unlock()
	h.stopConsumer()
	if err := h.r.Close(); err != nil {
		h.t.Errorf("router Close: %v", err)
	}
	if err := h.r.Close(); err != nil {
		h.t.Errorf("second router Close: %v", err)
	}
	if err := h.st.Close(); err != nil {
		h.t.Errorf("store Close: %v", err)
	}
	h.r = nil
}

func (h *harness) push(offset int64, value []byte) {
	h.feed <- fed{offset: offset, value: value}
	h.pushed++
}

// record builds one record from cmd's items, feeds it, waits for quiescence and prints the trace.
func (h *harness) record(cmd string, race bool) (string, error) {
	body := cmd
	if w, rest, _ := strings.Cut(cmd, " "); w == "record" || w == "race" {
		body = rest
	}
	offset := int64(len(h.log))
	rec := inbox.Record{IngestAt: h.at.UnixMilli()}
	var labels []string
	var waits []pendingOutcome
	garbage := false
	for i, part := range strings.Split(body, ";") {
		fields := strings.Fields(part)
		if len(fields) == 0 {
			continue
		}
		a := parseArgs(fields[1:])
		tn := a.tenant(h)
		if rec.Tenant != "" && rec.Tenant != tn {
			panic("one record holds one tenant's items")
		}
		rec.Tenant = tn
		if fields[0] == "garbage" {
			garbage = true
			break
		}
		it := h.item(fields[0], a, tn, offset, i)
		rec.Items = append(rec.Items, it)
		if it.Command != nil {
			ch, _ := h.out.Register(it.Command.RequestID)
			waits = append(waits, pendingOutcome{label: strings.Join(fields, " "), offset: offset, ch: ch})
		}
		labels = append(labels, strings.Join(fields, " "))
	}
	var value []byte
	if garbage {
		value = []byte("{not a record")
	} else {
		var err error
		if value, err = rec.Encode(nil); err != nil {
			panic(err)
		}
	}
	h.log = append(h.log, value)
	h.at = h.at.Add(time.Minute)
	h.push(offset, value)
	lines := []string{fmt.Sprintf("offset %d", offset)}
	h.pending = append(h.pending, waits...)
	if race {
		settled := h.settleWith(func(ls []string) []string {
			// The race's own outcomes lose their labels and are sorted: which item wins is not determined.
			var own, rest []string
			for _, l := range ls {
				if strings.HasPrefix(l, "outcome ") && h.isRaceLabel(l, labels) {
					own = append(own, "outcome "+l[strings.Index(l, ": ")+2:])
				} else {
					rest = append(rest, l)
				}
			}
			slices.Sort(own)
			return append(rest, own...)
		})
		lines = append(lines, settled...)
	} else {
		lines = append(lines, h.settle()...)
	}
	return strings.Join(lines, "\n"), h.check()
}

func (h *harness) isRaceLabel(line string, labels []string) bool {
	for _, l := range labels {
		if strings.HasPrefix(line, "outcome "+l+": ") {
			return true
		}
	}
	return false
}

// item builds one inbox item from a command's words.
func (h *harness) item(verb string, a args, tn string, offset int64, index int) inbox.Item {
	channel := tn + "-wa"
	if v, ok := a.KV["channel"]; ok { // a conversation on another of the tenant's channels
		channel = v
	}
	req := fmt.Sprintf("r%d.%d", offset, index)
	conv := func(cust string) string {
		id := conversation.ID(channel, cust)
		h.names[id] = cust
		return id
	}
	cmd := func(typ string) inbox.Item {
		return inbox.Item{Kind: inbox.KindCommand, Channel: channel, Command: &inbox.Command{RequestID: req, Type: typ}}
	}
	// configSet is the config_set of change by the admin a names first.
	configSet := func(change tenant.Change) inbox.Item {
		ch, _ := json.Marshal(change)
		it := cmd(inbox.CmdConfigSet)
		it.Command.OperatorID, it.Command.Config = a.Pos[0], ch
		return it
	}
	switch verb {
	case "message":
		a.need(1)
		id := a.KV["id"]
		if id == "" {
			id = fmt.Sprintf("wamid.%d.%d", offset, index)
		}
		conv(a.Pos[0])
		text := "hello"
		if v, ok := a.KV["text"]; ok {
			text = strings.ReplaceAll(v, "_", " ")
		}
		return inbox.Item{Kind: inbox.KindMessage, Channel: channel, Message: &inbox.Message{ID: id, From: a.Pos[0],
			Type: "text", Timestamp: h.at.Unix(), Text: text, ProfileName: strings.ReplaceAll(a.KV["profile"], "_", " ")}}
	case "online", "away", "offline":
		a.need(1)
		it := cmd("availability")
		it.Command.OperatorID, it.Command.TargetID, it.Command.Availability = a.Pos[0], a.Pos[0], verb
		return it
	case "capacity":
		a.need(3)
		n, err := strconv.Atoi(a.Pos[2])
		if err != nil {
			panic(err)
		}
		return configSet(tenant.Change{Operator: &tenant.OperatorChange{ID: a.Pos[1], Capacity: &n}})
	case "deny":
		a.need(2)
		it := cmd(inbox.CmdAudit)
		it.Command.OperatorID = a.Pos[0]
		it.Command.Audit = &inbox.AuditInput{Action: "access.denied", Target: strings.ReplaceAll(a.Pos[1], "_", " ")}
		return it
	case "role":
		a.need(3)
		return configSet(tenant.Change{Operator: &tenant.OperatorChange{ID: a.Pos[1], Role: &a.Pos[2]}})
	case "remove", "disable":
		a.need(2)
		oc := &tenant.OperatorChange{ID: a.Pos[1], Delete: verb == "remove"}
		if verb == "disable" {
			oc.Disabled = new(true)
		}
		return configSet(tenant.Change{Operator: oc})
	case "rules":
		a.need(2)
		var rc tenant.RulesChange
		if err := json.Unmarshal([]byte(strings.Join(a.Pos[1:], " ")), &rc.Rules); err != nil {
			panic(err)
		}
		return configSet(tenant.Change{Rules: &rc})
	case "label-add", "label-delete":
		a.need(2)
		return configSet(tenant.Change{Label: &tenant.LabelChange{Name: a.Pos[1], Create: verb == "label-add",
			Delete: verb == "label-delete"}})
	case "fields":
		a.need(2)
		var fc tenant.FieldsChange
		for _, f := range strings.Split(a.Pos[1], ",") {
			k, typ, _ := strings.Cut(f, ":")
			fc.Fields = append(fc.Fields, tenant.ContactField{Key: k, Type: typ})
		}
		return configSet(tenant.Change{Fields: &fc})
	case "skills":
		a.need(3)
		skills := strings.Split(a.Pos[2], ",")
		if a.Pos[2] == "-" {
			skills = []string{}
		}
		return configSet(tenant.Change{Operator: &tenant.OperatorChange{ID: a.Pos[1], Skills: &skills}})
	case "label":
		a.need(2)
		it := cmd("labels")
		it.Command.OperatorID, it.Command.ConversationID = a.Pos[0], conv(a.Pos[1])
		if v := a.KV["add"]; v != "" {
			it.Command.AddLabels = strings.Split(v, ",")
		}
		if v := a.KV["remove"]; v != "" {
			it.Command.RemoveLabels = strings.Split(v, ",")
		}
		return it
	case "retention":
		a.need(2)
		var d tenant.Retention
		if err := d.UnmarshalJSON([]byte(strconv.Quote(a.Pos[1]))); err != nil {
			panic(err)
		}
		ch, _ := json.Marshal(tenant.Change{Settings: &tenant.SettingsChange{AuditRetention: &d}})
		it := cmd(inbox.CmdConfigSet)
		it.Command.OperatorID, it.Command.Config = a.Pos[0], ch
		return it
	case "routing":
		a.need(2)
		return configSet(tenant.Change{Settings: &tenant.SettingsChange{Routing: &a.Pos[1]}})
	case "take", "close", "unassign", "reopen", "erase":
		a.need(2)
		it := cmd(verb)
		it.Command.OperatorID, it.Command.ConversationID = a.Pos[0], conv(a.Pos[1])
		return it
	case "read":
		a.need(2)
		it := cmd(verb)
		it.Command.OperatorID, it.Command.ConversationID = a.Pos[0], conv(a.Pos[1])
		if v := a.KV["seq"]; v != "" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				panic(err)
			}
			it.Command.Seq = n
		}
		return it
	case "start":
		a.need(2)
		it := cmd(verb)
		conv(a.Pos[1])
		it.Command.OperatorID, it.Command.WaID, it.Command.MessageID = a.Pos[0], a.Pos[1], "sb."+req
		it.Command.Message = &inbox.Outbound{Type: "template", Template: &inbox.Template{Name: "welcome", Language: "en"}}
		if v, ok := a.KV["text"]; ok {
			it.Command.Message = &inbox.Outbound{Type: "text", Text: v}
		}
		return it
	case "assign":
		a.need(3)
		it := cmd(verb)
		it.Command.OperatorID, it.Command.ConversationID, it.Command.TargetID = a.Pos[0], conv(a.Pos[1]), a.Pos[2]
		return it
	case "status":
		a.need(2)
		conv(a.Pos[0])
		st := a.KV["status"]
		if st == "" {
			st = "read"
		}
		return inbox.Item{Kind: inbox.KindStatus, Channel: channel, Status: &inbox.Status{ID: a.Pos[1],
			RecipientID: a.Pos[0], Status: st, Timestamp: h.at.Unix()}}
	case "delivery":
		a.need(3)
		seq, err := strconv.ParseUint(a.Pos[1], 10, 64)
		if err != nil {
			panic("delivery SEQ: " + err.Error())
		}
		d := &inbox.Delivery{ConversationID: conv(a.Pos[0]), Seq: seq, MessageID: a.Pos[2], WAMID: a.KV["wamid"]}
		if d.WAMID == "" {
			d.ErrorCode, d.ErrorTitle = 131026, "Message undeliverable"
		}
		return inbox.Item{Kind: inbox.KindDelivery, Channel: channel, Delivery: d}
	case "send":
		a.need(2)
		it := cmd(verb)
		it.Command.OperatorID, it.Command.ConversationID = a.Pos[0], conv(a.Pos[1])
		it.Command.MessageID = "m" + req
		it.Command.Message = &inbox.Outbound{Type: "text", Text: "hello from " + a.Pos[0]}
		return it
	case "contact-create", "contact-update", "contact-delete", "contact-erase", "block", "unblock":
		a.need(1)
		it := cmd(map[string]string{"block": "contact_block", "unblock": "contact_unblock"}[verb])
		if it.Command.Type == "" {
			it.Command.Type = strings.ReplaceAll(verb, "-", "_")
		}
		it.Channel = ""
		it.Command.OperatorID = "admin"
		it.Command.ContactID = conversation.ContactID(a.Pos[0])
		if verb == "contact-create" || verb == "contact-update" {
			in := &inbox.ContactInput{}
			if verb == "contact-create" {
				in.Phone = "+" + a.Pos[0]
			}
			if v, ok := a.KV["name"]; ok {
				in.Name = &v
			}
			for _, k := range []string{"city", "plan"} {
				if v, ok := a.KV[k]; ok {
					if in.Fields == nil {
						in.Fields = map[string]json.RawMessage{}
					}
					in.Fields[k] = json.RawMessage(strconv.Quote(v))
				}
			}
			it.Command.Contact = in
		}
		return it
	case "import":
		a.need(2)
		it := cmd("contact_import")
		it.Channel = ""
		it.Command.OperatorID, it.Command.ImportID = "admin", a.Pos[0]
		for _, row := range a.Pos[1:] {
			parts := strings.Split(row, ":")
			line, err := strconv.Atoi(parts[0])
			if err != nil || len(parts) < 2 {
				panic("import rows are LINE:CUST[:NAME]")
			}
			in := inbox.ContactInput{Line: line, Phone: "+" + parts[1]}
			if parts[1] == "-" {
				in.Phone = "not a number"
			}
			if len(parts) > 2 {
				in.Name = &parts[2]
			}
			it.Command.Contacts = append(it.Command.Contacts, in)
		}
		return it
	}
	panic("unknown command " + verb)
}

// settle waits for quiescence, commits the durable prefix, and prints what moved.
func (h *harness) settle() []string { return h.settleWith(nil) }

func (h *harness) settleWith(edit func([]string) []string) []string {
	synctest.Wait()
	if h.pc != nil {
		h.pc.commit()
	}
	var lines []string
	h.mu.Lock()
	if held := h.pushed - h.fedN; held > 0 {
		lines = append(lines, fmt.Sprintf("waiting for an in-flight slot: %d record(s) (max in flight %d)", held,
			h.r.cfg.MaxInFlight))
	}
	h.mu.Unlock()
	now := h.snapshot()
	lines = append(lines, diffCounters(h.counters, now)...)
	h.counters = now
	var still []pendingOutcome
	var outs []string
	for _, p := range h.pending {
		select {
		case res := <-p.ch:
			o := fmt.Sprintf("outcome %s: ok", p.label)
			if res.Code != "" {
				o = fmt.Sprintf("outcome %s: refused %s", p.label, res.Code)
			}
			outs = append(outs, o)
			if ir, ok := res.Body.(*contact.ImportResult); ok {
				outs = append(outs, importTrace(ir)...)
			}
		default:
			still = append(still, p)
		}
	}
	h.pending = still
	lines = append(lines, outs...)
	for _, p := range still {
		lines = append(lines, fmt.Sprintf("outcome %s: pending", p.label))
	}
	if edit != nil {
		lines = edit(lines)
	}
	if h.pc != nil {
		lines = append(lines, fmt.Sprintf("in flight %d, committed %d", h.pc.tr.inFlight(), h.lastCommit()))
	}
	return lines
}

func (h *harness) lastCommit() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.committed
}

// counterNames are the router's counters a trace shows, by short name.
var counterNames = map[string]string{
	"switchboard_events_total":                         "events",
	"switchboard_routing_grants_total":                 "grants",
	"switchboard_routing_proposals_total":              "proposals",
	"switchboard_records_skipped_total":                "skipped",
	"switchboard_conversation_actors_activated_total":  "activated",
	"switchboard_conversation_actors_passivated_total": "passivated",
	"switchboard_dispatcher_rebuilds_total":            "rebuilds",
	"switchboard_actor_dead_letters_total":             "dead-letters",
	"switchboard_records_failed_total":                 "failed",
	"switchboard_routing_divergence_total":             "divergence",
	"switchboard_actor_restarts_total":                 "restarts",
	"switchboard_commands_total":                       "commands",
}

// snapshot reads the counters the trace shows, keyed "short name[label values]".
func (h *harness) snapshot() map[string]float64 {
	mfs, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		short, ok := counterNames[mf.GetName()]
		if !ok {
			continue
		}
		for _, m := range mf.GetMetric() {
			// Label values joined by "/", last label name first: commands print as type/result.
			var vs []string
			for _, l := range slices.Backward(m.GetLabel()) {
				vs = append(vs, l.GetValue())
			}
			key := short
			if len(vs) > 0 {
				key += "[" + strings.Join(vs, "/") + "]"
			}
			out[key] = m.GetCounter().GetValue()
		}
	}
	return out
}

// diffCounters prints the counters that moved, one line per counter, labels as key=delta.
func diffCounters(before, after map[string]float64) []string {
	moved := map[string][]string{}
	for key, v := range after {
		d := v - before[key]
		if d == 0 {
			continue
		}
		short, label, _ := strings.Cut(key, "[")
		label = strings.TrimSuffix(label, "]")
		if label == "" {
			moved[short] = append(moved[short], strconv.FormatFloat(d, 'f', -1, 64))
		} else {
			moved[short] = append(moved[short], label+"="+strconv.FormatFloat(d, 'f', -1, 64))
		}
	}
	var lines []string
	for _, short := range slices.Sorted(maps.Keys(moved)) {
		vs := moved[short]
		slices.Sort(vs)
		lines = append(lines, short+" "+strings.Join(vs, " "))
	}
	return lines
}

// check verifies the invariants that hold after every step.
func (h *harness) check() error {
	h.mu.Lock()
	broken := slices.Clone(h.broken)
	h.mu.Unlock()
	if len(broken) > 0 {
		return errors.New(strings.Join(broken, "; "))
	}
	// A router that stopped on an error (a write or an encoding that failed) leaves records pending: the traces
	// would show it only as outcomes that never come.
	if err := h.r.failErr.Load(); err != nil {
		return fmt.Errorf("the router failed: %v", *err)
	}
	for _, k := range []string{"failed", "divergence", "restarts"} {
		if v := h.counters[k]; v != 0 {
			return fmt.Errorf("counter %s = %v", k, v)
		}
	}
	for _, tn := range h.tenants {
		loads, ops, err := h.loads(tn)
		if err != nil {
			return err
		}
		for _, o := range ops {
			// A lowered capacity takes nothing back: the load is bounded by the highest capacity the operator had.
			if c := h.maxCap[tn+"/"+o.ID]; loads[o.ID] > c {
				return fmt.Errorf("tenant %s: operator %s holds %d conversations over its capacity %d", tn, o.ID,
					loads[o.ID], c)
			}
		}
		indexed, err := h.st.OperatorLoads(tn)
		if err != nil {
			return err
		}
		if !maps.Equal(indexed, loads) {
			return fmt.Errorf("tenant %s: the held index gives loads %v, the conversations %v", tn, indexed, loads)
		}
		if err := h.st.CheckIndexes(tn); err != nil {
			return err
		}
	}
	// The commit never passes a record in flight: a record finishes only once its commands' outcomes are
	// published, so a command below the committed offset whose outcome settle has not seen was committed unfinished.
	committed := h.lastCommit()
	for _, p := range h.pending {
		if p.offset < committed {
			return fmt.Errorf("committed %d past offset %d, whose outcome (%s) is still pending", committed, p.offset,
				p.label)
		}
	}
	return nil
}

// loads counts the conversations holding each operator's capacity, from the store.
func (h *harness) loads(tn string) (map[string]int, []store.OperatorState, error) {
	convs, err := h.st.OpenConversations(tn, conversation.Unassigned, conversation.Assigned, conversation.Snoozed)
	if err != nil {
		return nil, nil, err
	}
	loads := map[string]int{}
	for _, c := range convs {
		if routing.Holds(routing.Status(c.Status), c.AssigneeID) {
			loads[c.AssigneeID]++
		}
	}
	stored, err := h.st.Operators(tn)
	if err != nil {
		return nil, nil, err
	}
	// Capacity and role are the configuration's: the one the tenant actor stored, or the directory's when newer.
	cfg, _ := h.dir.Tenant(tn)
	if b, err := h.st.TenantConfig(tn); err == nil {
		var sc storedConfig
		if err := json.Unmarshal(b, &sc); err != nil {
			return nil, nil, err
		}
		if sc.Tenant.Version >= cfg.Version {
			cfg = sc.Tenant
		}
	}
	byID := map[string]store.OperatorState{}
	for _, o := range cfg.Operators {
		byID[o.ID] = store.OperatorState{ID: o.ID, Availability: "offline", Capacity: o.Capacity, Role: o.Role}
		h.maxCap[tn+"/"+o.ID] = max(h.maxCap[tn+"/"+o.ID], o.Capacity)
	}
	for _, o := range stored {
		if c, ok := byID[o.ID]; ok {
			c.Availability = o.Availability
			byID[o.ID] = c
		}
	}
	ops := make([]store.OperatorState, 0, len(byID))
	for _, id := range slices.Sorted(maps.Keys(byID)) {
		ops = append(ops, byID[id])
	}
	return loads, ops, nil
}

func (h *harness) conversations(tn string) []string {
	convs, err := h.st.OpenConversations(tn, conversation.Unassigned, conversation.Assigned, conversation.Snoozed,
		conversation.Closed)
	if err != nil {
		h.t.Fatal(err)
	}
	var lines []string
	for _, c := range convs {
		name := cmp.Or(h.names[c.ID], c.ID)
		l := fmt.Sprintf("%s %s", name, c.Status)
		if c.AssigneeID != "" {
			l += " " + c.AssigneeID
		}
		l += fmt.Sprintf(" messages=%d applied=%d.%d", c.Messages, c.Applied.Offset, c.Applied.Index)
		if c.LastOperatorID != "" {
			l += " last=" + c.LastOperatorID
		}
		if len(c.Labels) > 0 {
			l += " labels=" + strings.Join(c.Labels, ",")
		}
		if c.Priority != 0 {
			l += fmt.Sprintf(" priority=%d", c.Priority)
		}
		if len(c.RequiredSkills) > 0 {
			l += " skills=" + strings.Join(c.RequiredSkills, ",")
		}
		for _, op := range slices.Sorted(maps.Keys(c.ReadBy)) {
			l += fmt.Sprintf(" read:%s=#%d/%d", op, c.ReadBy[op].Seq, c.ReadBy[op].Inbound)
		}
		if !c.ErasedAt.IsZero() {
			// An erased customer's conversation: what it still holds of them, and the messages left in the store.
			msgs, err := h.st.Messages(tn, c.ID, 0, 100)
			if err != nil {
				h.t.Fatal(err)
			}
			l += fmt.Sprintf(" erased wa_id=%q name=%q stored=%d", c.Contact.WaID, c.Contact.Name, len(msgs))
		}
		lines = append(lines, l)
	}
	slices.Sort(lines)
	if len(lines) == 0 {
		return []string{"(none)"}
	}
	return lines
}

func (h *harness) operators(tn string) []string {
	loads, ops, err := h.loads(tn)
	if err != nil {
		h.t.Fatal(err)
	}
	indexed, err := h.st.OperatorLoads(tn)
	if err != nil {
		h.t.Fatal(err)
	}
	var lines []string
	for _, o := range ops {
		l := fmt.Sprintf("%s %s %s load=%d/%d", o.ID, o.Role, o.Availability, loads[o.ID], o.Capacity)
		if indexed[o.ID] != loads[o.ID] {
			l += fmt.Sprintf(" indexed=%d", indexed[o.ID])
		}
		lines = append(lines, l)
	}
	return lines
}

// tamperHeld writes the held index directly: "drop CUST" deletes the entry of CUST's conversation, "add CUST OP"
// sets one saying it holds OP. It prints the loads as the operators step does.
func (h *harness) tamperHeld(a args) []string {
	tn := a.tenant(h)
	id := conversation.ID(tn+"-wa", a.Pos[1])
	h.names[id] = a.Pos[1]
	b := h.st.NewBatch()
	var err error
	switch a.Pos[0] {
	case "drop":
		var cv conversation.Conversation
		if cv, err = h.st.Conversation(tn, id); err == nil {
			err = b.UnindexHeld(tn, cv.AssigneeID, id)
		}
	case "add":
		a.need(3)
		err = b.IndexHeld(&conversation.Conversation{ID: id, TenantID: tn, Status: conversation.Assigned, AssigneeID: a.Pos[2]})
	default:
		panic("held drop|add")
	}
	if err != nil {
		b.Discard()
		h.t.Fatal(err)
	}
	done := make(chan error, 1)
	if err := h.st.Commit(b, func(err error) { done <- err }); err != nil {
		h.t.Fatal(err)
	}
	if err := <-done; err != nil {
		h.t.Fatal(err)
	}
	return h.operators(tn)
}

// args is a command's words (scenariofile.Args) with this suite's readers.
type args struct{ scenariofile.Args }

// contacts prints the store's contacts of a tenant, and its blocked index.
func (h *harness) contacts(tn string) []string {
	list, _, err := h.st.Contacts(tn, store.ContactFilter{Limit: 1000})
	if err != nil {
		h.t.Fatal(err)
	}
	var lines []string
	for _, c := range list {
		l := fmt.Sprintf("%s %q v%d", c.Phone, c.Name, c.Version)
		for _, k := range slices.Sorted(maps.Keys(c.Fields)) {
			l += fmt.Sprintf(" %s=%s", k, c.Fields[k])
		}
		if c.Blocked {
			l += " blocked"
		}
		if c.ImportID != "" {
			l += fmt.Sprintf(" import=%s:%d", c.ImportID, c.ImportLine)
		}
		lines = append(lines, l)
	}
	slices.Sort(lines)
	blocked, err := h.st.BlockedContacts(tn)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, id := range slices.Sorted(maps.Keys(blocked)) {
		lines = append(lines, "blocked index: +"+blocked[id])
	}
	if len(lines) == 0 {
		return []string{"(none)"}
	}
	return lines
}

// importTrace prints an import batch's rows.
func importTrace(r *contact.ImportResult) []string {
	lines := []string{fmt.Sprintf("  created %d updated %d unchanged %d refused %d", r.Created, r.Updated, r.Unchanged, r.Refused)}
	for _, row := range r.Rows {
		l := fmt.Sprintf("  line %d %s: %s", row.Line, row.Phone, row.Result)
		if row.Code != "" {
			l += fmt.Sprintf(" %s (%s)", row.Code, row.Reason)
		}
		lines = append(lines, l)
	}
	return lines
}

func parseArgs(fields []string) args { return args{scenariofile.ParseArgs(fields)} }

func (a args) need(n int) {
	if len(a.Pos) < n {
		panic(fmt.Sprintf("want %d positional arguments", n))
	}
}

func (a args) tenant(h *harness) string {
	if v, ok := a.KV["t"]; ok {
		return v
	}
	return h.tenants[0]
}

// TestForgetThenRespawn feeds many records of commands for the same missing conversation without waiting between
// them, so the tenant actor stops the conversation's actor (forget) and starts a new one for the next record in
// every interleaving: each record must still finish, none may reach an actor on its way out.
func TestForgetThenRespawn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &harness{t: t}
		t.Cleanup(h.shutdown)
		if _, err := h.run("setup alice=operator:1"); err != nil {
			t.Fatal(err)
		}
		const n = 1000
		for i := range n {
			it := h.item("close", parseArgs([]string{"alice", "nobody"}), "acme", int64(i), 0)
			ch, _ := h.out.Register(it.Command.RequestID)
			v, err := (&inbox.Record{Tenant: "acme", IngestAt: h.at.UnixMilli(), Items: []inbox.Item{it}}).Encode(nil)
			if err != nil {
				t.Fatal(err)
			}
			h.log = append(h.log, v)
			h.push(int64(i), v)
			// The next record follows the outcome at once: it races the actor's forget to the tenant actor.
			select {
			case res := <-ch:
				if res.Code != "conversation_not_found" {
					t.Errorf("record %d: outcome %+v, want conversation_not_found", i, res)
				}
			case <-time.After(time.Minute):
				t.Fatalf("record %d: no outcome (in flight %d)", i, h.pc.tr.inFlight())
			}
		}
		h.settle()
		// A new actor spawned under the id of one on its way out would not start, and what it is sent would go to
		// the dying one: activations would fall behind the stops, and the stop of the second would be a dead letter.
		now := h.snapshot()
		if now["activated"] != now["passivated"] || now["dead-letters"] != 0 {
			t.Errorf("activated %v, stopped %v, dead letters %v: want as many stops as activations and no dead letter",
				now["activated"], now["passivated"], now["dead-letters"])
		}
		if in, c := h.pc.tr.inFlight(), h.lastCommit(); in != 0 || c != n {
			t.Errorf("in flight %d, committed %d; want 0 and %d", in, c, n)
		}
		if a := gauge(h.r.metrics.actorsActive); a != 0 {
			t.Errorf("actors active %v, want 0", a)
		}
		if err := h.check(); err != nil {
			t.Error(err)
		}
	})
}

// TestStopWhileProposing stops a partition while a proposal is on its way to a conversation actor: the drain gives
// up on a record held at the tenant actor ("online alice", which proposes the waiting Ann to Alice), and the record
// is let through while the stop goes on. Ann's actor then asks for its grant while its tenant actor is stopping; it
// must be refused at once — not left waiting until the grant times out and fails the router. A command that asks
// for a grant then is left unanswered (not refused: the next owner would not refuse it), and the next owner, fed
// again from the last commit, applies it and assigns Ann.
func TestStopWhileProposing(t *testing.T) {
	for _, tc := range []struct {
		name, held string
		outcomes   []string // when the next owner took over
	}{
		{"proposal", "online alice", []string{"outcome online alice: ok"}},
		{"proposal and command", "record online alice; take alice ann",
			[]string{"outcome online alice: ok", "outcome take alice ann: ok"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := &harness{t: t}
				t.Cleanup(h.shutdown)
				for _, cmd := range []string{"setup alice=operator:1", "message ann", "hold acme", tc.held} {
					if _, err := h.run(cmd); err != nil {
						t.Fatalf("%s: %v", cmd, err)
					}
				}
				close(h.stop)
				<-h.fedDone
				pc := h.pc
				h.pc = nil
				stopped := make(chan struct{})
				go func() {
					defer close(stopped)
					pc.stop()
				}()
				time.Sleep(drainTimeout) // the drain gives up on the held record
				synctest.Wait()
				h.mu.Lock()
				close(h.gates["acme"])
				h.mu.Unlock()
				<-stopped
				if p := h.r.failErr.Load(); p != nil {
					t.Fatalf("the router failed while a partition stopped: %v", *p)
				}
				h.startConsumer()
				for off := h.lastCommit(); off < int64(len(h.log)); off++ {
					h.push(off, h.log[off])
				}
				var outs []string
				for _, l := range h.settle() {
					if strings.HasPrefix(l, "outcome ") {
						outs = append(outs, l)
					}
				}
				if !slices.Equal(outs, tc.outcomes) {
					t.Errorf("outcomes after the next owner took over: %q, want %q", outs, tc.outcomes)
				}
				if got, want := strings.Join(h.conversations("acme"), "\n"), "ann assigned alice messages=1 "; !strings.HasPrefix(got, want) {
					t.Errorf("conversations after the next owner took over:\n%s\nwant:\n%s…", got, want)
				}
				if err := h.check(); err != nil {
					t.Error(err)
				}
			})
		})
	}
}

// configRecords lists the configuration records waiting in the outbox: "key vN".
func (h *harness) configRecords() []string {
	page, _, err := h.st.Outbox(nil, 0, 10000)
	if err != nil {
		h.t.Fatal(err)
	}
	var lines []string
	for i := range page {
		k, v, ok := page[i].ConfigRecord()
		if !ok {
			continue
		}
		var r tenant.Record
		if err := json.Unmarshal(v, &r); err != nil {
			h.t.Fatal(err)
		}
		lines = append(lines, fmt.Sprintf("%s v%d", k, r.Version))
	}
	if len(lines) == 0 {
		lines = append(lines, "none")
	}
	return lines
}

func (h *harness) audit(tn string) []string {
	es, _, err := h.st.Audit(tn, store.AuditQuery{Limit: 1000})
	if err != nil {
		h.t.Fatal(err)
	}
	var lines []string
	for _, e := range es {
		line := fmt.Sprintf("%s %s (%s) %s %s", e.ID, e.ActorID, e.ActorRole, e.Action, e.Target)
		for _, c := range e.Changes {
			line += fmt.Sprintf(" %s:%s->%s", c.Field, c.From, c.To)
		}
		lines = append(lines, line)
	}
	page, _, err := h.st.Outbox(nil, 0, 10000)
	if err != nil {
		h.t.Fatal(err)
	}
	events := 0
	for i := range page {
		if _, _, ok := page[i].ConfigRecord(); ok {
			continue
		}
		var ev struct {
			Type     string `json:"type"`
			TenantID string `json:"tenant_id"`
		}
		if json.Unmarshal(page[i].Value, &ev) == nil && ev.Type == "audit.recorded" && ev.TenantID == tn {
			events++
		}
	}
	lines = append(lines, fmt.Sprintf("%d entries, %d audit.recorded events in the outbox", len(es), events))
	return lines
}
