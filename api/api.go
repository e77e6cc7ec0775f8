// Package api serves the operator API under /v1 (docs/contract.md, "Operator API"): bearer-token authentication, JSON
// bodies, and errors as {"error":{"code","message"}} with the HTTP status mapped from the code in one table
// (errors.go). It is the edge: it reads state through the Reader interface it defines and turns each operator action
// into a command record whose outcome it waits for. It may import the domain packages (actors/conversation,
// actors/operator), the outcome registry, the tenant directory, the inbox record and fasthttp; never the store nor
// the actors (imports_test.go keeps it so), so it links no Pebble and any node could serve it.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/api/cluster"
)

// Config configures the API.
type Config struct {
	// Directory authenticates operators. Required.
	Directory *tenant.Directory
	// Reader answers reads (on a node holding the tenants' partitions, its store, adapted by cmd/switchboard/node).
	// Required.
	Reader Reader
	// Producer queues commands; nil makes every command 503 (a read-only node).
	Producer Producer
	// Outcomes delivers commands' results; required with Producer.
	Outcomes *outcome.Registry
	// CommandTimeout bounds queueing a command plus waiting for its outcome. Default 10 s.
	CommandTimeout time.Duration
	// Now is the clock that stamps commands with their ingest time. Default time.Now.
	Now func() time.Time
	// Insights answers GET /v1/insights?since=; nil answers 503 (no ClickHouse configured).
	Insights InsightsFunc
	// InsightsRange answers GET /v1/insights?from=&to= and GET /v1/insights.csv (insights.go); nil answers 503.
	InsightsRange InsightsRangeFunc
	// Templates fetches template catalogues from Meta for POST /v1/templates/sync; nil answers it 503.
	Templates TemplateFetcher
	// Logger receives the internal errors behind 5xx answers, which clients see only as a code and a fixed
	// message. Default slog.Default().
	Logger *slog.Logger
	// Media uploads, serves and fetches attachments (media.go); nil answers POST and GET /v1/media and replies
	// with a media link 503 media_unavailable.
	Media Media
	// MediaTempDir holds uploads and fetched links while they are checked and sent on. Default os.TempDir().
	MediaTempDir string
	// MaxMediaTransfers bounds the uploads, link fetches and media downloads into the node's cache in progress at
	// once (each may hold up to 100 MiB on disk); one more is answered 503 with Retry-After. Default 16.
	MaxMediaTransfers int
	// MaxImports bounds the contact imports (POST /v1/contacts/import) running at once on the node, over every
	// tenant: each holds a CSV reader, importWindow batches in flight and a connection for as long as its file.
	// One more is answered 503 too_many_imports with Retry-After. Default 4.
	MaxImports int
	// WaitConfig makes a configuration change wait, before it is answered, until Directory has applied its version
	// (a configuration watcher feeds Directory). Default false: the directory is static (tests, a node without the
	// watcher), and the answer does not wait.
	WaitConfig bool
	// OIDCAllowLoopback lets the node reach a tenant's OpenID Connect provider on a loopback address (a local IdP
	// in development and tests). Default false: loopback, link-local (cloud metadata) and unspecified addresses are
	// refused, so a tenant's SSO issuer cannot point the node at its own services.
	OIDCAllowLoopback bool
	// OIDCAllowPrivate lets the node reach a tenant's OpenID Connect provider on a private address (RFC 1918, RFC
	// 4193, carrier-grade NAT): an IdP on the organisation's own network. Default false: a tenant's admin cannot
	// point the node at the services of the network it runs in.
	OIDCAllowPrivate bool
	// Cluster forwards the calls of tenants another node owns to that node (cluster.go); nil serves every call here.
	Cluster *ClusterConfig
	// EdgeConfig configures sign-in and the live stream (session.go).
	EdgeConfig
}

// InsightsFunc computes a tenant's insight figures over the last since; byOperator false leaves the per-operator
// figures out (an empty by_operator).
type InsightsFunc func(ctx context.Context, tenant string, since time.Duration, byOperator bool) (any, error)

func (c *Config) setDefaults() {
	if c.CommandTimeout == 0 {
		c.CommandTimeout = 10 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MediaTempDir == "" {
		c.MediaTempDir = os.TempDir()
	}
	if c.MaxMediaTransfers == 0 {
		c.MaxMediaTransfers = 16
	}
	if c.MaxImports == 0 {
		c.MaxImports = 4
	}
	c.EdgeConfig.setDefaults(c.Now)
}

// Validate reports a config that cannot work.
func (c *Config) Validate() error {
	if c.Directory == nil || c.Reader == nil {
		return errors.New("api: Directory and Reader are required")
	}
	if c.Producer != nil && c.Outcomes == nil {
		return errors.New("api: Outcomes is required with a Producer")
	}
	return nil
}

// API is the /v1 handler. It is safe for concurrent use.
type API struct {
	cfg       Config
	log       *slog.Logger
	edge      *edge
	transfers chan struct{} // media uploads, link fetches and downloads in progress (media.go)
	imports   chan struct{} // contact imports running (contacts_import.go)
	tokenUse  tokenUse      // when this node last saw each API token used (team.go)
	sso       *ssoState     // single sign-on (oidc.go)
	cluster   *clusterState // forwarding to other nodes (cluster.go); nil serves everything here
}

// New builds the API.
func New(cfg Config) (*API, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e, err := newEdge(&cfg)
	if err != nil {
		return nil, err
	}
	cs, err := newClusterState(cfg.Cluster, cfg.CommandTimeout, cfg.Now)
	if err != nil {
		return nil, err
	}
	a := &API{cfg: cfg, log: cfg.Logger.With("component", "api"), edge: e,
		transfers: make(chan struct{}, cfg.MaxMediaTransfers), imports: make(chan struct{}, cfg.MaxImports),
		sso: newSSOState(cfg.OIDCAllowLoopback, cfg.OIDCAllowPrivate), cluster: cs}
	if cs != nil && a.cfg.Counts != nil {
		a.cfg.Counts = a.forwardedCounts(a.cfg.Counts)
	}
	return a, nil
}

// Error is the contract's error body.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// WriteError answers status with the contract's error shape.
func WriteError(ctx *fasthttp.RequestCtx, status int, code, msg string) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	b, _ := json.Marshal(struct {
		Error Error `json:"error"`
	}{Error{Code: code, Message: msg}})
	ctx.SetBody(b)
}

func (a *API) writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		a.log.Error("encode response", "path", string(ctx.Path()), "err", err)
		fail(ctx, outcome.CodeInternal, "the response could not be encoded")
		return
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

// Serve handles every path under /v1/.
func (a *API) Serve(ctx *fasthttp.RequestCtx) {
	if a.serveSession(ctx) {
		return
	}
	// Invites need no credential: their secret is one (team.go).
	if a.servePublicTeam(ctx) {
		return
	}
	// Sign-in methods and single sign-on need no credential either (oidc.go).
	if a.serveAuth(ctx) {
		return
	}
	// A call another node forwarded (cluster.go) carries its caller in its own way; any other is authenticated here.
	var op tenant.OperatorRef
	var sess *Session
	var ok bool
	forwarded := len(ctx.Request.Header.Peek(cluster.HeaderForward)) > 0
	if forwarded {
		op, ok = a.acceptForward(ctx, string(ctx.Request.Header.Peek(cluster.HeaderForward)))
	} else {
		op, sess, ok = a.authenticate(ctx)
	}
	if !ok {
		return
	}
	path := strings.TrimPrefix(string(ctx.Path()), "/v1/")
	parts := strings.Split(strings.TrimSuffix(path, "/"), "/")
	// The permissions matrix (permissions.go), in this one place: no route, no handler; no permission, 403.
	rt, known := MatchRoute(string(ctx.Method()), string(ctx.Path()))
	switch {
	case rt == nil && known:
		fail(ctx, codeMethodNotAllowed, string(ctx.Method())+" is not allowed on "+string(ctx.Path()))
		return
	case rt == nil:
		fail(ctx, codeNotFound, "no such endpoint: "+string(ctx.Method())+" "+string(ctx.Path()))
		return
	case !permits(op, rt, parts):
		a.forbid(ctx, op, rt)
		return
	}
	// An API token acts within its scopes (the matrix's Scope column, team.go).
	if !a.checkScope(ctx, op, rt) {
		return
	}
	// A tenant another node owns is answered by that node, except the event stream and presence, served by every
	// node from switchboard.events and its own hub (README, "Several nodes").
	if !forwarded && parts[0] != "events" && !(len(parts) == 3 && parts[2] == "presence") && a.forward(ctx, op, sess) {
		return
	}
	// The team: invites, passwords, removal, API tokens (team.go).
	if a.serveTeam(ctx, op, parts) {
		return
	}
	if a.serveLive(ctx, op, parts) {
		return
	}
	// Contacts (contacts.go).
	if a.serveContacts(ctx, op, parts) {
		return
	}
	// The labels catalogue, the contact fields and the routing rules (labels.go).
	if a.serveCatalogue(ctx, op, parts) {
		return
	}
	// Attachments (media.go).
	if len(parts) >= 1 && parts[0] == "media" && a.serveMedia(ctx, op, parts) {
		return
	}
	get, post := ctx.IsGet(), ctx.IsPost()
	switch {
	// The contacts' CSV export (contacts_export.go).
	case len(parts) == 2 && parts[0] == "contacts" && parts[1] == "export.csv" && get:
		a.exportContacts(ctx, op)
	// Erasing a contact (contacts_erase.go).
	case len(parts) == 3 && parts[0] == "contacts" && parts[2] == "erase" && post:
		a.eraseContact(ctx, op, parts[1])
	case len(parts) == 1 && parts[0] == "conversations" && get:
		a.listConversations(ctx, op)
	case len(parts) == 2 && parts[0] == "conversations" && get:
		a.getConversation(ctx, op, parts[1])
	case len(parts) == 3 && parts[0] == "conversations" && parts[2] == "messages" && get:
		a.listMessages(ctx, op, parts[1])
	case len(parts) == 3 && parts[0] == "conversations" && parts[2] == "read" && post:
		a.markRead(ctx, op, parts[1])
	case len(parts) == 3 && parts[0] == "conversations" && post:
		a.conversationCommand(ctx, op, parts[1], parts[2])
	case len(parts) == 2 && parts[0] == "inbox" && parts[1] == "counts" && get:
		a.inboxCounts(ctx, op)
	case len(parts) == 1 && parts[0] == "search" && get:
		a.search(ctx, op)
	case len(parts) == 1 && parts[0] == "insights" && get:
		a.insights(ctx, op)
	case len(parts) == 1 && parts[0] == "insights.csv" && get:
		a.insightsCSV(ctx, op)
	case len(parts) == 1 && parts[0] == "operators" && get:
		a.listOperators(ctx, op)
	case len(parts) == 3 && parts[0] == "operators" && parts[1] == "me" && parts[2] == "availability" && ctx.IsPut():
		a.setAvailability(ctx, op)
	case len(parts) == 2 && parts[0] == "operators" && string(ctx.Method()) == fasthttp.MethodPatch:
		a.updateOperator(ctx, op, parts[1])
	case len(parts) == 2 && parts[0] == "operators" && get:
		a.getOperator(ctx, op, parts[1])
	// Configuration at runtime (settings.go).
	case len(parts) == 1 && parts[0] == "settings" && get:
		a.getSettings(ctx, op)
	case len(parts) == 1 && parts[0] == "settings" && string(ctx.Method()) == fasthttp.MethodPatch:
		a.patchSettings(ctx, op)
	// Single sign-on (oidc.go).
	case len(parts) == 2 && parts[0] == "settings" && parts[1] == "sso" && get:
		a.getSSOSettings(ctx, op)
	case len(parts) == 2 && parts[0] == "settings" && parts[1] == "sso" && ctx.IsPut():
		a.putSSOSettings(ctx, op)
	case len(parts) == 1 && parts[0] == "channels" && get && may(op, PermChannelsManage):
		a.listAdminChannels(ctx, op)
	case len(parts) == 1 && parts[0] == "channels" && post:
		a.addChannel(ctx, op)
	case len(parts) == 2 && parts[0] == "channels" && string(ctx.Method()) == fasthttp.MethodPatch:
		a.patchChannel(ctx, op, parts[1])
	case len(parts) == 2 && parts[0] == "channels" && string(ctx.Method()) == fasthttp.MethodDelete:
		a.removeChannel(ctx, op, parts[1])
	// The audit log (audit.go).
	case len(parts) == 1 && parts[0] == "audit" && get:
		a.listAudit(ctx, op)
	// Contacts import (H2).
	case len(parts) == 2 && parts[0] == "contacts" && parts[1] == "import" && post:
		a.importContacts(ctx, op)
	// Canned responses (canned.go).
	case parts[0] == "canned-responses":
		a.serveCanned(ctx, op, parts)
	// Starting a conversation (start.go).
	case len(parts) == 1 && parts[0] == "conversations" && post:
		a.startConversation(ctx, op)
	case len(parts) == 1 && parts[0] == "channels" && get:
		a.listChannels(ctx, op)
	// Templates (api/templates.go).
	case len(parts) == 1 && parts[0] == "templates" && get:
		a.listTemplates(ctx, op)
	case len(parts) == 2 && parts[0] == "templates" && parts[1] == "sync" && post:
		a.syncTemplates(ctx, op)
	case len(parts) >= 1 && parts[0] == "templates":
		fail(ctx, codeMethodNotAllowed, string(ctx.Method())+" is not allowed on "+string(ctx.Path()))
	case len(parts) >= 1 && (parts[0] == "conversations" || parts[0] == "operators" || parts[0] == "settings" ||
		parts[0] == "channels"):
		fail(ctx, codeMethodNotAllowed, string(ctx.Method())+" is not allowed on "+string(ctx.Path()))
	default:
		fail(ctx, codeNotFound, "no such endpoint: "+string(ctx.Method())+" "+string(ctx.Path()))
	}
}

// authenticate accepts a bearer token or, without an Authorization header, the session cookie.
// The session is the cookie's (nil for a bearer token).
func (a *API) authenticate(ctx *fasthttp.RequestCtx) (tenant.OperatorRef, *Session, bool) {
	h := string(ctx.Request.Header.Peek("Authorization"))
	if h == "" && len(ctx.Request.Header.Cookie(CookieName)) > 0 {
		op, s, ok := a.authenticateSession(ctx)
		return op, &s, ok
	}
	token, found := strings.CutPrefix(h, "Bearer ")
	if !found || token == "" {
		fail(ctx, codeUnauthorized, "missing bearer token")
		return tenant.OperatorRef{}, nil, false
	}
	// A bearer token is the same credential POST /v1/session takes: unknown ones are charged to the address like
	// failed sign-ins, so no endpoint is an unlimited oracle for guessing tokens.
	addrKey := "addr:" + ctx.RemoteIP().String()
	if wait := a.edge.limits.retryAfter(addrKey); wait > 0 {
		a.limited(ctx, wait)
		return tenant.OperatorRef{}, nil, false
	}
	op, ok := a.cfg.Directory.OperatorByToken(token)
	if !ok {
		a.edge.limits.fail(addrKey)
		fail(ctx, codeUnauthorized, "unknown token")
		return tenant.OperatorRef{}, nil, false
	}
	return op, nil, true
}

// conversationView is the body of GET /v1/conversations/{id}.
type conversationView struct {
	conversation.Conversation
	Messages []conversation.Message `json:"messages"`
}

func (a *API) getConversation(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, id string) {
	c, ok := a.load(ctx, op, id)
	if !ok {
		return
	}
	msgs, err := a.cfg.Reader.Messages(op.Tenant.ID, id, 0, 50)
	if err != nil {
		a.storeFailed(ctx, op, err)
		return
	}
	reverse(msgs)
	maskConversation(op, &c)
	a.writeJSON(ctx, fasthttp.StatusOK, conversationView{Conversation: c, Messages: nonNil(msgs)})
}

func (a *API) listMessages(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, id string) {
	if _, ok := a.load(ctx, op, id); !ok {
		return
	}
	args := ctx.QueryArgs()
	var before uint64
	if b := args.Peek("before"); len(b) > 0 {
		n, err := strconv.ParseUint(string(b), 10, 64)
		if err != nil {
			fail(ctx, codeInvalidBefore, "before must be a message sequence number")
			return
		}
		before = n
	}
	limit, ok := queryLimit(ctx, 50)
	if !ok {
		return
	}
	msgs, err := a.cfg.Reader.Messages(op.Tenant.ID, id, before, limit)
	if err != nil {
		a.storeFailed(ctx, op, err)
		return
	}
	reverse(msgs)
	a.writeJSON(ctx, fasthttp.StatusOK, struct {
		Messages []conversation.Message `json:"messages"`
	}{nonNil(msgs)})
}

func (a *API) load(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, id string) (conversation.Conversation, bool) {
	if !conversation.ValidID(id) { // no conversation has it: no read needed
		fail(ctx, conversation.CodeNotFound, "no conversation "+quoteID(id))
		return conversation.Conversation{}, false
	}
	c, err := a.cfg.Reader.Conversation(op.Tenant.ID, id)
	if errors.Is(err, ErrNotFound) {
		fail(ctx, conversation.CodeNotFound, "no conversation "+quoteID(id))
		return c, false
	}
	if err != nil {
		a.storeFailed(ctx, op, err)
		return c, false
	}
	normalise(&c)
	return c, true
}

func normalise(c *conversation.Conversation) {
	if c.Labels == nil {
		c.Labels = []string{}
	}
}

func nonNil(m []conversation.Message) []conversation.Message {
	if m == nil {
		return []conversation.Message{}
	}
	return m
}

func reverse(m []conversation.Message) {
	for i, j := 0, len(m)-1; i < j; i, j = i+1, j-1 {
		m[i], m[j] = m[j], m[i]
	}
}

// storeFailed answers a failed read 503 store_unavailable with a fixed message and logs the error: its text (store
// paths, keys) is for the operator of the node, not for the client.
func (a *API) storeFailed(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, err error) {
	a.log.Error("read state", "tenant", op.Tenant.ID, "path", string(ctx.Path()), "err", err)
	fail(ctx, codeStoreUnavailable, "the state could not be read; retry later")
}

// queryLimit is the query's limit (1 to 500), def when absent; it answers invalid_limit and reports false for any
// other value.
func queryLimit(ctx *fasthttp.RequestCtx, def int) (int, bool) {
	l := ctx.QueryArgs().Peek("limit")
	if len(l) == 0 {
		return def, true
	}
	n, err := strconv.Atoi(string(l))
	if err != nil || n < 1 || n > 500 {
		fail(ctx, codeInvalidLimit, "limit must be a number from 1 to 500")
		return 0, false
	}
	return n, true
}
