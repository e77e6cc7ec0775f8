package router

// The canned-response side of the tenant's catalogue: canned_create, canned_update and canned_delete commands
// change the stored canned responses by the rules of actors/canned, with a canned.changed event in the same batch.
// The outcome is published and the item finished once the batch is durable.

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/switchboard-hq/switchboard/actors/canned"
	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// applyCanned applies a canned_* command of tenant at pos, by an operator of role. It is the catalogue's canned
// response handler: it reads and writes the store only, and finishes the item (publishing the outcome: the
// response after the change, or for a delete {"id","deleted":true}) once its batch is durable, or at once when
// nothing changes.
func (r *Router) applyCanned(tenant string, cmd *inbox.Command, role string, pos conversation.Position, at time.Time, ack *recordAck) {
	finish := func(res outcome.Result) {
		r.cfg.Outcomes.Publish(cmd.RequestID, res)
		ack.itemDone()
	}
	if cmd.Canned == nil {
		r.metrics.commands.WithLabelValues(cmd.Type, canned.CodeInvalid).Inc()
		finish(outcome.Result{Code: canned.CodeInvalid, Message: cmd.Type + " without a canned response"})
		return
	}
	res, events, b, err := r.changeCanned(tenant, cmd, role, pos, at)
	if err != nil {
		r.fail(fmt.Errorf("apply canned responses of tenant %s: %w", tenant, err))
		return
	}
	code := res.Code
	if code == "" {
		code = "ok"
	}
	r.metrics.commands.WithLabelValues(cmd.Type, code).Inc()
	if b == nil {
		finish(res)
		return
	}
	if err := r.cfg.Store.Commit(b, func(err error) {
		if err != nil {
			r.fail(fmt.Errorf("persist canned responses of tenant %s: %w", tenant, err))
			return
		}
		if relay := r.cfg.Relay; relay != nil && events > 0 {
			relay.Notify()
		}
		finish(res)
	}); err != nil {
		r.fail(fmt.Errorf("commit canned responses of tenant %s: %w", tenant, err))
	}
}

// changeCanned decides a canned_* command: its outcome, and the batch holding the change and its event (nil when
// nothing is to be written).
func (r *Router) changeCanned(tenant string, cmd *inbox.Command, role string, pos conversation.Position, at time.Time) (outcome.Result, int, *store.Batch, error) {
	id := cmd.Canned.ID
	var prev *canned.Response
	if canned.ValidID(id) {
		stored, err := r.cfg.Store.Canned(tenant, id)
		switch {
		case err == nil:
			prev = &stored
		case !errors.Is(err, store.ErrNotFound):
			return outcome.Result{}, 0, nil, err
		}
	}
	count := 0
	if cmd.Type == canned.Create && prev == nil {
		n, err := r.cfg.Store.CountCanned(tenant)
		if err != nil {
			return outcome.Result{}, 0, nil, err
		}
		count = n
	}
	next, ev, err := canned.Apply(prev, count, tenant, canned.Command{Type: cmd.Type, OperatorID: cmd.OperatorID,
		Role: role, Input: *cmd.Canned, At: at, Pos: pos})
	if err != nil {
		var rf *canned.Refusal
		if !errors.As(err, &rf) {
			return outcome.Result{}, 0, nil, err
		}
		return outcome.Result{Code: rf.Code, Message: rf.Message}, 0, nil, nil
	}
	res := outcome.Result{Body: cannedBody(next)}
	if ev == nil {
		return res, 0, nil, nil
	}
	b := r.cfg.Store.NewBatch()
	v, err := json.Marshal(ev)
	if err == nil {
		err = b.PutCanned(tenant, next)
	}
	if err == nil {
		err = b.PutOutbox(tenant, v)
	}
	if err != nil {
		b.Discard()
		return outcome.Result{}, 0, nil, err
	}
	r.metrics.events.WithLabelValues(canned.EventChanged).Inc()
	return res, 1, b, nil
}

// cannedBody is what a canned command answers: the response, or for a delete its id.
func cannedBody(r *canned.Response) any {
	if r.Deleted {
		return map[string]any{"id": r.ID, "deleted": true}
	}
	return r
}
