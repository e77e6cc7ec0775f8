package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/store/storetest"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/api"
	"github.com/switchboard-hq/switchboard/cmd/switchboard/node"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// Tokens of testdata/tenants.yaml.
const (
	aliceToken = "alice-token-0123456789" // acme, operator
	bobToken   = "bob-token-0123456789ab" // acme, admin
	carolToken = "carol-token-0123456789" // acme, builder
	daveToken  = "dave-token-0123456789x" // globex, admin
)

// now is the API's clock: commands are stamped with it.
var now = time.Date(2025, 10, 9, 10, 0, 0, 0, time.UTC)

// at is a fixed domain time for stored records.
var at = time.Date(2025, 10, 8, 9, 30, 0, 0, time.UTC)

// recorder is the Producer of these tests: it keeps every record it acknowledged and, for each command, asks answer
// for the outcome the router would publish once the command is durable. It stands in for Kafka plus the router, which
// are outside what the API decides; its records are checked to be what the router would decode.
type recorder struct {
	outcomes *outcome.Registry

	mu     sync.Mutex
	recs   []inbox.Record
	err    error                                          // returned by Produce when set
	answer func(cmd inbox.Command) (outcome.Result, bool) // false: no outcome ever comes
}

func (r *recorder) Produce(ctx context.Context, recs []inbox.Record) error {
	r.mu.Lock()
	err, answer := r.err, r.answer
	if err == nil {
		r.recs = append(r.recs, recs...)
	}
	r.mu.Unlock()
	if err != nil {
		return err
	}
	for _, rec := range recs {
		for _, it := range rec.Items {
			// The audit log's record of a refusal (audit.go) is not waited for: nothing answers it here.
			if it.Command == nil || answer == nil || it.Command.Type == inbox.CmdAudit {
				continue
			}
			if res, ok := answer(*it.Command); ok {
				// Published from another goroutine, as the router's actor would.
				go r.outcomes.Publish(it.Command.RequestID, res)
			}
		}
	}
	return nil
}

func (r *recorder) records() []inbox.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]inbox.Record(nil), r.recs...)
}

// changes are the records produced but the audit log's records of refusals (audit commands): what a refused
// call must not produce.
func (r *recorder) changes() []inbox.Record {
	var out []inbox.Record
	for _, rec := range r.records() {
		if len(rec.Items) == 1 && rec.Items[0].Command != nil && rec.Items[0].Command.Type == inbox.CmdAudit {
			continue
		}
		out = append(out, rec)
	}
	return out
}

// denials are the targets of the audit commands produced (the refused routes), in order.
func (r *recorder) denials() []string {
	var out []string
	for _, rec := range r.records() {
		if len(rec.Items) == 1 && rec.Items[0].Command != nil && rec.Items[0].Command.Type == inbox.CmdAudit {
			out = append(out, rec.Items[0].Command.OperatorID+" "+rec.Items[0].Command.Audit.Target)
		}
	}
	return out
}

func (r *recorder) set(err error, answer func(inbox.Command) (outcome.Result, bool)) {
	r.mu.Lock()
	r.err, r.answer = err, answer
	r.mu.Unlock()
}

type env struct {
	url      string
	store    *store.Store
	dir      *tenant.Directory
	prod     *recorder
	outcomes *outcome.Registry
}

type options struct {
	noProducer     bool
	commandTimeout time.Duration
	// reader, when set, wraps the store's reader (to inject faults).
	reader func(api.Reader) api.Reader
	// logger receives the API's logs; default discarded.
	logger *slog.Logger
	// insights answers GET /v1/insights; nil: none configured.
	insights api.InsightsFunc
	// configure, when set, changes the API's config before it is built.
	configure func(*api.Config)
	// tenants is the tenants file; default testdata/tenants.yaml.
	tenants string
	// streamed serves api.MediaPath's bodies as streams, as the node's server does.
	streamed bool
}

// start serves the API on a real fasthttp server on loopback, over a fresh store.
func start(t *testing.T, o options) *env {
	t.Helper()
	if o.tenants == "" {
		o.tenants = "testdata/tenants.yaml"
	}
	cfg, err := tenant.Load(o.tenants)
	if err != nil {
		t.Fatal(err)
	}
	dir := tenant.NewDirectory(cfg)
	st := storetest.Open(t, store.Config{})
	reg := outcome.NewRegistry()
	e := &env{store: st, dir: dir, outcomes: reg, prod: &recorder{outcomes: reg}}
	var rd api.Reader = node.APIReader(st)
	if o.reader != nil {
		rd = o.reader(rd)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	acfg := api.Config{Directory: dir, Reader: rd, Outcomes: reg, CommandTimeout: o.commandTimeout,
		Now: func() time.Time { return now }, Logger: o.logger, Insights: o.insights}
	if !o.noProducer {
		acfg.Producer = e.prod
	}
	if o.configure != nil {
		o.configure(&acfg)
	}
	a, err := api.New(acfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: a.Serve}
	if o.streamed {
		srv.StreamRequestBody, srv.DisablePreParseMultipartForm = true, true
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		if err := srv.Shutdown(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	e.url = "http://" + ln.Addr().String()
	return e
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

// do sends a request with a bearer token (none when token is empty) and a raw body (none when empty).
func (e *env) do(t *testing.T, method, path, token, body string) response {
	t.Helper()
	hdr := map[string]string{}
	if token != "" {
		hdr["Authorization"] = "Bearer " + token
	}
	if body != "" {
		hdr["Content-Type"] = "application/json"
	}
	return e.send(t, method, path, hdr, body)
}

// getJSON does a GET that must answer 200 and decodes the body into v.
func (e *env) getJSON(t *testing.T, path, token string, v any) {
	t.Helper()
	r := e.do(t, http.MethodGet, path, token, "")
	if r.status != http.StatusOK {
		t.Fatalf("GET %s = %s, want 200", path, r)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("GET %s: Content-Type %q", path, ct)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, r.body)
	}
}

// wantError checks that r is the contract's error: status, JSON {"error":{"code","message"}} and nothing else.
func wantError(t *testing.T, what string, r response, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Errorf("%s = %s, want %d %s", what, r, status, code)
		return
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q, want application/json", what, ct)
	}
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		t.Errorf("%s: body %s is not the error shape: %v", what, r.body, err)
		return
	}
	if body.Error.Code != code {
		t.Errorf("%s: code %q, want %q (message %q)", what, body.Error.Code, code, body.Error.Message)
	}
	if body.Error.Message == "" {
		t.Errorf("%s: empty error message", what)
	}
}

// commit applies fill in one batch and waits until it is durable.
func (e *env) commit(t *testing.T, fill func(b *store.Batch) error) {
	t.Helper()
	b := e.store.NewBatch()
	if err := fill(b); err != nil {
		b.Discard()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	if err := e.store.Commit(b, func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func conv(tn, id string, st conversation.Status, assignee string, labels ...string) conversation.Conversation {
	return conversation.Conversation{
		ID:              id,
		TenantID:        tn,
		ChannelID:       tn + "-wa",
		Contact:         conversation.Contact{ID: "k" + id, WaID: "1555" + id, Name: "Customer " + id},
		Status:          st,
		AssigneeID:      assignee,
		Labels:          labels,
		WindowExpiresAt: at.Add(24 * time.Hour),
		CreatedAt:       at,
		UpdatedAt:       at.Add(time.Minute),
		LastInboundAt:   at,
	}
}

func (e *env) putConvs(t *testing.T, cs ...conversation.Conversation) {
	t.Helper()
	e.commit(t, func(b *store.Batch) error {
		for i := range cs {
			if err := b.PutConversation(&conversation.Conversation{}, &cs[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// putMessages writes messages 1..n of a conversation.
func (e *env) putMessages(t *testing.T, tn, convID string, n int) {
	t.Helper()
	e.commit(t, func(b *store.Batch) error {
		for seq := 1; seq <= n; seq++ {
			m := conversation.Message{ConversationID: convID, Seq: uint64(seq), ID: fmt.Sprintf("wamid.%s.%d", convID, seq),
				Direction: conversation.DirIn, Type: "text", Text: fmt.Sprintf("message %d", seq), Status: conversation.Received,
				SentAt: at.Add(time.Duration(seq) * time.Second), CreatedAt: at.Add(time.Duration(seq) * time.Second)}
			if err := b.PutMessage(tn, &m); err != nil {
				return err
			}
		}
		return nil
	})
}

var errKafkaDown = errors.New("kafka: broker not available")
