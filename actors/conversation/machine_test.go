package conversation

// Table tests of the state machine: Receive, ApplyCommand, Assign, FireTimer, AssignsTo. Fixtures are built by the
// machine itself, so they are states it can reach.

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// smT0 is the time the fixtures start from; smCustomer writes from smChannel.
var smT0 = time.Unix(1_760_000_000, 0).UTC()

const (
	smTenant   = "acme"
	smChannel  = "acme-wa"
	smCustomer = "15550001111"
)

// smIn is a customer message of type typ with channel time ts, ingested at at.
func smIn(id, typ string, ts, at time.Time) Inbound {
	return Inbound{
		TenantID:  smTenant,
		ChannelID: smChannel,
		Message:   &inbox.Message{ID: id, From: smCustomer, Type: typ, Timestamp: ts.Unix(), Text: "text of " + id},
		At:        at,
	}
}

func smAt(d time.Duration) time.Time { return smT0.Add(d) }

// smMust checks a step that must succeed and change the conversation: smMust(t)(ApplyCommand(...)).
func smMust(t *testing.T) func(Conversation, []Effect, error) Conversation {
	return func(c Conversation, effects []Effect, err error) Conversation {
		t.Helper()
		if err != nil {
			t.Fatalf("unexpected refusal: %v", err)
		}
		if len(effects) == 0 {
			t.Fatal("step changed nothing")
		}
		return c
	}
}

// Fixtures, each reached from the previous ones at increasing times.
func smUnassigned(t *testing.T) Conversation {
	c, _, _ := Receive(Conversation{}, smIn("wamid.1", "text", smT0, smAt(time.Second)), Policy{})
	return c
}

func smAssigned(t *testing.T, op string) Conversation {
	c, e, err := Assign(smUnassigned(t), op, Policy{}, smAt(time.Minute))
	return smMust(t)(c, e, err)
}

func smSnoozed(t *testing.T, op string) Conversation {
	c := smUnassigned(t)
	if op != "" {
		c = smAssigned(t, op)
	}
	c, e, err := ApplyCommand(c, Command{Type: CmdSnooze, OperatorID: "zed", Role: "admin", Until: smAt(5 * time.Hour)}, Policy{}, smAt(2*time.Minute))
	return smMust(t)(c, e, err)
}

func smClosed(t *testing.T) Conversation {
	c, e, err := ApplyCommand(smAssigned(t, "alice"), Command{Type: CmdClose, OperatorID: "alice"}, Policy{}, smAt(3*time.Minute))
	return smMust(t)(c, e, err)
}

func smEventTypes(effects []Effect) []string {
	var out []string
	for _, e := range effects {
		if e.Event != nil {
			out = append(out, e.Event.Type)
		}
	}
	return out
}

func smEvents(effects []Effect) []*Event {
	var out []*Event
	for _, e := range effects {
		if e.Event != nil {
			out = append(out, e.Event)
		}
	}
	return out
}

func smStored(effects []Effect) []*Message {
	var out []*Message
	for _, e := range effects {
		if e.Message != nil {
			out = append(out, e.Message)
		}
	}
	return out
}

func smText(s string) *Outbound { return &Outbound{Type: "text", Text: s} }

func smTemplate() *Outbound {
	return &Outbound{Type: "template", Template: &Template{Name: "follow_up", Language: "en", Params: []string{"Ana"}}}
}

func TestCommandTransitions(t *testing.T) {
	now := smAt(10 * time.Minute)
	for _, tc := range []struct {
		name     string
		from     func(*testing.T) Conversation
		cmd      Command
		policy   Policy
		status   Status
		assignee string
		events   []string // nil: a no-op, the conversation is unchanged
		check    func(t *testing.T, prev, c Conversation, evs []*Event)
	}{
		{
			name: "take unassigned", from: smUnassigned,
			cmd:    Command{Type: CmdTake, OperatorID: "bob", Role: "operator"},
			status: Assigned, assignee: "bob", events: []string{EventAssigned},
			check: func(t *testing.T, prev, c Conversation, evs []*Event) {
				if !c.AssignedAt.Equal(now) || c.LastOperatorID != "bob" || !c.WaitingSince.IsZero() {
					t.Errorf("assigned at %v, last %q, waiting since %v", c.AssignedAt, c.LastOperatorID, c.WaitingSince)
				}
				if want := now.Sub(prev.WaitingSince).Seconds(); evs[0].WaitSeconds != want || evs[0].OperatorID != "bob" {
					t.Errorf("event %+v, want wait %v for bob", evs[0], want)
				}
			},
		},
		{
			name: "attend is take", from: smUnassigned,
			cmd:    Command{Type: CmdAttend, OperatorID: "bob"},
			status: Assigned, assignee: "bob", events: []string{EventAssigned},
		},
		{
			name: "take own is a no-op", from: func(t *testing.T) Conversation { return smAssigned(t, "bob") },
			cmd:    Command{Type: CmdTake, OperatorID: "bob", Role: "operator"},
			status: Assigned, assignee: "bob",
		},
		{
			name: "admin takes over", from: func(t *testing.T) Conversation { return smAssigned(t, "alice") },
			cmd:    Command{Type: CmdTake, OperatorID: "root", Role: "admin"},
			status: Assigned, assignee: "root", events: []string{EventTransferred},
			check: func(t *testing.T, prev, c Conversation, evs []*Event) {
				e := evs[0]
				if e.PreviousOperatorID != "alice" || e.OperatorID != "root" || e.ActorID != "root" {
					t.Errorf("event %+v", e)
				}
				if want := now.Sub(prev.AssignedAt).Seconds(); e.HandlingSeconds != want {
					t.Errorf("handling %v, want %v", e.HandlingSeconds, want)
				}
			},
		},
		{
			name: "operator takes over when the policy allows operators", from: func(t *testing.T) Conversation { return smAssigned(t, "alice") },
			cmd:    Command{Type: CmdTake, OperatorID: "bob", Role: "operator"},
			policy: Policy{TakeoverRoles: []string{"operator"}},
			status: Assigned, assignee: "bob", events: []string{EventTransferred},
		},
		{
			name: "admin assigns unassigned", from: smUnassigned,
			cmd:    Command{Type: CmdAssign, OperatorID: "root", Role: "admin", TargetID: "carol"},
			status: Assigned, assignee: "carol", events: []string{EventAssigned},
			check: func(t *testing.T, _, _ Conversation, evs []*Event) {
				if evs[0].OperatorID != "carol" || evs[0].ActorID != "root" || evs[0].AssigneeID != "carol" {
					t.Errorf("event %+v", evs[0])
				}
			},
		},
		{
			name: "builder reassigns", from: func(t *testing.T) Conversation { return smAssigned(t, "alice") },
			cmd:    Command{Type: CmdAssign, OperatorID: "b", Role: "builder", TargetID: "carol"},
			status: Assigned, assignee: "carol", events: []string{EventTransferred},
		},
		{
			name: "assign to the assignee is a no-op", from: func(t *testing.T) Conversation { return smAssigned(t, "alice") },
			cmd:    Command{Type: CmdAssign, OperatorID: "root", Role: "admin", TargetID: "alice"},
			status: Assigned, assignee: "alice",
		},
		{
			name: "assignee transfers", from: func(t *testing.T) Conversation { return smAssigned(t, "alice") },
			cmd:    Command{Type: CmdTransfer, OperatorID: "alice", Role: "operator", TargetID: "bob"},
			status: Assigned, assignee: "bob", events: []string{EventTransferred},
			check: func(t *testing.T, _, c Conversation, evs []*Event) {
				if c.LastOperatorID != "bob" || !c.AssignedAt.Equal(now) || c.RepliedSinceAssigned {
					t.Errorf("after transfer: %+v", c)
				}
			},
		},
		{
			name: "admin transfers another's", from: func(t *testing.T) Conversation { return smAssigned(t, "alice") },
			cmd:    Command{Type: CmdTransfer, OperatorID: "root", Role: "admin", TargetID: "bob"},
			status: Assigned, assignee: "bob", events: []string{EventTransferred},
		},
		{
			name: "assignee unassigns", from: func(t *testing.T) Conversation { return smAssigned(t, "alice") },
			cmd:    Command{Type: CmdUnassign, OperatorID: "alice", Role: "operator"},
			status: Unassigned, events: []string{EventUnassigned},
			check: func(t *testing.T, _, c Conversation, evs []*Event) {
				if !c.WaitingSince.Equal(now) || c.LastOperatorID != "alice" || !c.AssignedAt.IsZero() {
					t.Errorf("after unassign: %+v", c)
				}
				if evs[0].PreviousOperatorID != "alice" || evs[0].Sticky {
					t.Errorf("event %+v", evs[0])
				}
			},
		},
		{
			name: "admin unassigns another's", from: func(t *testing.T) Conversation { return smAssigned(t, "alice") },
			cmd:    Command{Type: CmdUnassign, OperatorID: "root", Role: "admin"},
			status: Unassigned, events: []string{EventUnassigned},
		},
		{
			name: "anyone closes unassigned", from: smUnassigned,
			cmd:    Command{Type: CmdClose, OperatorID: "bob", Role: "operator"},
			status: Closed, events: []string{EventClosed},
			check: func(t *testing.T, _, c Conversation, evs []*Event) {
				if evs[0].HandlingSeconds != 0 || evs[0].PreviousOperatorID != "" {
					t.Errorf("closing an unassigned conversation ends no handling: %+v", evs[0])
				}
			},
		},
		{
			name: "assignee closes", from: func(t *testing.T) Conversation { return smAssigned(t, "alice") },
			cmd:    Command{Type: CmdClose, OperatorID: "alice", Role: "operator"},
			status: Closed, events: []string{EventClosed},
			check: func(t *testing.T, prev, c Conversation, evs []*Event) {
				if c.LastOperatorID != "alice" || c.Timers != (Timers{}) {
					t.Errorf("after close: last %q timers %+v", c.LastOperatorID, c.Timers)
				}
				if want := now.Sub(prev.AssignedAt).Seconds(); evs[0].HandlingSeconds != want || evs[0].PreviousOperatorID != "alice" {
					t.Errorf("event %+v, want handling %v by alice", evs[0], want)
				}
			},
		},
		{
			name: "close snoozed", from: func(t *testing.T) Conversation { return smSnoozed(t, "alice") },
			cmd:    Command{Type: CmdClose, OperatorID: "alice"},
			status: Closed, events: []string{EventClosed},
			check: func(t *testing.T, _, c Conversation, _ []*Event) {
				if !c.SnoozedUntil.IsZero() {
					t.Errorf("snoozed until %v after close", c.SnoozedUntil)
				}
			},
		},
		{
			name: "reopen closed", from: smClosed,
			cmd:    Command{Type: CmdReopen, OperatorID: "bob"},
			policy: Policy{ReopenTo: ReopenToLastOperator},
			status: Unassigned, events: []string{EventReopened},
			check: func(t *testing.T, _, c Conversation, evs []*Event) {
				if !c.CycleStartedAt.Equal(now) || !c.WaitingSince.Equal(now) || !c.FirstResponseAt.IsZero() || c.LastOperatorID != "alice" {
					t.Errorf("after reopen: %+v", c)
				}
				if !evs[0].Sticky || evs[0].PreviousOperatorID != "alice" || evs[0].OperatorID != "bob" {
					t.Errorf("event %+v", evs[0])
				}
			},
		},
		{
			name: "snooze assigned keeps the assignee", from: func(t *testing.T) Conversation { return smAssigned(t, "alice") },
			cmd:    Command{Type: CmdSnooze, OperatorID: "alice", Until: smAt(48 * time.Hour)},
			status: Snoozed, assignee: "alice", events: []string{EventSnoozed},
			check: func(t *testing.T, _, c Conversation, _ []*Event) {
				if !c.SnoozedUntil.Equal(smAt(48*time.Hour)) || !c.Timers.SnoozeWake.Equal(smAt(48*time.Hour)) {
					t.Errorf("snoozed until %v, wake %v", c.SnoozedUntil, c.Timers.SnoozeWake)
				}
			},
		},
		{
			name: "snooze until the customer writes", from: smUnassigned,
			cmd:    Command{Type: CmdSnooze, OperatorID: "bob"},
			status: Snoozed, events: []string{EventSnoozed},
			check: func(t *testing.T, _, c Conversation, _ []*Event) {
				if !c.SnoozedUntil.IsZero() || !c.Timers.SnoozeWake.IsZero() || !c.WaitingSince.IsZero() {
					t.Errorf("after snooze: %+v", c)
				}
			},
		},
		{
			name: "snooze again moves the wake-up", from: func(t *testing.T) Conversation { return smSnoozed(t, "alice") },
			cmd:    Command{Type: CmdSnooze, OperatorID: "alice", Until: smAt(time.Hour)},
			status: Snoozed, assignee: "alice", events: []string{EventSnoozed},
		},
		{
			name: "snooze again to the same time is a no-op", from: func(t *testing.T) Conversation { return smSnoozed(t, "alice") },
			cmd:    Command{Type: CmdSnooze, OperatorID: "alice", Until: smAt(5 * time.Hour)},
			status: Snoozed, assignee: "alice",
		},
		{
			name: "unsnooze back to the assignee", from: func(t *testing.T) Conversation { return smSnoozed(t, "alice") },
			cmd:    Command{Type: CmdUnsnooze, OperatorID: "alice"},
			status: Assigned, assignee: "alice", events: []string{EventUnsnoozed},
			check: func(t *testing.T, prev, c Conversation, evs []*Event) {
				if !c.AssignedAt.Equal(prev.AssignedAt) || !c.SnoozedUntil.IsZero() || evs[0].OperatorID != "alice" {
					t.Errorf("after unsnooze: %+v / %+v", c, evs[0])
				}
			},
		},
		{
			name: "unsnooze back to the queue", from: func(t *testing.T) Conversation { return smSnoozed(t, "") },
			cmd:    Command{Type: CmdUnsnooze, OperatorID: "bob"},
			status: Unassigned, events: []string{EventUnsnoozed},
			check: func(t *testing.T, _, c Conversation, _ []*Event) {
				if !c.WaitingSince.Equal(now) {
					t.Errorf("waiting since %v, want %v", c.WaitingSince, now)
				}
			},
		},
		{
			name: "labels sorted and deduped", from: smUnassigned,
			cmd:    Command{Type: CmdLabels, OperatorID: "bob", AddLabels: []string{"vip", "billing", "vip", "a-b_c"}, RemoveLabels: []string{"none"}},
			status: Unassigned, events: []string{EventLabelsChanged},
			check: func(t *testing.T, prev, c Conversation, evs []*Event) {
				want := []string{"a-b_c", "billing", "vip"}
				if !slices.Equal(c.Labels, want) || !slices.Equal(evs[0].Labels, want) {
					t.Errorf("labels %v, event %v; want %v", c.Labels, evs[0].Labels, want)
				}
				if !c.LastActivityAt.Equal(prev.LastActivityAt) {
					t.Error("a label change counted as activity")
				}
			},
		},
		{
			name: "labels on a closed conversation, removal wins", from: smClosed,
			cmd:    Command{Type: CmdLabels, OperatorID: "bob", AddLabels: []string{"x", "y"}, RemoveLabels: []string{"y"}},
			status: Closed, events: []string{EventLabelsChanged},
			check: func(t *testing.T, _, c Conversation, _ []*Event) {
				if !slices.Equal(c.Labels, []string{"x"}) {
					t.Errorf("labels %v", c.Labels)
				}
			},
		},
		{
			name: "labels unchanged is a no-op", from: smUnassigned,
			cmd:    Command{Type: CmdLabels, OperatorID: "bob", RemoveLabels: []string{"absent"}},
			status: Unassigned,
		},
		{
			name: "send text", from: func(t *testing.T) Conversation { return smAssigned(t, "alice") },
			cmd:    Command{Type: CmdSend, OperatorID: "alice", Message: smText("hello"), MessageID: "m-1"},
			status: Assigned, assignee: "alice", events: []string{EventMessageQueued},
			check: func(t *testing.T, prev, c Conversation, evs []*Event) {
				if c.AwaitingReply || !c.RepliedSinceAssigned || !c.FirstResponseAt.Equal(now) || !c.Timers.Reservation.IsZero() {
					t.Errorf("after send: %+v", c)
				}
				if want := now.Sub(prev.CycleStartedAt).Seconds(); evs[0].FirstResponseSeconds != want || evs[0].MessageID != "m-1" {
					t.Errorf("event %+v, want first response %v", evs[0], want)
				}
				if !c.WindowExpiresAt.Equal(prev.WindowExpiresAt) {
					t.Error("a reply moved the window")
				}
			},
		},
		{
			name: "supervisor sends into another's conversation", from: func(t *testing.T) Conversation { return smAssigned(t, "alice") },
			cmd:    Command{Type: CmdSend, OperatorID: "root", Role: "admin", Message: smTemplate(), MessageID: "m-1"},
			status: Assigned, assignee: "alice", events: []string{EventMessageQueued},
		},
		{
			name: "anyone sends into an unassigned conversation, which stays in the queue", from: smUnassigned,
			cmd:    Command{Type: CmdSend, OperatorID: "bob", Message: smText("hi"), MessageID: "m-1"},
			status: Unassigned, events: []string{EventMessageQueued},
			check: func(t *testing.T, _, c Conversation, _ []*Event) {
				if c.RepliedSinceAssigned {
					t.Error("replied since an assignment that did not happen")
				}
			},
		},
		{
			name: "send into a snoozed conversation leaves it snoozed", from: func(t *testing.T) Conversation { return smSnoozed(t, "alice") },
			cmd:    Command{Type: CmdSend, OperatorID: "alice", Message: smText("later"), MessageID: "m-1"},
			status: Snoozed, assignee: "alice", events: []string{EventMessageQueued},
		},
		{
			name: "note with mentions", from: func(t *testing.T) Conversation { return smAssigned(t, "alice") },
			cmd:    Command{Type: CmdNote, OperatorID: "alice", Note: "@bob and @carol-2, see mail@example.com; @bob @alice", MessageID: "n-1"},
			status: Assigned, assignee: "alice", events: []string{EventNoteCreated, EventMentioned, EventMentioned},
			check: func(t *testing.T, prev, c Conversation, evs []*Event) {
				if !slices.Equal(evs[0].Mentions, []string{"bob", "carol-2"}) {
					t.Errorf("mentions %v", evs[0].Mentions)
				}
				if evs[1].OperatorID != "bob" || evs[2].OperatorID != "carol-2" || evs[1].MessageID != "n-1" {
					t.Errorf("mention events %+v %+v", evs[1], evs[2])
				}
				if c.AwaitingReply != prev.AwaitingReply || !c.FirstResponseAt.IsZero() {
					t.Error("a private note counted as a reply")
				}
			},
		},
		{
			name: "note on a closed conversation", from: smClosed,
			cmd:    Command{Type: CmdNote, OperatorID: "bob", Note: "post-mortem", MessageID: "n-1"},
			status: Closed, events: []string{EventNoteCreated},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prev := tc.from(t)
			c, effects, err := ApplyCommand(prev, tc.cmd, tc.policy, now)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if c.Status != tc.status || c.AssigneeID != tc.assignee {
				t.Errorf("status %s assignee %q, want %s %q", c.Status, c.AssigneeID, tc.status, tc.assignee)
			}
			if tc.events == nil {
				if effects != nil || !reflect.DeepEqual(c, prev) {
					t.Errorf("a no-op changed something: effects %v", effects)
				}
				return
			}
			if got := smEventTypes(effects); !slices.Equal(got, tc.events) {
				t.Errorf("events %v, want %v", got, tc.events)
			}
			if c.Version != prev.Version+1 || !c.UpdatedAt.Equal(now) {
				t.Errorf("version %d -> %d, updated %v", prev.Version, c.Version, c.UpdatedAt)
			}
			if err := checkInvariants(c, tc.policy, now); err != nil {
				t.Error(err)
			}
			if tc.check != nil {
				tc.check(t, prev, c, smEvents(effects))
			}
		})
	}
}

func TestCommandRefusals(t *testing.T) {
	now := smAt(10 * time.Minute)
	assigned := func(t *testing.T) Conversation { return smAssigned(t, "alice") }
	snoozed := func(t *testing.T) Conversation { return smSnoozed(t, "alice") }
	for _, tc := range []struct {
		name   string
		from   func(*testing.T) Conversation
		cmd    Command
		policy Policy
		code   string
	}{
		{"no conversation", func(*testing.T) Conversation { return Conversation{} }, Command{Type: CmdTake, OperatorID: "bob"}, Policy{}, CodeNotFound},
		{"no actor", smUnassigned, Command{Type: CmdTake}, Policy{}, CodeInvalidOperator},
		{"unknown command", smUnassigned, Command{Type: "dance", OperatorID: "bob"}, Policy{}, CodeInvalidCommand},

		{"take closed", smClosed, Command{Type: CmdTake, OperatorID: "bob"}, Policy{}, CodeConversationClosed},
		{"take snoozed", snoozed, Command{Type: CmdTake, OperatorID: "bob", Role: "admin"}, Policy{}, CodeConversationSnoozed},
		{"take another's as operator", assigned, Command{Type: CmdTake, OperatorID: "bob", Role: "operator"}, Policy{}, CodeAlreadyAssigned},
		{"take another's without role", assigned, Command{Type: CmdTake, OperatorID: "bob"}, Policy{}, CodeAlreadyAssigned},
		{"take over when nobody may", assigned, Command{Type: CmdTake, OperatorID: "root", Role: "admin"}, Policy{TakeoverRoles: []string{}}, CodeAlreadyAssigned},

		{"assign as operator", smUnassigned, Command{Type: CmdAssign, OperatorID: "bob", Role: "operator", TargetID: "bob"}, Policy{}, CodeForbidden},
		{"assign without target", smUnassigned, Command{Type: CmdAssign, OperatorID: "root", Role: "admin"}, Policy{}, CodeInvalidOperator},
		{"assign closed", smClosed, Command{Type: CmdAssign, OperatorID: "root", Role: "admin", TargetID: "bob"}, Policy{}, CodeConversationClosed},
		{"assign snoozed", snoozed, Command{Type: CmdAssign, OperatorID: "root", Role: "admin", TargetID: "bob"}, Policy{}, CodeConversationSnoozed},

		{"transfer without target", assigned, Command{Type: CmdTransfer, OperatorID: "alice"}, Policy{}, CodeInvalidOperator},
		{"transfer unassigned", smUnassigned, Command{Type: CmdTransfer, OperatorID: "alice", TargetID: "bob"}, Policy{}, CodeNotAssigned},
		{"transfer snoozed", snoozed, Command{Type: CmdTransfer, OperatorID: "alice", TargetID: "bob"}, Policy{}, CodeNotAssigned},
		{"transfer closed", smClosed, Command{Type: CmdTransfer, OperatorID: "alice", TargetID: "bob"}, Policy{}, CodeConversationClosed},
		{"transfer another's", assigned, Command{Type: CmdTransfer, OperatorID: "bob", Role: "operator", TargetID: "bob"}, Policy{}, CodeForbidden},

		{"unassign unassigned", smUnassigned, Command{Type: CmdUnassign, OperatorID: "alice"}, Policy{}, CodeNotAssigned},
		{"unassign closed", smClosed, Command{Type: CmdUnassign, OperatorID: "alice"}, Policy{}, CodeConversationClosed},
		{"unassign another's", assigned, Command{Type: CmdUnassign, OperatorID: "bob", Role: "operator"}, Policy{}, CodeForbidden},

		{"close closed", smClosed, Command{Type: CmdClose, OperatorID: "alice"}, Policy{}, CodeAlreadyClosed},
		{"close another's", assigned, Command{Type: CmdClose, OperatorID: "bob", Role: "operator"}, Policy{}, CodeForbidden},
		{"close another's snoozed", snoozed, Command{Type: CmdClose, OperatorID: "bob"}, Policy{}, CodeForbidden},

		{"reopen unassigned", smUnassigned, Command{Type: CmdReopen, OperatorID: "bob"}, Policy{}, CodeNotClosed},
		{"reopen assigned", assigned, Command{Type: CmdReopen, OperatorID: "alice"}, Policy{}, CodeNotClosed},
		{"reopen snoozed", snoozed, Command{Type: CmdReopen, OperatorID: "alice"}, Policy{}, CodeNotClosed},

		{"snooze closed", smClosed, Command{Type: CmdSnooze, OperatorID: "alice", Until: smAt(48 * time.Hour)}, Policy{}, CodeSnoozeClosed},
		{"snooze until now", assigned, Command{Type: CmdSnooze, OperatorID: "alice", Until: now}, Policy{}, CodeInvalidUntil},
		{"snooze until the past", assigned, Command{Type: CmdSnooze, OperatorID: "alice", Until: now.Add(-time.Second)}, Policy{}, CodeInvalidUntil},
		{"snooze closed until the past: input first", smClosed, Command{Type: CmdSnooze, OperatorID: "alice", Until: smT0}, Policy{}, CodeInvalidUntil},
		{"snooze another's", assigned, Command{Type: CmdSnooze, OperatorID: "bob", Until: smAt(48 * time.Hour)}, Policy{}, CodeForbidden},

		{"unsnooze unassigned", smUnassigned, Command{Type: CmdUnsnooze, OperatorID: "bob"}, Policy{}, CodeNotSnoozed},
		{"unsnooze assigned", assigned, Command{Type: CmdUnsnooze, OperatorID: "alice"}, Policy{}, CodeNotSnoozed},
		{"unsnooze closed", smClosed, Command{Type: CmdUnsnooze, OperatorID: "alice"}, Policy{}, CodeNotSnoozed},
		{"unsnooze another's", snoozed, Command{Type: CmdUnsnooze, OperatorID: "bob", Role: "operator"}, Policy{}, CodeForbidden},

		{"label upper case", smUnassigned, Command{Type: CmdLabels, OperatorID: "bob", AddLabels: []string{"VIP"}}, Policy{}, CodeInvalidLabel},
		{"label empty", smUnassigned, Command{Type: CmdLabels, OperatorID: "bob", AddLabels: []string{""}}, Policy{}, CodeInvalidLabel},
		{"label too long", smUnassigned, Command{Type: CmdLabels, OperatorID: "bob", AddLabels: []string{strings.Repeat("a", 65)}}, Policy{}, CodeInvalidLabel},
		{"label with space to remove", smUnassigned, Command{Type: CmdLabels, OperatorID: "bob", RemoveLabels: []string{"a b"}}, Policy{}, CodeInvalidLabel},

		{"send nothing", assigned, Command{Type: CmdSend, OperatorID: "alice", MessageID: "m"}, Policy{}, CodeInvalidMessage},
		{"send empty text", assigned, Command{Type: CmdSend, OperatorID: "alice", Message: smText(""), MessageID: "m"}, Policy{}, CodeInvalidMessage},
		{"send blank text", assigned, Command{Type: CmdSend, OperatorID: "alice", Message: smText(" \n\t"), MessageID: "m"}, Policy{}, CodeInvalidMessage},
		{"send 4097 characters", assigned, Command{Type: CmdSend, OperatorID: "alice", Message: smText(strings.Repeat("é", 4097)), MessageID: "m"}, Policy{}, CodeInvalidMessage},
		{"send unknown type", assigned, Command{Type: CmdSend, OperatorID: "alice", Message: &Outbound{Type: "image"}, MessageID: "m"}, Policy{}, CodeInvalidMessage},
		{"send template without name", assigned, Command{Type: CmdSend, OperatorID: "alice", Message: &Outbound{Type: "template", Template: &Template{Language: "en"}}, MessageID: "m"}, Policy{}, CodeInvalidMessage},
		{"send template missing", assigned, Command{Type: CmdSend, OperatorID: "alice", Message: &Outbound{Type: "template"}, MessageID: "m"}, Policy{}, CodeInvalidMessage},
		{"send without message id", assigned, Command{Type: CmdSend, OperatorID: "alice", Message: smText("hi")}, Policy{}, CodeInvalidMessage},
		{"send to closed", smClosed, Command{Type: CmdSend, OperatorID: "alice", Message: smTemplate(), MessageID: "m"}, Policy{}, CodeConversationClosed},
		{"send into another's", assigned, Command{Type: CmdSend, OperatorID: "bob", Role: "operator", Message: smText("hi"), MessageID: "m"}, Policy{}, CodeForbidden},

		{"note empty", assigned, Command{Type: CmdNote, OperatorID: "alice", MessageID: "n"}, Policy{}, CodeInvalidMessage},
		{"note too long", assigned, Command{Type: CmdNote, OperatorID: "alice", Note: strings.Repeat("x", 4097), MessageID: "n"}, Policy{}, CodeInvalidMessage},
		{"note without message id", assigned, Command{Type: CmdNote, OperatorID: "alice", Note: "hi"}, Policy{}, CodeInvalidMessage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prev := tc.from(t)
			keep := cloneConversation(prev)
			c, effects, err := ApplyCommand(prev, tc.cmd, tc.policy, now)
			var r *Refusal
			if !errors.As(err, &r) {
				t.Fatalf("err = %v, want a *Refusal", err)
			}
			if r.Code != tc.code || r.Message == "" {
				t.Errorf("refusal %s (%q), want %s", r.Code, r.Message, tc.code)
			}
			if !errors.Is(err, &Refusal{Code: tc.code}) {
				t.Error("errors.Is does not match the code")
			}
			if effects != nil {
				t.Errorf("effects %v", effects)
			}
			if !reflect.DeepEqual(c, keep) || !reflect.DeepEqual(prev, keep) {
				t.Errorf("refusal changed the conversation:\n got %+v\nwant %+v", c, keep)
			}
		})
	}
}

// cloneConversation copies c deeply enough that a function writing through c's slices shows up as a difference.
func cloneConversation(c Conversation) Conversation {
	c.Labels = slices.Clone(c.Labels)
	c.ReadBy = maps.Clone(c.ReadBy)
	c.MentionMarks = maps.Clone(c.MentionMarks)
	if c.LastMessage != nil {
		lm := *c.LastMessage
		c.LastMessage = &lm
	}
	return c
}

func TestAssignRoutingDecision(t *testing.T) {
	p := Policy{ReservationTimeout: 5 * time.Minute, AutoCloseAfter: time.Hour}
	c0, _, _ := Receive(Conversation{}, smIn("wamid.1", "text", smT0, smAt(time.Second)), p)
	at := smAt(90 * time.Second)
	c, effects, err := Assign(c0, "alice", p, at)
	if err != nil {
		t.Fatal(err)
	}
	evs := smEvents(effects)
	if c.Status != Assigned || c.AssigneeID != "alice" || len(evs) != 1 || evs[0].Type != EventAssigned {
		t.Fatalf("after Assign: %s %s %v", c.Status, c.AssigneeID, smEventTypes(effects))
	}
	if evs[0].ActorID != "" || evs[0].OperatorID != "alice" || evs[0].WaitSeconds != 89 {
		t.Errorf("event %+v", evs[0])
	}
	if want := at.Add(5 * time.Minute); !c.Timers.Reservation.Equal(want) {
		t.Errorf("reservation %v, want %v", c.Timers.Reservation, want)
	}
	if want := at.Add(time.Hour); !c.Timers.AutoClose.Equal(want) {
		t.Errorf("auto-close %v, want %v (assignment is activity)", c.Timers.AutoClose, want)
	}
	for _, tc := range []struct {
		name string
		c    Conversation
		op   string
		code string
	}{
		{"assigned", c, "bob", CodeNotUnassigned},
		{"closed", smClosed(t), "bob", CodeNotUnassigned},
		{"snoozed", smSnoozed(t, ""), "bob", CodeNotUnassigned},
		{"no operator", c0, "", CodeInvalidOperator},
		{"no conversation", Conversation{}, "bob", CodeNotFound},
	} {
		got, effects, err := Assign(tc.c, tc.op, p, at)
		if !errors.Is(err, &Refusal{Code: tc.code}) || effects != nil || !reflect.DeepEqual(got, tc.c) {
			t.Errorf("%s: err %v, effects %v", tc.name, err, effects)
		}
	}
}

func TestAssignsTo(t *testing.T) {
	un, as, sn, snq, cl := smUnassigned(t), smAssigned(t, "alice"), smSnoozed(t, "alice"), smSnoozed(t, ""), smClosed(t)
	for _, tc := range []struct {
		name string
		cmd  Command
		c    Conversation
		want string // "" for ok == false
	}{
		{"take unassigned", Command{Type: CmdTake, OperatorID: "bob"}, un, "bob"},
		{"attend unassigned", Command{Type: CmdAttend, OperatorID: "bob"}, un, "bob"},
		{"take over", Command{Type: CmdTake, OperatorID: "bob", Role: "admin"}, as, "bob"},
		{"take own", Command{Type: CmdTake, OperatorID: "alice"}, as, ""},
		{"take closed", Command{Type: CmdTake, OperatorID: "bob"}, cl, ""},
		{"take snoozed", Command{Type: CmdTake, OperatorID: "bob"}, sn, ""},
		{"assign unassigned", Command{Type: CmdAssign, OperatorID: "root", TargetID: "bob"}, un, "bob"},
		{"assign to another", Command{Type: CmdAssign, OperatorID: "root", TargetID: "bob"}, as, "bob"},
		{"assign to the assignee", Command{Type: CmdAssign, OperatorID: "root", TargetID: "alice"}, as, ""},
		{"assign without target", Command{Type: CmdAssign, OperatorID: "root"}, un, ""},
		{"transfer", Command{Type: CmdTransfer, OperatorID: "alice", TargetID: "bob"}, as, "bob"},
		{"transfer unassigned", Command{Type: CmdTransfer, OperatorID: "alice", TargetID: "bob"}, un, ""},
		{"unsnooze to the assignee", Command{Type: CmdUnsnooze, OperatorID: "bob"}, sn, "alice"},
		{"unsnooze to the queue", Command{Type: CmdUnsnooze, OperatorID: "bob"}, snq, ""},
		{"reopen", Command{Type: CmdReopen, OperatorID: "bob"}, cl, ""},
		{"close", Command{Type: CmdClose, OperatorID: "alice"}, as, ""},
		{"start new", Command{Type: CmdStart, OperatorID: "bob"}, Conversation{}, "bob"},
		{"start closed", Command{Type: CmdStart, OperatorID: "bob"}, cl, "bob"},
		{"start another's", Command{Type: CmdStart, OperatorID: "bob", Role: "admin"}, as, "bob"},
		{"start own", Command{Type: CmdStart, OperatorID: "alice"}, as, ""},
		{"start snoozed", Command{Type: CmdStart, OperatorID: "alice"}, sn, "alice"},
		{"start without operator", Command{Type: CmdStart}, un, ""},
	} {
		got, ok := AssignsTo(tc.cmd, tc.c)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("%s: AssignsTo = %q, %v; want %q", tc.name, got, ok, tc.want)
		}
	}
}

// TestSendWindow: the customer's last message has a channel timestamp 25 hours before the reply.
func TestSendWindow(t *testing.T) {
	at := smAt(25 * time.Hour)
	c, _, _ := Receive(Conversation{}, smIn("wamid.1", "text", smT0, smAt(2*time.Second)), Policy{})
	c = smMust(t)(ApplyCommand(c, Command{Type: CmdTake, OperatorID: "alice"}, Policy{}, smAt(time.Minute)))

	got, effects, err := ApplyCommand(c, Command{Type: CmdSend, OperatorID: "alice", Message: smText("sorry for the wait"), MessageID: "m1"}, Policy{}, at)
	var r *Refusal
	if !errors.As(err, &r) || r.Code != CodeWindowClosed {
		t.Fatalf("text outside the window: err %v, want window_closed", err)
	}
	if effects != nil || !reflect.DeepEqual(got, c) {
		t.Error("refused text changed the conversation")
	}

	got, effects, err = ApplyCommand(c, Command{Type: CmdSend, OperatorID: "alice", Message: smTemplate(), MessageID: "m1"}, Policy{}, at)
	if err != nil {
		t.Fatalf("template outside the window: %v", err)
	}
	if !got.WindowExpiresAt.Equal(c.WindowExpiresAt) || !got.LastInboundAt.Equal(c.LastInboundAt) {
		t.Errorf("a template moved the window: %v -> %v", c.WindowExpiresAt, got.WindowExpiresAt)
	}
	msgs := smStored(effects)
	if len(msgs) != 1 {
		t.Fatalf("stored %d messages", len(msgs))
	}
	m := msgs[0]
	var tpl Template
	if err := json.Unmarshal(m.Content, &tpl); err != nil || tpl.Name != "follow_up" || !slices.Equal(tpl.Params, []string{"Ana"}) {
		t.Errorf("template content %s (%v)", m.Content, err)
	}
	if m.Direction != DirOut || m.Status != Pending || m.Seq != c.Messages+1 || m.ID != "m1" || m.Type != "template" ||
		m.OperatorID != "alice" || m.ConversationID != c.ID || !m.CreatedAt.Equal(at) {
		t.Errorf("stored message %+v", m)
	}
	if got.Messages != c.Messages+1 {
		t.Errorf("message count %d, want %d", got.Messages, c.Messages+1)
	}

	// Still closed after the template; the customer's answer opens it again.
	if _, _, err := ApplyCommand(got, Command{Type: CmdSend, OperatorID: "alice", Message: smText("hi"), MessageID: "m2"}, Policy{}, at.Add(time.Minute)); !errors.Is(err, &Refusal{Code: CodeWindowClosed}) {
		t.Errorf("text after a template: %v, want window_closed", err)
	}
	reply := at.Add(2 * time.Minute)
	got, _, _ = Receive(got, smIn("wamid.2", "text", reply, reply.Add(time.Second)), Policy{})
	if _, _, err := ApplyCommand(got, Command{Type: CmdSend, OperatorID: "alice", Message: smText("hi"), MessageID: "m2"}, Policy{}, reply.Add(time.Minute)); err != nil {
		t.Errorf("text after the customer's answer: %v", err)
	}

	// The window's last instant is inside it.
	if _, _, err := ApplyCommand(c, Command{Type: CmdSend, OperatorID: "alice", Message: smText("hi"), MessageID: "m3"}, Policy{}, c.WindowExpiresAt); err != nil {
		t.Errorf("text at the window's expiry: %v", err)
	}
	if _, _, err := ApplyCommand(c, Command{Type: CmdSend, OperatorID: "alice", Message: smText("hi"), MessageID: "m3"}, Policy{}, c.WindowExpiresAt.Add(time.Millisecond)); !errors.Is(err, &Refusal{Code: CodeWindowClosed}) {
		t.Errorf("text just after the window's expiry: %v", err)
	}

	// A conversation the customer never wrote in (only a system message) has no window.
	sys, _, _ := Receive(Conversation{}, smIn("wamid.s", "system", smT0, smAt(time.Second)), Policy{})
	if _, _, err := ApplyCommand(sys, Command{Type: CmdSend, OperatorID: "alice", Message: smText("hi"), MessageID: "m4"}, Policy{}, smAt(time.Minute)); !errors.Is(err, &Refusal{Code: CodeWindowClosed}) {
		t.Errorf("text without any customer message: %v", err)
	}
}

func TestFirstResponsePerCycle(t *testing.T) {
	c := smAssigned(t, "alice")
	send := func(c Conversation, id string, at time.Time) (Conversation, *Event) {
		t.Helper()
		c, effects, err := ApplyCommand(c, Command{Type: CmdSend, OperatorID: "alice", Message: smText("hi"), MessageID: id}, Policy{}, at)
		if err != nil {
			t.Fatal(err)
		}
		return c, smEvents(effects)[0]
	}
	c, e := send(c, "m1", smAt(4*time.Minute))
	if want := (4*time.Minute - time.Second).Seconds(); e.FirstResponseSeconds != want {
		t.Errorf("first response %v, want %v", e.FirstResponseSeconds, want)
	}
	c, e = send(c, "m2", smAt(5*time.Minute))
	if e.FirstResponseSeconds != 0 || !c.FirstResponseAt.Equal(smAt(4*time.Minute)) {
		t.Errorf("second reply: first response %v, at %v", e.FirstResponseSeconds, c.FirstResponseAt)
	}
	c = smMust(t)(ApplyCommand(c, Command{Type: CmdClose, OperatorID: "alice"}, Policy{}, smAt(6*time.Minute)))
	c, _, _ = Receive(c, smIn("wamid.2", "text", smAt(time.Hour), smAt(time.Hour+time.Second)), Policy{})
	if !c.FirstResponseAt.IsZero() || !c.CycleStartedAt.Equal(smAt(time.Hour+time.Second)) {
		t.Fatalf("after reopen: first response %v, cycle %v", c.FirstResponseAt, c.CycleStartedAt)
	}
	c = smMust(t)(Assign(c, "alice", Policy{}, smAt(time.Hour+time.Minute)))
	_, e = send(c, "m3", smAt(time.Hour+2*time.Minute))
	if want := (2*time.Minute - time.Second).Seconds(); e.FirstResponseSeconds != want {
		t.Errorf("first response of the second cycle %v, want %v", e.FirstResponseSeconds, want)
	}
}

func TestReceiveNew(t *testing.T) {
	p := Policy{AutoCloseAfter: 24 * time.Hour, WindowWarning: time.Hour}
	in := smIn("wamid.1", "text", smT0, smAt(3*time.Second))
	c, m, effects := Receive(Conversation{}, in, p)
	if c.Status != Unassigned || c.Version != 1 || !c.AwaitingReply || m.Seq != 1 {
		t.Fatalf("new conversation %+v", c)
	}
	for name, tm := range map[string]time.Time{"waiting": c.WaitingSince, "cycle": c.CycleStartedAt, "activity": c.LastActivityAt, "created": c.CreatedAt} {
		if !tm.Equal(in.At) {
			t.Errorf("%s = %v, want the ingest time %v", name, tm, in.At)
		}
	}
	if want := []string{EventCreated, EventMessageReceived}; !slices.Equal(smEventTypes(effects), want) {
		t.Errorf("events %v, want %v", smEventTypes(effects), want)
	}
	evs := smEvents(effects)
	if evs[1].MessageID != "wamid.1" || evs[0].ContactID != c.Contact.ID || evs[0].TenantID != smTenant || evs[0].ID != c.ID+"-1-0" || evs[1].ID != c.ID+"-1-1" {
		t.Errorf("events %+v %+v", evs[0], evs[1])
	}
	if smStored(effects) != nil {
		t.Error("the inbound message is returned, not an effect")
	}
	if want := (Timers{AutoClose: in.At.Add(24 * time.Hour), WindowWarning: smT0.Add(23 * time.Hour)}); c.Timers != want {
		t.Errorf("timers %+v, want %+v", c.Timers, want)
	}
	// Receive is ApplyInbound plus the lifecycle: the bookkeeping is the same.
	base, bm := ApplyInbound(Conversation{}, in)
	if base.ID != c.ID || !base.WindowExpiresAt.Equal(c.WindowExpiresAt) || !reflect.DeepEqual(bm, m) {
		t.Errorf("Receive and ApplyInbound disagree")
	}
}

func TestReceiveReopen(t *testing.T) {
	for _, reopenTo := range []string{"", ReopenToQueue, ReopenToLastOperator} {
		t.Run("reopen_to="+reopenTo, func(t *testing.T) {
			p := Policy{ReopenTo: reopenTo}
			closed := smClosed(t)
			at := smAt(2 * time.Hour)
			c, m, effects := Receive(closed, smIn("wamid.2", "text", at.Add(-time.Second), at), p)
			if c.Status != Unassigned || c.AssigneeID != "" || c.LastOperatorID != "alice" {
				t.Errorf("status %s assignee %q last %q", c.Status, c.AssigneeID, c.LastOperatorID)
			}
			if !c.CycleStartedAt.Equal(at) || !c.WaitingSince.Equal(at) || !c.AwaitingReply || c.Version != closed.Version+1 || m.Seq != closed.Messages+1 {
				t.Errorf("after reopen: %+v", c)
			}
			if want := []string{EventReopened, EventMessageReceived}; !slices.Equal(smEventTypes(effects), want) {
				t.Fatalf("events %v, want %v", smEventTypes(effects), want)
			}
			e := smEvents(effects)[0]
			if e.PreviousOperatorID != "alice" || e.ActorID != "" || e.Sticky != (reopenTo == ReopenToLastOperator) {
				t.Errorf("reopened event %+v", e)
			}
		})
	}
	// A system message is not the customer writing: the conversation stays closed.
	closed := smClosed(t)
	c, _, effects := Receive(closed, smIn("wamid.s", "system", smAt(time.Hour), smAt(time.Hour)), Policy{ReopenTo: ReopenToLastOperator})
	if c.Status != Closed || c.AwaitingReply != closed.AwaitingReply || !slices.Equal(smEventTypes(effects), []string{EventMessageReceived}) {
		t.Errorf("system message on a closed conversation: %s, %v", c.Status, smEventTypes(effects))
	}
}

func TestReceiveUnsnooze(t *testing.T) {
	for _, tc := range []struct {
		assignee string
		status   Status
	}{{"alice", Assigned}, {"", Unassigned}} {
		snoozed := smSnoozed(t, tc.assignee)
		at := smAt(time.Hour)
		c, _, effects := Receive(snoozed, smIn("wamid.2", "image", at, at), Policy{ReopenTo: ReopenToLastOperator})
		if c.Status != tc.status || c.AssigneeID != tc.assignee || !c.SnoozedUntil.IsZero() || !c.Timers.SnoozeWake.IsZero() {
			t.Errorf("assignee %q: after the customer wrote: %+v", tc.assignee, c)
		}
		if want := []string{EventUnsnoozed, EventMessageReceived}; !slices.Equal(smEventTypes(effects), want) {
			t.Errorf("events %v, want %v", smEventTypes(effects), want)
		}
		sys, _, _ := Receive(snoozed, smIn("wamid.s", "system", at, at), Policy{})
		if sys.Status != Snoozed {
			t.Errorf("a system message woke a snoozed conversation")
		}
	}
}

func TestFireTimers(t *testing.T) {
	p := Policy{AutoCloseAfter: 2 * time.Hour, ReservationTimeout: 5 * time.Minute, WindowWarning: time.Hour}
	c0, _, _ := Receive(Conversation{}, smIn("wamid.1", "text", smT0, smAt(time.Second)), p)
	assigned := smMust(t)(Assign(c0, "alice", p, smAt(time.Minute)))

	t.Run("auto-close", func(t *testing.T) {
		due := assigned.Timers.AutoClose
		if !due.Equal(smAt(2*time.Hour + time.Minute)) {
			t.Fatalf("auto-close due %v", due)
		}
		c, effects, err := FireTimer(assigned, TimerAutoClose, due, p, due.Add(time.Second))
		if err != nil || c.Status != Closed || c.LastOperatorID != "alice" || c.Version != assigned.Version+1 {
			t.Fatalf("auto-close: %v %+v", err, c)
		}
		e := smEvents(effects)
		if len(e) != 1 || e[0].Type != EventClosed || e[0].ActorID != "" || e[0].PreviousOperatorID != "alice" || e[0].HandlingSeconds != (2*time.Hour+time.Second).Seconds() {
			t.Errorf("events %+v", e)
		}
		// Activity after the timer was scheduled makes it stale.
		later := smMust(t)(ApplyCommand(assigned, Command{Type: CmdNote, OperatorID: "alice", Note: "still on it", MessageID: "n1"}, p, smAt(time.Hour)))
		assertStale(t, later, TimerAutoClose, due, p, due)
		// Closed: stale too.
		assertStale(t, c, TimerAutoClose, due, p, due.Add(time.Hour))
	})

	t.Run("reservation", func(t *testing.T) {
		due := assigned.Timers.Reservation
		if !due.Equal(smAt(6 * time.Minute)) {
			t.Fatalf("reservation due %v", due)
		}
		c, effects, err := FireTimer(assigned, TimerReservation, due, p, due)
		if err != nil || c.Status != Unassigned || !c.WaitingSince.Equal(due) || c.LastOperatorID != "alice" {
			t.Fatalf("reservation: %v %+v", err, c)
		}
		if e := smEvents(effects); len(e) != 1 || e[0].Type != EventUnassigned || e[0].PreviousOperatorID != "alice" {
			t.Errorf("events %+v", e)
		}
		replied := smMust(t)(ApplyCommand(assigned, Command{Type: CmdSend, OperatorID: "alice", Message: smText("hi"), MessageID: "m1"}, p, smAt(2*time.Minute)))
		if !replied.Timers.Reservation.IsZero() {
			t.Errorf("reservation %v after a reply", replied.Timers.Reservation)
		}
		assertStale(t, replied, TimerReservation, due, p, due)
		// A transfer starts a new reservation; the old one is stale.
		moved := smMust(t)(ApplyCommand(assigned, Command{Type: CmdTransfer, OperatorID: "alice", TargetID: "bob"}, p, smAt(3*time.Minute)))
		if !moved.Timers.Reservation.Equal(smAt(8 * time.Minute)) {
			t.Errorf("reservation after transfer %v", moved.Timers.Reservation)
		}
		assertStale(t, moved, TimerReservation, due, p, due)
	})

	t.Run("snooze wake", func(t *testing.T) {
		until := smAt(3 * time.Hour)
		snoozed := smMust(t)(ApplyCommand(assigned, Command{Type: CmdSnooze, OperatorID: "alice", Until: until}, p, smAt(2*time.Minute)))
		if snoozed.Timers.AutoClose != (time.Time{}) || snoozed.Timers.Reservation != (time.Time{}) || !snoozed.Timers.SnoozeWake.Equal(until) {
			t.Errorf("snoozed timers %+v", snoozed.Timers)
		}
		c, effects, err := FireTimer(snoozed, TimerSnoozeWake, until, p, until.Add(time.Millisecond))
		if err != nil || c.Status != Assigned || c.AssigneeID != "alice" || !slices.Equal(smEventTypes(effects), []string{EventUnsnoozed}) {
			t.Fatalf("wake: %v %s %v", err, c.Status, smEventTypes(effects))
		}
		if want := until.Add(time.Millisecond).Add(2 * time.Hour); !c.Timers.AutoClose.Equal(want) {
			t.Errorf("auto-close after wake %v, want %v", c.Timers.AutoClose, want)
		}
		awake := smMust(t)(ApplyCommand(snoozed, Command{Type: CmdUnsnooze, OperatorID: "alice"}, p, smAt(time.Hour)))
		assertStale(t, awake, TimerSnoozeWake, until, p, until)
		resnoozed := smMust(t)(ApplyCommand(snoozed, Command{Type: CmdSnooze, OperatorID: "alice", Until: smAt(4 * time.Hour)}, p, smAt(time.Hour)))
		assertStale(t, resnoozed, TimerSnoozeWake, until, p, until)
	})

	t.Run("window warning", func(t *testing.T) {
		due := assigned.Timers.WindowWarning
		if !due.Equal(smT0.Add(23 * time.Hour)) {
			t.Fatalf("window warning due %v", due)
		}
		// Keep the conversation alive past the auto-close, so only the warning is in play.
		c := assigned
		c.LastActivityAt = due
		c.Timers = c.timers(p, due)
		c2, effects, err := FireTimer(c, TimerWindowWarning, due, p, due.Add(time.Second))
		e := smEvents(effects)
		if err != nil || len(e) != 1 || e[0].Type != EventWindowClosing || !e[0].WindowExpiresAt.Equal(c.WindowExpiresAt) || e[0].AssigneeID != "alice" {
			t.Fatalf("warning: %v %+v", err, e)
		}
		if c2.Status != c.Status || !c2.Timers.WindowWarning.IsZero() || c2.Version != c.Version+1 {
			t.Errorf("after warning: %+v", c2)
		}
		assertStale(t, c2, TimerWindowWarning, due, p, due.Add(2*time.Second))
		// A new customer message moves the window: the old warning is stale, a new one is scheduled.
		moved, _, _ := Receive(c, smIn("wamid.2", "text", smAt(2*time.Hour), smAt(2*time.Hour)), p)
		assertStale(t, moved, TimerWindowWarning, due, p, due)
		if !moved.Timers.WindowWarning.Equal(smAt(25 * time.Hour)) {
			t.Errorf("new warning %v", moved.Timers.WindowWarning)
		}
		// Applied after the window closed: no warning, and the timer is dropped.
		late, effects, err := FireTimer(c, TimerWindowWarning, due, p, c.WindowExpiresAt.Add(time.Second))
		if err != nil || effects != nil || !late.Timers.WindowWarning.IsZero() || late.Version != c.Version+1 {
			t.Errorf("late warning: %v %v %+v", err, effects, late.Timers)
		}
	})

	t.Run("policy changed", func(t *testing.T) {
		due := assigned.Timers.AutoClose
		longer := p
		longer.AutoCloseAfter = 48 * time.Hour
		c, effects, err := FireTimer(assigned, TimerAutoClose, due, longer, due)
		if err != nil || effects != nil || c.Status != Assigned || !c.Timers.AutoClose.Equal(assigned.LastActivityAt.Add(48*time.Hour)) || c.Version != assigned.Version+1 {
			t.Errorf("auto-close under a longer policy: %v %v %+v", err, effects, c)
		}
	})

	t.Run("caller errors", func(t *testing.T) {
		due := assigned.Timers.AutoClose
		if _, _, err := FireTimer(assigned, TimerAutoClose, due, p, due.Add(-time.Second)); !errors.Is(err, ErrTimerEarly) {
			t.Errorf("early timer: %v", err)
		}
		if _, _, err := FireTimer(assigned, "coffee", due, p, due); !errors.Is(err, ErrUnknownTimer) {
			t.Errorf("unknown timer: %v", err)
		}
		assertStale(t, assigned, TimerSnoozeWake, due, p, due)
		assertStale(t, assigned, TimerAutoClose, time.Time{}, p, due)
	})
}

func assertStale(t *testing.T, c Conversation, kind TimerKind, due time.Time, p Policy, at time.Time) {
	t.Helper()
	got, effects, err := FireTimer(c, kind, due, p, at)
	if err != nil || effects != nil || !reflect.DeepEqual(got, c) {
		t.Errorf("stale %s timer due %v: err %v, effects %v, changed %v", kind, due, err, effects, !reflect.DeepEqual(got, c))
	}
}

// TestVersion walks a conversation through its life and checks that each change adds exactly one to Version and
// that event ids follow it.
func TestVersion(t *testing.T) {
	p := Policy{AutoCloseAfter: time.Hour}
	var c Conversation
	var v uint64
	seen := map[string]bool{}
	step := func(name string, next Conversation, effects []Effect, err error, changes bool) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if changes {
			v++
		}
		if next.Version != v {
			t.Fatalf("%s: version %d, want %d", name, next.Version, v)
		}
		for i, e := range smEvents(effects) {
			want := next.ID + "-" + smItoa(v) + "-" + smItoa(uint64(i))
			if e.ID != want || seen[e.ID] {
				t.Errorf("%s: event %d id %q, want %q, unique", name, i, e.ID, want)
			}
			seen[e.ID] = true
		}
		c = next
	}
	at := func(m int) time.Time { return smAt(time.Duration(m) * time.Minute) }
	next, _, effects := Receive(c, smIn("w1", "text", at(0), at(0)), p)
	step("receive", next, effects, nil, true)
	next, effects, err := ApplyCommand(c, Command{Type: CmdTake, OperatorID: "alice"}, p, at(1))
	step("take", next, effects, err, true)
	next, effects, err = ApplyCommand(c, Command{Type: CmdTake, OperatorID: "alice"}, p, at(2))
	step("take again", next, effects, err, false)
	next, effects, err = ApplyCommand(c, Command{Type: CmdLabels, OperatorID: "alice", AddLabels: []string{"vip"}}, p, at(3))
	step("label", next, effects, err, true)
	next, effects, err = ApplyCommand(c, Command{Type: CmdLabels, OperatorID: "alice", AddLabels: []string{"vip"}}, p, at(4))
	step("label again", next, effects, err, false)
	next, effects, err = ApplyCommand(c, Command{Type: CmdNote, OperatorID: "alice", Note: "@bob @carol", MessageID: "n1"}, p, at(5))
	step("note", next, effects, err, true)
	next, effects, err = ApplyCommand(c, Command{Type: CmdClose, OperatorID: "alice"}, p, at(6))
	step("close", next, effects, err, true)
	next, effects, err = ApplyCommand(c, Command{Type: CmdClose, OperatorID: "alice"}, p, at(7))
	if err == nil {
		t.Fatal("second close accepted")
	}
	step("close again", next, effects, nil, false)
	next, _, effects = Receive(c, smIn("w2", "text", at(8), at(8)), p)
	step("reopen by customer", next, effects, nil, true)
	next, effects, err = FireTimer(c, TimerAutoClose, c.Timers.AutoClose, p, c.Timers.AutoClose)
	step("auto-close", next, effects, err, true)
	if c.Status != Closed {
		t.Fatalf("status %s after auto-close", c.Status)
	}
}

func smItoa(v uint64) string { return strconv.FormatUint(v, 10) }

func TestMentions(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"", nil},
		{"@bob", []string{"bob"}},
		{"hi @bob, @carol-2 and @bob again", []string{"bob", "carol-2"}},
		{"write to bob@example.com", nil},
		{"(@ana) [@joe]", []string{"ana", "joe"}},
		{"@ alone, @@double", []string{"double"}},
		{"@Bob is not an id", nil},
		{"@x1.", []string{"x1"}},
	} {
		if got := Mentions(tc.text); !slices.Equal(got, tc.want) {
			t.Errorf("Mentions(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
}

func TestPolicyValidate(t *testing.T) {
	for _, tc := range []struct {
		p  Policy
		ok bool
	}{
		{Policy{}, true},
		{Policy{ReopenTo: ReopenToLastOperator, AutoCloseAfter: time.Hour, ReservationTimeout: time.Minute, WindowWarning: time.Hour}, true},
		{Policy{ReopenTo: "operator"}, false},
		{Policy{AutoCloseAfter: -time.Second}, false},
		{Policy{WindowWarning: 24 * time.Hour}, false},
	} {
		if err := tc.p.Validate(); (err == nil) != tc.ok {
			t.Errorf("Validate(%+v) = %v, want ok %v", tc.p, err, tc.ok)
		}
	}
}

// TestEffectsJSON checks the wire names of an event, as switchboard.events carries them (docs/contract.md).
func TestEffectsJSON(t *testing.T) {
	c := smAssigned(t, "alice")
	_, effects, err := ApplyCommand(c, Command{Type: CmdClose, OperatorID: "alice"}, Policy{}, smAt(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(effects[0].Event)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "type", "tenant_id", "conversation_id", "at", "operator_id", "contact_id", "previous_operator_id", "handling_seconds", "status"} {
		if _, ok := m[k]; !ok {
			t.Errorf("event JSON %s lacks %q", b, k)
		}
	}
	// A conversation survives a JSON round trip, as the store keeps it.
	b, err = json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back Conversation
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Version != c.Version || !back.AssignedAt.Equal(c.AssignedAt) || !back.Timers.equal(c.Timers) || back.LastOperatorID != c.LastOperatorID {
		t.Errorf("round trip lost fields:\n%+v\n%+v", c, back)
	}
}

// checkInvariants reports the first rule of the state machine that c breaks, taking its timers as computed at at
// under p.
func checkInvariants(c Conversation, p Policy, at time.Time) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("invariant broken in %s conversation: "+format, append([]any{c.Status}, args...)...)
	}
	switch c.Status {
	case Closed:
		if c.AssigneeID != "" || c.Timers != (Timers{}) || !c.SnoozedUntil.IsZero() || !c.AssignedAt.IsZero() || !c.WaitingSince.IsZero() {
			return fail("assignee %q, timers %+v, snoozed until %v, assigned at %v, waiting since %v",
				c.AssigneeID, c.Timers, c.SnoozedUntil, c.AssignedAt, c.WaitingSince)
		}
	case Assigned:
		if c.AssigneeID == "" || c.AssignedAt.IsZero() || !c.WaitingSince.IsZero() || !c.SnoozedUntil.IsZero() {
			return fail("assignee %q, assigned at %v, waiting since %v, snoozed until %v", c.AssigneeID, c.AssignedAt, c.WaitingSince, c.SnoozedUntil)
		}
	case Unassigned:
		if c.AssigneeID != "" || !c.AssignedAt.IsZero() || c.WaitingSince.IsZero() || !c.SnoozedUntil.IsZero() {
			return fail("assignee %q, assigned at %v, waiting since %v, snoozed until %v", c.AssigneeID, c.AssignedAt, c.WaitingSince, c.SnoozedUntil)
		}
	case Snoozed:
		if !c.Timers.SnoozeWake.Equal(c.SnoozedUntil) || !c.WaitingSince.IsZero() || (c.AssigneeID == "") != c.AssignedAt.IsZero() {
			return fail("wake %v, until %v, waiting since %v, assignee %q assigned at %v", c.Timers.SnoozeWake, c.SnoozedUntil, c.WaitingSince, c.AssigneeID, c.AssignedAt)
		}
	default:
		return fail("unknown status")
	}
	if c.Status != Snoozed && !c.Timers.SnoozeWake.IsZero() {
		return fail("snooze wake %v", c.Timers.SnoozeWake)
	}
	if c.AssigneeID != "" && c.LastOperatorID != c.AssigneeID {
		return fail("assignee %q, last operator %q", c.AssigneeID, c.LastOperatorID)
	}
	if c.RepliedSinceAssigned && c.AssigneeID == "" {
		return fail("replied since an assignment, without assignee")
	}
	if !c.Timers.Reservation.IsZero() && c.Status != Assigned {
		return fail("reservation %v", c.Timers.Reservation)
	}
	if !c.Timers.AutoClose.IsZero() && c.Status != Assigned && c.Status != Unassigned {
		return fail("auto-close %v", c.Timers.AutoClose)
	}
	if !slices.IsSorted(c.Labels) || len(slices.Compact(slices.Clone(c.Labels))) != len(c.Labels) || (c.Labels != nil && len(c.Labels) == 0) {
		return fail("labels %q not sorted, unique and nil when empty", c.Labels)
	}
	for _, l := range c.Labels {
		if !ValidLabel(l) {
			return fail("label %q", l)
		}
	}
	if want := c.timers(p, at); !want.equal(c.Timers) {
		return fail("timers %+v, want %+v", c.Timers, want)
	}
	if !Erased(&c) && (c.LastMessage == nil) != (c.Messages == 0) || c.LastMessage != nil && c.LastMessage.Seq != c.Messages {
		return fail("last message %+v of %d messages", c.LastMessage, c.Messages)
	}
	if c.ClosedBy != "" && c.Status != Closed || c.InboundCount > c.Messages {
		return fail("closed by %q, %d customer messages of %d", c.ClosedBy, c.InboundCount, c.Messages)
	}
	for op, r := range c.ReadBy {
		if r.Seq > c.Messages || r.Inbound > c.InboundCount || Unread(&c, op) > c.InboundCount {
			return fail("read mark of %s %+v beyond %d messages, %d customer's", op, r, c.Messages, c.InboundCount)
		}
	}
	for op, m := range c.MentionMarks {
		if m.Seq == 0 || m.Seq > c.Messages {
			return fail("mention of %s at message %d of %d", op, m.Seq, c.Messages)
		}
	}
	return nil
}

var seedFlag = flag.Int64("seed", 0, "seed of TestRandomised; 0 picks one from the clock")

// TestRandomised applies thousands of random inbound messages, commands, routing decisions and timers, and checks
// after every step that refusals change nothing, that every accepted change adds one to Version, that the
// conversation's invariants hold, that effects are consistent with the state, and that AssignsTo names exactly the
// operator an accepted command gives the conversation to.
func TestRandomised(t *testing.T) {
	seed := *seedFlag
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	defer func() {
		if t.Failed() {
			t.Logf("seed %d: rerun with go test ./actors/conversation -run TestRandomised -seed %d", seed, seed)
		}
	}()
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5b))
	runs, steps := 40, 400
	if testing.Short() {
		runs = 5
	}
	for run := range runs {
		if !randomRun(t, rng, run, steps) {
			return
		}
	}
}

func randomRun(t *testing.T, rng *rand.Rand, run, steps int) bool {
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	p := Policy{
		ReopenTo:           pick("", ReopenToQueue, ReopenToLastOperator),
		AutoCloseAfter:     []time.Duration{0, time.Hour, 24 * time.Hour}[rng.IntN(3)],
		ReservationTimeout: []time.Duration{0, 5 * time.Minute}[rng.IntN(2)],
		WindowWarning:      []time.Duration{0, time.Hour}[rng.IntN(2)],
		TakeoverRoles:      [][]string{nil, {}, {"operator"}}[rng.IntN(3)],
	}
	at := smT0
	var c Conversation
	eventIDs := map[string]bool{}
	var trail []string
	for step := range steps {
		// Time moves forward by nothing, seconds, minutes or hours.
		switch rng.IntN(4) {
		case 1:
			at = at.Add(time.Duration(rng.IntN(60)) * time.Second)
		case 2:
			at = at.Add(time.Duration(rng.IntN(90)) * time.Minute)
		case 3:
			at = at.Add(time.Duration(rng.IntN(30)) * time.Hour)
		}
		prev := cloneConversation(c)
		var (
			next     Conversation
			effects  []Effect
			err      error
			what     string
			received bool
			cmd      *Command
		)
		r := rng.IntN(100)
		switch {
		case c.ID == "" || r < 20:
			typ := pick("text", "text", "image", "reaction", "system")
			ts := at.Add(-time.Duration(rng.IntN(30*60)) * time.Minute)
			var m Message
			next, m, effects = Receive(c, smIn(fmt.Sprintf("wamid.%d", step), typ, ts, at), p)
			what = fmt.Sprintf("receive %s sent %v", typ, ts.Sub(smT0))
			received = true
			if m.Seq != prev.Messages+1 || m.Direction != DirIn {
				t.Errorf("received message %+v", m)
			}
			if typ != "system" && (next.Status == Closed || next.Status == Snoozed || !next.AwaitingReply) {
				t.Errorf("customer wrote, conversation still %s (awaiting reply %v)", next.Status, next.AwaitingReply)
			}
		case r < 75:
			cm := randomCommand(rng, pick, at, step)
			cmd = &cm
			what = fmt.Sprintf("command %+v", cm)
			next, effects, err = ApplyCommand(c, cm, p, at)
		case r < 85:
			op := pick("alice", "bob", "")
			what = "route to " + op
			next, effects, err = Assign(c, op, p, at)
		default:
			kind := []TimerKind{TimerAutoClose, TimerSnoozeWake, TimerReservation, TimerWindowWarning}[rng.IntN(4)]
			due := c.Timers.Due(kind)
			if due.IsZero() || rng.IntN(4) == 0 {
				due = at.Add(-time.Duration(rng.IntN(48*60)) * time.Minute) // most likely stale
			}
			if due.After(at) {
				at = due.Add(time.Duration(rng.IntN(3)) * time.Second)
			}
			what = fmt.Sprintf("fire %s due %v", kind, due.Sub(smT0))
			next, effects, err = FireTimer(c, kind, due, p, at)
		}
		trail = append(trail, fmt.Sprintf("%d at %v: %s", step, at.Sub(smT0), what))
		fatal := func(format string, args ...any) bool {
			t.Errorf("run %d (policy %+v), step %s: %s\nlast steps:\n  %s", run, p, trail[len(trail)-1],
				fmt.Sprintf(format, args...), strings.Join(trail[max(0, len(trail)-12):], "\n  "))
			return false
		}

		if !reflect.DeepEqual(c, prev) {
			return fatal("the rules changed the conversation they were given (a map or slice shared with the result)")
		}
		if err != nil {
			var ref *Refusal
			if !errors.As(err, &ref) {
				return fatal("error %v is not a refusal", err)
			}
			if effects != nil || !reflect.DeepEqual(next, prev) || !reflect.DeepEqual(c, prev) {
				return fatal("refusal %v changed the conversation or has effects", err)
			}
			continue
		}
		changed := received || effects != nil || !reflect.DeepEqual(next, prev)
		if !changed {
			if next.Version != prev.Version {
				return fatal("no change, but version %d -> %d", prev.Version, next.Version)
			}
		} else {
			if next.Version != prev.Version+1 {
				return fatal("version %d -> %d", prev.Version, next.Version)
			}
			if !next.UpdatedAt.Equal(at) {
				return fatal("updated at %v", next.UpdatedAt)
			}
		}
		if err := checkInvariants(next, p, at); err != nil && changed {
			return fatal("%v", err)
		}
		stored := prev.Messages
		if received {
			stored++
		}
		for _, ef := range effects {
			switch {
			case (ef.Event == nil) == (ef.Message == nil):
				return fatal("effect with %v event and %v message", ef.Event != nil, ef.Message != nil)
			case ef.Message != nil:
				stored++
				if ef.Message.Seq != stored || ef.Message.ConversationID != next.ID {
					return fatal("stored message seq %d, want %d", ef.Message.Seq, stored)
				}
			default:
				e := ef.Event
				if eventIDs[e.ID] || e.ID == "" {
					return fatal("event id %q repeated", e.ID)
				}
				eventIDs[e.ID] = true
				if !e.At.Equal(at) || e.ConversationID != next.ID || e.Status != next.Status || e.AssigneeID != next.AssigneeID {
					return fatal("event %+v does not match the conversation", e)
				}
			}
		}
		if next.Messages != stored {
			return fatal("message count %d, stored %d", next.Messages, stored)
		}
		if cmd != nil {
			gains := next.Status == Assigned && (prev.Status != Assigned || prev.AssigneeID != next.AssigneeID)
			op, ok := AssignsTo(*cmd, prev)
			if gains != ok || gains && op != next.AssigneeID {
				return fatal("AssignsTo = %q, %v; the command gave the conversation to %q (gains %v)", op, ok, next.AssigneeID, gains)
			}
		}
		c = next
	}
	return true
}

func randomCommand(rng *rand.Rand, pick func(...string) string, at time.Time, step int) Command {
	types := []CommandType{CmdTake, CmdAttend, CmdAssign, CmdUnassign, CmdTransfer, CmdClose, CmdReopen, CmdSnooze,
		CmdUnsnooze, CmdLabels, CmdSend, CmdSend, CmdNote, CmdRead, "bogus"}
	cmd := Command{
		Type:       types[rng.IntN(len(types))],
		OperatorID: pick("alice", "bob", "carol", "alice", "bob", ""),
		Role:       pick("admin", "builder", "operator", "operator", ""),
		TargetID:   pick("alice", "bob", "carol", ""),
		MessageID:  pick(fmt.Sprintf("m%d", step), fmt.Sprintf("m%d", step), ""),
	}
	switch cmd.Type {
	case CmdSnooze:
		switch rng.IntN(4) {
		case 0: // until the customer writes
		case 1:
			cmd.Until = at.Add(-time.Duration(rng.IntN(120)) * time.Minute)
		default:
			cmd.Until = at.Add(time.Duration(1+rng.IntN(48*60)) * time.Minute)
		}
	case CmdLabels:
		labels := []string{"vip", "billing", "a-b_c", "urgent", "Bad", ""}
		for range rng.IntN(3) {
			cmd.AddLabels = append(cmd.AddLabels, labels[rng.IntN(len(labels))])
		}
		for range rng.IntN(2) {
			cmd.RemoveLabels = append(cmd.RemoveLabels, labels[rng.IntN(len(labels))])
		}
	case CmdSend:
		switch rng.IntN(6) {
		case 0:
		case 1:
			cmd.Message = smTemplate()
		case 2:
			cmd.Message = smText(strings.Repeat("x", 4097))
		case 3:
			cmd.Message = smText("")
		default:
			cmd.Message = smText("hello")
		}
	case CmdRead:
		cmd.Seq = uint64(rng.IntN(4) * rng.IntN(8))
	case CmdNote:
		cmd.Note = pick("fyi @bob", "@alice @carol look", "", "plain", "@alice")
	}
	return cmd
}

// TestUnknownStatus: a record with a status this version does not know is refused, never guessed at.
func TestUnknownStatus(t *testing.T) {
	c := smUnassigned(t)
	c.Status = "archived"
	for _, cmd := range []Command{
		{Type: CmdTake, OperatorID: "bob"},
		{Type: CmdAssign, OperatorID: "root", Role: "admin", TargetID: "bob"},
		{Type: CmdTransfer, OperatorID: "root", Role: "admin", TargetID: "bob"},
		{Type: CmdUnassign, OperatorID: "root", Role: "admin"},
		{Type: CmdClose, OperatorID: "bob"},
		{Type: CmdSnooze, OperatorID: "bob"},
		{Type: CmdSend, OperatorID: "bob", Message: smTemplate(), MessageID: "m"},
	} {
		got, effects, err := ApplyCommand(c, cmd, Policy{}, smAt(time.Hour))
		var r *Refusal
		if !errors.As(err, &r) || r.Code != CodeInvalidStatus || effects != nil || !reflect.DeepEqual(got, c) {
			t.Errorf("%s on an unknown status: %v", cmd.Type, err)
		}
		if err != nil && err.Error() != r.Code+": "+r.Message {
			t.Errorf("Error() = %q", err.Error())
		}
	}
}

// TestLegacyRecord: a conversation stored before the state machine kept its times (as the router's first version
// wrote them) gets no intervals from the year 1 and no timers due in the past.
func TestLegacyRecord(t *testing.T) {
	legacy, _ := ApplyInbound(Conversation{}, smIn("wamid.1", "text", smT0, smAt(time.Second)))
	p := Policy{AutoCloseAfter: time.Hour, ReservationTimeout: time.Minute}
	c, effects, err := ApplyCommand(legacy, Command{Type: CmdTake, OperatorID: "alice"}, p, smAt(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if e := smEvents(effects)[0]; e.WaitSeconds != 0 {
		t.Errorf("wait %v seconds from an unknown start", e.WaitSeconds)
	}
	if want := smAt(2 * time.Hour); !c.Timers.AutoClose.Equal(want) {
		t.Errorf("auto-close %v, want %v", c.Timers.AutoClose, want)
	}
	legacy.Status, legacy.AssigneeID = Assigned, "alice"
	c, _, err = ApplyCommand(legacy, Command{Type: CmdLabels, OperatorID: "alice", AddLabels: []string{"x"}}, p, smAt(time.Hour))
	if err != nil || c.Timers != (Timers{}) {
		t.Errorf("legacy assigned record: %v, timers %+v", err, c.Timers)
	}
}
