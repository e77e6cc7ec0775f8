package api

// The audit log (README "Audit log"): GET /v1/audit pages a tenant's entries newest first, for admins; and
// recordDenied, which puts an action the API refused (a 403) in the log through the tenant's partition (an audit
// command the tenant actor stores: actors/router/audit.go).

import (
	"context"
	"errors"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/audit"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// AuditReader reads a tenant's audit log.
type AuditReader interface {
	// Audit returns a page of tenant's audit log, newest first, and the cursor of the next page ("" at the end); an
	// error wrapping ErrBadCursor for a cursor it did not make.
	Audit(tenant string, q AuditQuery) ([]audit.Entry, string, error)
}

// AuditQuery selects entries for AuditReader.Audit: at in [From, To) (zero: unbounded), by Actor, of Action (an
// action, or its prefix ending in "." such as "channel."), after Cursor, at most Limit.
type AuditQuery struct {
	From, To      time.Time
	Actor, Action string
	Cursor        string
	Limit         int
}

// maxDeniedTarget bounds the request path an access.denied entry records.
const maxDeniedTarget = 200

// listAudit answers GET /v1/audit (admins: audit.read, permissions.go).
func (a *API) listAudit(ctx *fasthttp.RequestCtx, op tenant.OperatorRef) {
	rd, ok := a.cfg.Reader.(AuditReader)
	if !ok {
		fail(ctx, codeNotFound, "this node keeps no audit log")
		return
	}
	args := ctx.QueryArgs()
	q := AuditQuery{Actor: string(args.Peek("actor")), Action: string(args.Peek("action")),
		Cursor: string(args.Peek("cursor")), Limit: 50}
	for _, p := range []struct {
		name string
		dst  *time.Time
		code string
	}{{"from", &q.From, codeInvalidFrom}, {"to", &q.To, codeInvalidTo}} {
		if v := string(args.Peek(p.name)); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				fail(ctx, p.code, p.name+" must be an RFC 3339 time such as 2026-12-01T00:00:00Z")
				return
			}
			*p.dst = t
		}
	}
	if q.Limit, ok = queryLimit(ctx, q.Limit); !ok {
		return
	}
	if len(q.Actor) > 64 || len(q.Action) > 64 {
		fail(ctx, codeInvalidFilter, "actor and action are at most 64 characters")
		return
	}
	entries, next, err := rd.Audit(op.Tenant.ID, q)
	if err != nil {
		a.pageFailed(ctx, op, err)
		return
	}
	if entries == nil {
		entries = []audit.Entry{}
	}
	a.writeJSON(ctx, fasthttp.StatusOK, struct {
		Entries    []audit.Entry `json:"entries"`
		NextCursor string        `json:"next_cursor,omitempty"`
	}{entries, next})
}

// recordDenied puts the caller's refused request, target (the route: "PATCH /v1/settings"), in the tenant's audit
// log as access.denied: an audit command on the tenant's partition, which the tenant actor stores with its
// audit.recorded event. Reads (GET) refused are not recorded, only attempts to change something. It waits for the
// command to be queued, not applied; a failure to queue is logged and the refusal answered anyway (the caller
// changed nothing). The permissions' denied hook calls it.
func (a *API) recordDenied(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, target string) {
	if ctx.IsGet() || ctx.IsHead() || a.cfg.Producer == nil {
		return
	}
	if len(target) > maxDeniedTarget {
		target = target[:maxDeniedTarget]
	}
	cmd := inbox.Command{RequestID: newID(), Type: inbox.CmdAudit, OperatorID: op.Operator.ID,
		Audit: &inbox.AuditInput{Action: audit.ActionAccessDenied, Target: target}}
	rec := inbox.Record{Tenant: op.Tenant.ID, IngestAt: a.cfg.Now().UnixMilli(),
		Items: []inbox.Item{{Kind: inbox.KindCommand, Command: &cmd}}}
	pctx, cancel := context.WithTimeout(context.Background(), a.cfg.CommandTimeout)
	defer cancel()
	if err := a.cfg.Producer.Produce(pctx, []inbox.Record{rec}); err != nil {
		a.log.Warn("audit: queue access.denied", "tenant", op.Tenant.ID, "operator", op.Operator.ID, "err", err)
	}
}

// pageFailed answers a paged read's error: invalid_cursor for a cursor the listing did not make (ErrBadCursor), else
// the store's failure.
func (a *API) pageFailed(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, err error) {
	if errors.Is(err, ErrBadCursor) {
		fail(ctx, codeInvalidCursor, "cursor is not one this listing returned")
		return
	}
	a.storeFailed(ctx, op, err)
}
