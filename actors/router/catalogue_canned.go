package router

// The canned-response side of the tenant's catalogue: canned_create, canned_update and canned_delete commands
// change the stored canned responses by the rules of actors/canned, with a canned.changed event in the same batch.
// The outcome is published and the item finished once the batch is durable.

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/anthdm/hollywood/actor"

	"github.com/switchboard-hq/switchboard/actors/canned"
	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

func init() { catalogueHandlers["canned_"] = (*catalogueActor).canned }

// canned applies a canned_* command: the catalogue's canned response handler. It reads and writes the store only,
// and finishes the item (publishing the outcome: the response after the change, or for a delete
// {"id","deleted":true}) once its batch is durable, or at once when nothing changes.
func (a *catalogueActor) canned(_ *actor.Context, m *catalogueMsg) error {
	cmd := m.item.Command
	if cmd.Canned == nil {
		a.r.metrics.commandsBy.Get([2]string{cmd.Type, canned.CodeInvalid}).Inc()
		a.finish(m, outcome.Result{Code: canned.CodeInvalid, Message: cmd.Type + " without a canned response"})
		return nil
	}
	res, events, b, err := a.r.changeCanned(a.tenant, cmd, m.role, m.pos, m.at)
	if err != nil {
		return fmt.Errorf("apply canned responses: %w", err)
	}
	code := res.Code
	if code == "" {
		code = "ok"
	}
	a.r.metrics.commandsBy.Get([2]string{cmd.Type, code}).Inc()
	if b == nil {
		a.finish(m, res)
		return nil
	}
	return a.commit(b, m, res, events)
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
	r.metrics.eventsBy.Get(canned.EventChanged).Inc()
	return res, 1, b, nil
}

// cannedBody is what a canned command answers: the response, or for a delete its id.
func cannedBody(r *canned.Response) any {
	if r.Deleted {
		return map[string]any{"id": r.ID, "deleted": true}
	}
	return r
}
