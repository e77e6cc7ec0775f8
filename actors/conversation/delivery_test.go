package conversation

import (
	"testing"
	"time"
)

func TestApplyDelivery(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	out := Message{ID: "sb.1", Direction: DirOut, Status: Pending, Seq: 7}
	m, ok := ApplyDelivery(out, Delivery{WAMID: "wamid.X"}, at)
	if !ok || m.WAMID != "wamid.X" || m.Status != Pending {
		t.Fatalf("accepted: %+v %v", m, ok)
	}
	if _, ok := ApplyDelivery(m, Delivery{WAMID: "wamid.Y"}, at); ok {
		t.Error("a second answer changed the message")
	}
	f, ok := ApplyDelivery(out, Delivery{ErrorCode: 131026, ErrorTitle: "Message undeliverable"}, at)
	if !ok || f.Status != Failed || f.ErrorCode != 131026 || f.ErrorTitle == "" || !f.StatusAt.Equal(at) {
		t.Fatalf("failed: %+v %v", f, ok)
	}
	if _, ok := ApplyDelivery(f, Delivery{WAMID: "wamid.Z"}, at); ok {
		t.Error("an acceptance revived a failed message")
	}
	if _, ok := ApplyDelivery(Message{Direction: DirIn}, Delivery{WAMID: "w"}, at); ok {
		t.Error("an inbound message took a delivery")
	}
	e := StatusEvent(Conversation{ID: "c1", TenantID: "t"}, f, at)
	if e.ID != "c1-m7-failed" || e.MessageStatus != Failed || e.ErrorCode != 131026 {
		t.Errorf("event = %+v", e)
	}
}
