package conversation

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

const (
	tenantID  = "acme"
	channelID = "acme-wa"
	customer  = "15551230000"
)

// t0 is a channel timestamp (Unix seconds) the scenarios count from; ingest times are a few seconds later, as in
// production, and deliberately not equal to the channel's, so a test tells the two clocks apart.
const t0 = int64(1_760_000_000)

func inbound(msgID, typ string, channelTS int64, pos Position) Inbound {
	return Inbound{
		TenantID:  tenantID,
		ChannelID: channelID,
		Message: &inbox.Message{
			ID:        msgID,
			From:      customer,
			Type:      typ,
			Timestamp: channelTS,
			Text:      "text of " + msgID,
		},
		At:  time.Unix(channelTS+3, 0).UTC().Add(250 * time.Millisecond),
		Pos: pos,
	}
}

func unix(s int64) time.Time { return time.Unix(s, 0).UTC() }

func TestApplyInboundNew(t *testing.T) {
	in := inbound("wamid.1", "text", t0, Position{Offset: 41, Index: 2})
	in.Message.ProfileName = "Ana"
	in.Message.ReplyTo = "wamid.0"
	in.Message.Content = json.RawMessage(`{"body":"hola"}`)

	c, m := ApplyInbound(Conversation{}, in)

	want := Conversation{
		ID:              ID(channelID, customer),
		TenantID:        tenantID,
		ChannelID:       channelID,
		Contact:         Contact{ID: ContactID(customer), WaID: customer, Name: "Ana"},
		Status:          Unassigned,
		WindowExpiresAt: unix(t0).Add(24 * time.Hour),
		CreatedAt:       in.At,
		UpdatedAt:       in.At,
		LastInboundAt:   unix(t0),
		Messages:        1,
		Applied:         Position{Offset: 41, Index: 2},
		LastMessage: &LastMessage{Seq: 1, Direction: DirIn, Type: "text", Preview: "text of wamid.1", At: in.At,
			Status: Received},
		InboundCount: 1,
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("conversation:\n got %+v\nwant %+v", c, want)
	}
	wantMsg := Message{
		ConversationID: want.ID,
		Seq:            1,
		ID:             "wamid.1",
		Direction:      DirIn,
		Type:           "text",
		Text:           "text of wamid.1",
		Content:        json.RawMessage(`{"body":"hola"}`),
		ReplyTo:        "wamid.0",
		Status:         Received,
		SentAt:         unix(t0),
		CreatedAt:      in.At,
	}
	if !reflect.DeepEqual(m, wantMsg) {
		t.Errorf("message:\n got %+v\nwant %+v", m, wantMsg)
	}
	// The window runs from the channel's timestamp, not from ingest time (docs/design.md, invariant 7).
	if c.WindowExpiresAt.Equal(in.At.Add(Window)) {
		t.Error("window computed from ingest time")
	}
	if Window != 24*time.Hour {
		t.Errorf("Window = %v, want 24h", Window)
	}
}

func TestApplyInboundExisting(t *testing.T) {
	first := inbound("wamid.1", "text", t0, Position{Offset: 10})
	first.Message.ProfileName = "Ana"
	c, _ := ApplyInbound(Conversation{}, first)
	// The router changes status and assignee between messages; ApplyInbound must keep what it does not own.
	c.Status = Assigned
	c.AssigneeID = "alice"
	c.Labels = []string{"vip"}

	second := inbound("wamid.2", "image", t0+600, Position{Offset: 11, Index: 1})
	second.Message.ProfileName = "" // Meta does not always repeat the profile
	c2, m := ApplyInbound(c, second)

	if c2.ID != c.ID || c2.Contact.ID != c.Contact.ID || !c2.CreatedAt.Equal(first.At) {
		t.Errorf("identity changed: %+v -> %+v", c, c2)
	}
	if c2.Contact.Name != "Ana" {
		t.Errorf("contact name = %q: an empty profile name must not erase it", c2.Contact.Name)
	}
	if c2.Status != Assigned || c2.AssigneeID != "alice" || !reflect.DeepEqual(c2.Labels, []string{"vip"}) {
		t.Errorf("status/assignee/labels changed: %s %s %v", c2.Status, c2.AssigneeID, c2.Labels)
	}
	if c2.Messages != 2 || m.Seq != 2 {
		t.Errorf("messages = %d, seq = %d; want 2, 2", c2.Messages, m.Seq)
	}
	if want := unix(t0 + 600).Add(Window); !c2.WindowExpiresAt.Equal(want) {
		t.Errorf("window = %v, want %v", c2.WindowExpiresAt, want)
	}
	if !c2.LastInboundAt.Equal(unix(t0 + 600)) {
		t.Errorf("last inbound = %v, want %v", c2.LastInboundAt, unix(t0+600))
	}
	if !c2.UpdatedAt.Equal(second.At) {
		t.Errorf("updated = %v, want ingest time %v", c2.UpdatedAt, second.At)
	}
	if c2.Applied != (Position{Offset: 11, Index: 1}) {
		t.Errorf("applied = %+v, want {11 1}", c2.Applied)
	}
	if m.ConversationID != c.ID || m.Type != "image" || m.Direction != DirIn || m.Status != Received {
		t.Errorf("message = %+v", m)
	}

	third := inbound("wamid.3", "text", t0+700, Position{Offset: 12})
	third.Message.ProfileName = "Ana María"
	c3, _ := ApplyInbound(c2, third)
	if c3.Contact.Name != "Ana María" {
		t.Errorf("contact name = %q, want the new profile name", c3.Contact.Name)
	}
}

// TestApplyInboundWindow feeds a conversation messages whose channel timestamps arrive out of order and checks the
// window after each: it only ever moves forward, and only for customer-written messages.
func TestApplyInboundWindow(t *testing.T) {
	const unset = math.MinInt64
	for _, tc := range []struct {
		name string
		msgs []struct {
			typ string
			ts  int64
		}
		// wantLast is the expected LastInboundAt after each message, as an offset from t0, or unset.
		wantLast []int64
	}{
		{
			name: "in order",
			msgs: []struct {
				typ string
				ts  int64
			}{{"text", t0}, {"text", t0 + 60}, {"audio", t0 + 3600}},
			wantLast: []int64{0, 60, 3600},
		},
		{
			name: "older message delivered late",
			msgs: []struct {
				typ string
				ts  int64
			}{{"text", t0 + 100}, {"text", t0 + 40}, {"text", t0 + 100}, {"text", t0 + 101}},
			wantLast: []int64{100, 100, 100, 101},
		},
		{
			name: "system messages do not move the window",
			msgs: []struct {
				typ string
				ts  int64
			}{{"text", t0}, {"system", t0 + 7200}, {"text", t0 + 60}, {"reaction", t0 + 120}},
			wantLast: []int64{0, 0, 60, 120},
		},
		{
			name: "conversation opened by a system message has no window",
			msgs: []struct {
				typ string
				ts  int64
			}{{"system", t0}, {"text", t0 - 30}},
			wantLast: []int64{unset, -30},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c Conversation
			for i, msg := range tc.msgs {
				var m Message
				c, m = ApplyInbound(c, inbound("wamid", msg.typ, msg.ts, Position{Offset: int64(i)}))
				if m.Seq != uint64(i+1) || c.Messages != uint64(i+1) {
					t.Fatalf("message %d: seq %d, count %d; want %d", i, m.Seq, c.Messages, i+1)
				}
				if !m.SentAt.Equal(unix(msg.ts)) {
					t.Errorf("message %d: sent at %v, want its own channel time %v", i, m.SentAt, unix(msg.ts))
				}
				if tc.wantLast[i] == unset {
					if !c.LastInboundAt.IsZero() || !c.WindowExpiresAt.IsZero() {
						t.Errorf("message %d: last inbound %v, window %v; want both unset", i, c.LastInboundAt, c.WindowExpiresAt)
					}
					continue
				}
				wantLast := unix(t0 + tc.wantLast[i])
				if !c.LastInboundAt.Equal(wantLast) {
					t.Errorf("message %d (%s at t0%+d): last inbound t0%+d, want t0%+d",
						i, msg.typ, msg.ts-t0, c.LastInboundAt.Unix()-t0, tc.wantLast[i])
				}
				if !c.WindowExpiresAt.Equal(wantLast.Add(Window)) {
					t.Errorf("message %d: window expires %v, want %v", i, c.WindowExpiresAt, wantLast.Add(Window))
				}
			}
		})
	}
}

func TestApplyInboundTimesAreUTC(t *testing.T) {
	c, m := ApplyInbound(Conversation{}, inbound("wamid.1", "text", t0, Position{}))
	for name, tm := range map[string]time.Time{
		"window": c.WindowExpiresAt, "last inbound": c.LastInboundAt, "sent at": m.SentAt,
	} {
		if tm.Location() != time.UTC {
			t.Errorf("%s is in %v, want UTC", name, tm.Location())
		}
	}
}

// outbound are the statuses an outbound message moves through, in rank order, and "deleted" and "" stand for
// statuses this version does not know.
var (
	outbound = []MessageStatus{Pending, Sent, Delivered, Read, Failed}
	nexts    = []MessageStatus{Received, Pending, Sent, Delivered, Read, Failed, "deleted", ""}
)

func TestAdvanceStatus(t *testing.T) {
	// want[cur][i] is the status a message in cur ends in when nexts[i] arrives.
	want := map[MessageStatus][]MessageStatus{
		//           received  pending  sent  delivered  read  failed  deleted  ""
		Pending:   {Pending, Pending, Sent, Delivered, Read, Failed, Pending, Pending},
		Sent:      {Sent, Sent, Sent, Delivered, Read, Failed, Sent, Sent},
		Delivered: {Delivered, Delivered, Delivered, Delivered, Read, Failed, Delivered, Delivered},
		Read:      {Read, Read, Read, Read, Read, Failed, Read, Read},
		Failed:    {Failed, Failed, Failed, Failed, Failed, Failed, Failed, Failed},
	}
	for _, cur := range outbound {
		row, ok := want[cur]
		if !ok || len(row) != len(nexts) {
			t.Fatalf("test bug: row for %s", cur)
		}
		for i, next := range nexts {
			got, changed := AdvanceStatus(cur, next)
			if got != row[i] {
				t.Errorf("AdvanceStatus(%s, %q) = %s, want %s", cur, next, got, row[i])
			}
			if wantChanged := row[i] != cur; changed != wantChanged {
				t.Errorf("AdvanceStatus(%s, %q) changed = %v, want %v", cur, next, changed, wantChanged)
			}
		}
	}
}

// TestAdvanceStatusAnyOrder delivers every permutation of a message's statuses and checks that the end state does
// not depend on arrival order.
func TestAdvanceStatusAnyOrder(t *testing.T) {
	for _, tc := range []struct {
		statuses []MessageStatus
		want     MessageStatus
	}{
		{[]MessageStatus{Sent, Delivered, Read}, Read},
		{[]MessageStatus{Sent, Delivered}, Delivered},
		{[]MessageStatus{Sent, Failed}, Failed},
		{[]MessageStatus{Sent, Delivered, Read, Failed}, Failed},
	} {
		permute(tc.statuses, func(order []MessageStatus) {
			cur := Pending
			for _, s := range order {
				cur, _ = AdvanceStatus(cur, s)
			}
			if cur != tc.want {
				t.Errorf("statuses in order %v end in %s, want %s", order, cur, tc.want)
			}
		})
	}
}

func permute(s []MessageStatus, f func([]MessageStatus)) {
	var rec func(k int)
	rec = func(k int) {
		if k == len(s) {
			f(s)
			return
		}
		for i := k; i < len(s); i++ {
			s[k], s[i] = s[i], s[k]
			rec(k + 1)
			s[k], s[i] = s[i], s[k]
		}
	}
	rec(0)
}

func TestApplyStatus(t *testing.T) {
	sent := Message{
		ConversationID: "c1", Seq: 4, ID: "wamid.out", Direction: DirOut, Type: "text", Text: "hi",
		Status: Sent, SentAt: unix(t0), CreatedAt: unix(t0), StatusAt: unix(t0),
	}
	for _, tc := range []struct {
		name    string
		msg     Message
		st      inbox.Status
		changed bool
		want    Message // when changed
	}{
		{
			name:    "delivered",
			msg:     sent,
			st:      inbox.Status{ID: "wamid.out", Status: "delivered", Timestamp: t0 + 5, ErrorCode: 1, ErrorTitle: "stray"},
			changed: true,
			want:    with(sent, func(m *Message) { m.Status = Delivered; m.StatusAt = unix(t0 + 5) }),
		},
		{
			name:    "read",
			msg:     with(sent, func(m *Message) { m.Status = Delivered }),
			st:      inbox.Status{Status: "read", Timestamp: t0 + 9},
			changed: true,
			want:    with(sent, func(m *Message) { m.Status = Read; m.StatusAt = unix(t0 + 9) }),
		},
		{
			name:    "failed",
			msg:     sent,
			st:      inbox.Status{Status: "failed", Timestamp: t0 + 7, ErrorCode: 131047, ErrorTitle: "Re-engagement message"},
			changed: true,
			want: with(sent, func(m *Message) {
				m.Status = Failed
				m.StatusAt = unix(t0 + 7)
				m.ErrorCode = 131047
				m.ErrorTitle = "Re-engagement message"
			}),
		},
		{
			name:    "failed after read",
			msg:     with(sent, func(m *Message) { m.Status = Read; m.StatusAt = unix(t0 + 9) }),
			st:      inbox.Status{Status: "failed", Timestamp: t0 + 8, ErrorCode: 131026, ErrorTitle: "Undeliverable"},
			changed: true,
			want: with(sent, func(m *Message) {
				m.Status = Failed
				m.StatusAt = unix(t0 + 8)
				m.ErrorCode = 131026
				m.ErrorTitle = "Undeliverable"
			}),
		},
		{
			name: "late delivered after read",
			msg:  with(sent, func(m *Message) { m.Status = Read; m.StatusAt = unix(t0 + 9) }),
			st:   inbox.Status{Status: "delivered", Timestamp: t0 + 20},
		},
		{
			name: "second failure keeps the first error",
			msg: with(sent, func(m *Message) {
				m.Status = Failed
				m.ErrorCode = 131047
				m.ErrorTitle = "Re-engagement message"
			}),
			st: inbox.Status{Status: "failed", Timestamp: t0 + 30, ErrorCode: 1, ErrorTitle: "other"},
		},
		{
			name: "repeated status",
			msg:  sent,
			st:   inbox.Status{Status: "sent", Timestamp: t0 + 50},
		},
		{
			name: "unknown status",
			msg:  sent,
			st:   inbox.Status{Status: "deleted", Timestamp: t0 + 50},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, changed := ApplyStatus(tc.msg, &tc.st)
			if changed != tc.changed {
				t.Fatalf("changed = %v, want %v", changed, tc.changed)
			}
			want := tc.want
			if !tc.changed {
				want = tc.msg // nothing at all moves, StatusAt included
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("message:\n got %+v\nwant %+v", got, want)
			}
			if changed && got.StatusAt.Location() != time.UTC {
				t.Errorf("StatusAt in %v, want UTC", got.StatusAt.Location())
			}
		})
	}
}

func with(m Message, f func(*Message)) Message {
	f(&m)
	return m
}

func TestReceiveBlocked(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	in := Inbound{TenantID: "acme", ChannelID: "acme-wa", At: at, Pos: Position{Offset: 4},
		Message: &inbox.Message{ID: "wamid.1", From: "15551230000", ProfileName: "Ana", Type: "text", Text: "hi", Timestamp: at.Unix()}}
	c, m := ReceiveBlocked(Conversation{}, in)
	if c.ID != ID("acme-wa", "15551230000") || c.Status != Closed || c.Messages != 1 || m.Seq != 1 || m.Text != "hi" ||
		!c.WaitingSince.IsZero() || c.Version != 0 || c.Timers != (Timers{}) || c.AwaitingReply {
		t.Fatalf("new blocked conversation %+v, message %+v: want it closed, the message stored, nothing else", c, m)
	}
	// An assigned conversation stays as it is: same status, operator and version, one more message.
	prev := Conversation{ID: c.ID, TenantID: "acme", ChannelID: "acme-wa", Contact: c.Contact, Status: Assigned,
		AssigneeID: "alice", AssignedAt: at, Messages: 3, Version: 7}
	in.Message = &inbox.Message{ID: "wamid.2", From: "15551230000", Type: "text", Text: "again", Timestamp: at.Unix()}
	next, m := ReceiveBlocked(prev, in)
	if next.Status != Assigned || next.AssigneeID != "alice" || next.Version != 7 || next.Messages != 4 || m.Seq != 4 {
		t.Errorf("blocked message on an assigned conversation: %+v", next)
	}
}
