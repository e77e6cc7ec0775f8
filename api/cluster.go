package api

// Several nodes (README, "Several nodes"): a call for a tenant whose partition another node owns is forwarded to the
// owner over an internal call signed with the cluster secret (cluster.Sign); the owner verifies it, establishes the
// caller again from its own directory and answers 421 not_owner when it no longer owns the partition, and the
// forwarder then waits for its owner table to change and retries on the new owner (bounded).

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/api/cluster"
)

// Error codes of forwarding.
const (
	// codeNotOwner (421) answers a forward for a tenant whose partition this node does not own (any more).
	codeNotOwner = "not_owner"
	// codeForwardRefused (401) answers a forward whose signature is missing, old, replayed or wrong.
	codeForwardRefused = "forward_refused"
	// codeOwnerUnavailable (503, Retry-After) answers a call whose owner could not be reached after the retries.
	codeOwnerUnavailable = "owner_unavailable"
)

// ClusterConfig lets the API forward the calls of tenants other nodes own. Nil (the default) serves every call here.
type ClusterConfig struct {
	// Node is this node's id, as in its membership record. Required.
	Node string
	// Secret is the cluster secret every node shares (--cluster-secret). Required; never logged.
	Secret []byte
	// Owner is the current owner of the tenant's partition from the owner table; false when none is known (the
	// call is then served here, from what this node's store holds). Required.
	Owner func(tenant string) (cluster.Owner, bool)
	// Owns reports whether this node owns the tenant's partition now (restored and consuming). Required.
	Owns func(tenant string) bool
	// Changed is closed at the owner table's next change. Required.
	Changed func() <-chan struct{}
	// MaxAttempts bounds the owners one call is forwarded to (a 421 or an unreachable owner moves to the next).
	// Default 3.
	MaxAttempts int
	// Settle bounds the wait for the owner table to change after a 421 or an unreachable owner. Default 2 s.
	Settle time.Duration
	// Timeout bounds one forwarded call. Default Config.CommandTimeout + 5 s.
	Timeout time.Duration
	// MaxAge is how old a forward's signature may be. Default 30 s.
	MaxAge time.Duration
}

type clusterState struct {
	cfg      *ClusterConfig
	verifier *cluster.Verifier
	client   *fasthttp.Client
}

func newClusterState(c *ClusterConfig, commandTimeout time.Duration, now func() time.Time) (*clusterState, error) {
	if c == nil {
		return nil, nil
	}
	if c.Node == "" || len(c.Secret) == 0 || c.Owner == nil || c.Owns == nil || c.Changed == nil {
		return nil, errors.New("api: Cluster needs Node, Secret, Owner, Owns and Changed")
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = 3
	}
	if c.Settle == 0 {
		c.Settle = 2 * time.Second
	}
	if c.Timeout == 0 {
		c.Timeout = commandTimeout + 5*time.Second
	}
	return &clusterState{cfg: c, verifier: cluster.NewVerifier(c.Secret, c.MaxAge, now),
		client: &fasthttp.Client{Name: "switchboard-forward", MaxIdleConnDuration: time.Minute,
			ReadTimeout: c.Timeout, WriteTimeout: c.Timeout, DisablePathNormalizing: true,
			MaxResponseBodySize: 0}}, nil
}

// forwardedIdentity is HeaderIdentity's value: the session the forwarding node verified (CSRF included).
type forwardedIdentity struct {
	Tenant     string   `json:"tenant"`
	Operator   string   `json:"operator"`
	Credential [32]byte `json:"credential"`
}

// local reports whether this node serves tenant's calls itself.
func (a *API) local(tenantID string) bool {
	c := a.cluster
	if c == nil {
		return true
	}
	o, ok := c.cfg.Owner(tenantID)
	return !ok || o.Node == c.cfg.Node
}

// acceptForward authenticates a forwarded call: the signature, then the caller as the owner's own directory says
// (the bearer token it carries, or the verified session's operator and credential), then the ownership.
func (a *API) acceptForward(ctx *fasthttp.RequestCtx, header string) (tenant.OperatorRef, bool) {
	c := a.cluster
	if c == nil {
		fail(ctx, codeForwardRefused, "this node takes no forwarded calls")
		return tenant.OperatorRef{}, false
	}
	ident := string(ctx.Request.Header.Peek(cluster.HeaderIdentity))
	err := c.verifier.Verify(header, cluster.Signed{Method: string(ctx.Method()), RequestURI: string(ctx.RequestURI()),
		Body: ctx.PostBody(), Identity: ident, Authorization: string(ctx.Request.Header.Peek("Authorization")),
		From: string(ctx.Request.Header.Peek(cluster.HeaderFrom))})
	if err != nil {
		// The reason is for the node's operator; the caller learns only that it was refused. No secret is logged.
		a.log.Warn("forwarded call refused", "from", string(ctx.Request.Header.Peek(cluster.HeaderFrom)),
			"remote", ctx.RemoteIP().String(), "path", string(ctx.Path()), "reason", err)
		fail(ctx, codeForwardRefused, "the forwarded call is refused")
		return tenant.OperatorRef{}, false
	}
	var op tenant.OperatorRef
	var ok bool
	if ident != "" {
		var id forwardedIdentity
		if json.Unmarshal([]byte(ident), &id) != nil || id.Tenant == "" || id.Operator == "" {
			fail(ctx, codeForwardRefused, "the forwarded call is refused")
			return tenant.OperatorRef{}, false
		}
		if op, ok = a.sessionOperator(Session{Tenant: id.Tenant, Operator: id.Operator, Credential: id.Credential}); !ok {
			fail(ctx, codeUnauthorized, "the session is unknown or expired: sign in")
			return tenant.OperatorRef{}, false
		}
	} else if op, _, ok = a.authenticate(ctx); !ok {
		return tenant.OperatorRef{}, false
	}
	if !c.cfg.Owns(op.Tenant.ID) {
		fail(ctx, codeNotOwner, "this node does not own the tenant's partition")
		return tenant.OperatorRef{}, false
	}
	return op, true
}

// forward answers ctx from the owner of op's tenant when another node owns it; false when this node serves it.
func (a *API) forward(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, sess *Session) bool {
	c := a.cluster
	if c == nil {
		return false
	}
	var ident string
	if sess != nil {
		b, _ := json.Marshal(forwardedIdentity{Tenant: sess.Tenant, Operator: sess.Operator, Credential: sess.Credential})
		ident = string(b)
	}
	body := ctx.PostBody() // a streamed upload or import is read here: README, "Several nodes"
	bodyHash := sha256.Sum256(body)
	for attempt := 0; attempt < c.cfg.MaxAttempts; attempt++ {
		changed := c.cfg.Changed()
		o, ok := c.cfg.Owner(op.Tenant.ID)
		if !ok || o.Node == c.cfg.Node {
			return attempt > 0 && a.failOwner(ctx) // first: serve here; after a 421, this node became the owner
		}
		status, err := a.forwardTo(ctx, o, ident, body, bodyHash)
		if err == nil && status != fasthttp.StatusMisdirectedRequest {
			return true
		}
		a.log.Info("forward to the tenant's owner failed; waiting for the owner table", "tenant", op.Tenant.ID,
			"owner", o.Node, "status", status, "err", err)
		select {
		case <-changed:
		case <-time.After(c.cfg.Settle):
		case <-ctx.Done():
			return a.failOwner(ctx)
		}
	}
	return a.failOwner(ctx)
}

// failOwner answers 503 owner_unavailable: the partition is moving or its owner is down; the client retries.
func (a *API) failOwner(ctx *fasthttp.RequestCtx) bool {
	ctx.Response.Header.Set("Retry-After", "1")
	fail(ctx, codeOwnerUnavailable, "the node owning this tenant could not answer; retry")
	return true
}

// forwardTo makes the call on o and, unless o answered 421, copies its answer into ctx.
func (a *API) forwardTo(ctx *fasthttp.RequestCtx, o cluster.Owner, ident string, body []byte, bodyHash [32]byte) (int, error) {
	c := a.cluster
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	ctx.Request.Header.CopyTo(&req.Header)
	// The cookie is this node's session (meaningless to the owner, and a credential: it stays here); the CSRF token
	// was checked here; forwarding headers come only from the signer.
	for _, h := range []string{"Cookie", "X-CSRF-Token", "Connection", "Transfer-Encoding", cluster.HeaderForward,
		cluster.HeaderIdentity, cluster.HeaderFrom} {
		req.Header.Del(h)
	}
	uri := string(ctx.RequestURI())
	req.SetRequestURI(strings.TrimSuffix(o.URL, "/") + uri)
	req.Header.SetHostBytes(req.URI().Host())
	req.Header.SetMethodBytes(ctx.Method())
	req.SetBodyRaw(body)
	if ident != "" {
		req.Header.Set(cluster.HeaderIdentity, ident)
	}
	req.Header.Set(cluster.HeaderFrom, c.cfg.Node)
	req.Header.Set(cluster.HeaderForward, cluster.Sign(c.cfg.Secret, cluster.Signed{Method: string(ctx.Method()),
		RequestURI: uri, BodyHash: bodyHash, Identity: ident, Authorization: string(req.Header.Peek("Authorization")),
		From: c.cfg.Node}, a.cfg.Now()))
	if err := c.client.DoTimeout(req, resp, c.cfg.Timeout); err != nil {
		return 0, err
	}
	if resp.StatusCode() == fasthttp.StatusMisdirectedRequest {
		return resp.StatusCode(), nil
	}
	ctx.Response.Reset()
	resp.Header.CopyTo(&ctx.Response.Header)
	ctx.Response.Header.Del("Connection")
	ctx.Response.SetBody(resp.Body())
	return resp.StatusCode(), nil
}

// forwardedCounts wraps the stream's counts: a tenant owned elsewhere gets its counts from the owner (an internal
// GET /v1/inbox/counts carrying the operator as its identity), so a stream served here shows the owner's figures.
func (a *API) forwardedCounts(local func(tenant, operator string) (any, error)) func(tenant, operator string) (any, error) {
	return func(tenantID, operator string) (any, error) {
		if a.local(tenantID) {
			return local(tenantID, operator)
		}
		c := a.cluster
		var lastErr error
		for attempt := 0; attempt < c.cfg.MaxAttempts; attempt++ {
			o, ok := c.cfg.Owner(tenantID)
			if !ok || o.Node == c.cfg.Node {
				return local(tenantID, operator)
			}
			raw, err := a.countsFrom(o, tenantID, operator)
			if err == nil {
				return raw, nil
			}
			lastErr = err
			select {
			case <-c.cfg.Changed():
			case <-time.After(c.cfg.Settle):
			}
		}
		return nil, lastErr
	}
}

func (a *API) countsFrom(o cluster.Owner, tenantID, operator string) (json.RawMessage, error) {
	c := a.cluster
	op, ok := a.operator(tenantID, operator)
	if !ok {
		return nil, errors.New("no such operator")
	}
	// The operator's current credential: the owner accepts a zero one as "any credential of the operator", which
	// only a signed forward can claim.
	b, _ := json.Marshal(forwardedIdentity{Tenant: op.Tenant.ID, Operator: op.Operator.ID})
	ident := string(b)
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	const uri = "/v1/inbox/counts"
	req.SetRequestURI(strings.TrimSuffix(o.URL, "/") + uri)
	req.Header.SetMethod(fasthttp.MethodGet)
	req.Header.Set(cluster.HeaderIdentity, ident)
	req.Header.Set(cluster.HeaderFrom, c.cfg.Node)
	req.Header.Set(cluster.HeaderForward, cluster.Sign(c.cfg.Secret, cluster.Signed{Method: fasthttp.MethodGet,
		RequestURI: uri, Identity: ident, From: c.cfg.Node}, a.cfg.Now()))
	if err := c.client.DoTimeout(req, resp, c.cfg.Timeout); err != nil {
		return nil, err
	}
	if resp.StatusCode() != fasthttp.StatusOK {
		return nil, errors.New("the owner answered " + fasthttp.StatusMessage(resp.StatusCode()))
	}
	return json.RawMessage(append([]byte(nil), resp.Body()...)), nil
}
