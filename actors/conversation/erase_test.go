package conversation

import (
	"slices"
	"testing"
	"time"
)

func TestErase(t *testing.T) {
	at := smAt(time.Hour)
	withName := func(t *testing.T) Conversation {
		in := smIn("wamid.1", "text", smT0, smAt(time.Second))
		in.Message.ProfileName = "Ana Lima"
		c, _, _ := Receive(Conversation{}, in, Policy{})
		c, e, err := Assign(c, "alice", Policy{AutoCloseAfter: 2 * time.Hour}, smAt(time.Minute))
		c = smMust(t)(c, e, err)
		c, e, err = ApplyCommand(c, Command{Type: CmdSend, OperatorID: "alice", Message: smText("hello Ana"), MessageID: "m1"},
			Policy{}, smAt(2*time.Minute))
		return smMust(t)(c, e, err)
	}
	for _, tc := range []struct {
		name   string
		from   func(*testing.T) Conversation
		events []string
	}{
		{"assigned", withName, []string{EventClosed, EventErased}},
		{"unassigned", smUnassigned, []string{EventClosed, EventErased}},
		{"snoozed", func(t *testing.T) Conversation { return smSnoozed(t, "alice") }, []string{EventClosed, EventErased}},
		{"closed", smClosed, []string{EventErased}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prev := tc.from(t)
			c, er, effects, err := Erase(prev, rootErase, Policy{}, at)
			if err != nil {
				t.Fatal(err)
			}
			if got := smEventTypes(effects); !slices.Equal(got, tc.events) {
				t.Fatalf("events %v, want %v", got, tc.events)
			}
			if er == nil || er.ConversationID != prev.ID || er.Through != prev.Messages || er.WaID != smCustomer {
				t.Fatalf("erasure %+v, want conversation %s through %d of %s", er, prev.ID, prev.Messages, smCustomer)
			}
			if c.Contact != (Contact{ID: prev.Contact.ID}) || c.LastMessage != nil {
				t.Fatalf("contact %+v, last message %+v: personal data kept", c.Contact, c.LastMessage)
			}
			if c.Status != Closed || c.Messages != prev.Messages || c.InboundCount != prev.InboundCount || c.Version != prev.Version+1 {
				t.Fatalf("status %s, messages %d/%d, inbound %d/%d, version %d/%d: counts not kept", c.Status,
					c.Messages, prev.Messages, c.InboundCount, prev.InboundCount, c.Version, prev.Version)
			}
			if !c.WindowExpiresAt.IsZero() || c.AwaitingReply || !c.ErasedAt.Equal(at) || !Erased(&c) {
				t.Fatalf("window %v, awaiting %v, erased at %v", c.WindowExpiresAt, c.AwaitingReply, c.ErasedAt)
			}
			if err := checkInvariants(c, Policy{}, at); err != nil {
				t.Fatal(err)
			}
			for _, e := range smEvents(effects) {
				if e.ContactID != prev.Contact.ID || e.Preview != "" || e.ActorID != "root" {
					t.Fatalf("event %+v", e)
				}
			}

			// Again: nothing to do, and nothing changes (a repeated erase, or the API's erase of every channel).
			again, er2, effects2, err := Erase(c, rootErase, Policy{}, at.Add(time.Minute))
			if err != nil || er2 != nil || len(effects2) != 0 || again.Version != c.Version {
				t.Fatalf("second erase: erasure %+v, %d effects, version %d", er2, len(effects2), again.Version)
			}
			// Nothing reaches an erased customer until they write.
			if _, _, err := ApplyCommand(c, Command{Type: CmdReopen, OperatorID: "bob"}, Policy{}, at); !isCode(err, CodeErased) {
				t.Fatalf("reopen of an erased conversation: %v, want %s", err, CodeErased)
			}

			// The customer writes again: they start clean, under their address, and the counts go on.
			in := smIn("wamid.9", "text", at.Add(time.Minute), at.Add(time.Minute))
			next, m, _ := Receive(c, in, Policy{})
			if next.Contact.WaID != smCustomer || next.Contact.Name != "" || next.Status != Unassigned || Erased(&next) {
				t.Fatalf("after writing again: contact %+v, status %s", next.Contact, next.Status)
			}
			if m.Seq != prev.Messages+1 || next.LastMessage == nil || next.LastMessage.Seq != m.Seq {
				t.Fatalf("new message seq %d, last %+v, want %d", m.Seq, next.LastMessage, prev.Messages+1)
			}
			if _, er3, _, _ := Erase(next, rootErase, Policy{}, at.Add(2*time.Minute)); er3 == nil || er3.Through != m.Seq {
				t.Fatalf("erase after writing again: %+v, want through %d", er3, m.Seq)
			}
		})
	}
}

var rootErase = Command{Type: CmdErase, OperatorID: "root", Role: "admin"}

func TestEraseMissing(t *testing.T) {
	c, er, effects, err := Erase(Conversation{}, rootErase, Policy{}, smT0)
	if c.ID != "" || er != nil || len(effects) != 0 || err != nil {
		t.Fatalf("erase of nothing: %+v %+v %v %v", c, er, effects, err)
	}
}

func TestEraseRefusals(t *testing.T) {
	for _, tc := range []struct {
		cmd  Command
		code string
	}{
		{Command{Type: CmdErase, OperatorID: "bob", Role: "operator"}, CodeForbidden},
		{Command{Type: CmdErase, OperatorID: "bob", Role: "builder"}, CodeForbidden},
		{Command{Type: CmdErase, Role: "admin"}, CodeInvalidOperator},
	} {
		c := smUnassigned(t)
		next, er, effects, err := Erase(c, tc.cmd, Policy{}, smAt(time.Hour))
		if !isCode(err, tc.code) || er != nil || len(effects) != 0 || next.Version != c.Version {
			t.Errorf("%+v: %v, want %s and no change", tc.cmd, err, tc.code)
		}
	}
}

func isCode(err error, code string) bool {
	r, ok := err.(*Refusal)
	return ok && r.Code == code
}
