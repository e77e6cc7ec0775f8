package conversation

import (
	"encoding/json"
	"testing"
	"time"
)

func TestSendRichReplies(t *testing.T) {
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	c := Conversation{ID: "c1", TenantID: "t", Status: Assigned, AssigneeID: "ann", WindowExpiresAt: at.Add(time.Hour),
		CycleStartedAt: at.Add(-time.Minute)}
	cases := []struct {
		typ, content, code, text string
	}{
		{"image", `{"id":"m1","caption":"the receipt"}`, "", "the receipt"},
		{"document", `{"link":"https://example.invalid/a.pdf","filename":"a.pdf"}`, "", ""},
		{"image", `{"id":"m1","link":"https://x.invalid/a.png"}`, CodeInvalidMessage, ""},
		{"audio", `{"id":"a1","caption":"no"}`, CodeInvalidMessage, ""},
		{"sticker", `{}`, CodeInvalidMessage, ""},
		{"reaction", `{"message_id":"wamid.in1","emoji":"👍"}`, "", "👍"},
		{"reaction", `{"emoji":"👍"}`, CodeInvalidMessage, ""},
		{"interactive", `{"type":"button","body":{"text":"Pick one"},"action":{"buttons":[{"type":"reply","reply":{"id":"y","title":"Yes"}},{"type":"reply","reply":{"id":"n","title":"No"}}]}}`, "", "Pick one"},
		{"interactive", `{"type":"button","body":{"text":"x"},"action":{"buttons":[]}}`, CodeInvalidMessage, ""},
		{"interactive", `{"type":"button","body":{"text":"x"},"action":{"buttons":[{"type":"reply","reply":{"id":"a","title":"A"}},{"type":"reply","reply":{"id":"a","title":"B"}}]}}`, CodeInvalidMessage, ""},
		{"interactive", `{"type":"list","body":{"text":"x"}}`, CodeInvalidMessage, ""},
		{"location", `{"latitude":1}`, CodeInvalidMessage, ""},
	}
	for _, tc := range cases {
		cmd := Command{Type: CmdSend, OperatorID: "ann", MessageID: "sb.1", Message: &Outbound{Type: tc.typ, Content: json.RawMessage(tc.content)}}
		next, eff, err := ApplyCommand(c, cmd, Policy{}, at)
		if tc.code != "" {
			if r, ok := err.(*Refusal); !ok || r.Code != tc.code || next.Version != c.Version {
				t.Errorf("%s %s: err %v, want %s and no change", tc.typ, tc.content, err, tc.code)
			}
			continue
		}
		if err != nil || len(eff) != 2 || eff[0].Message == nil || eff[0].Message.Type != tc.typ || eff[0].Message.Text != tc.text {
			t.Errorf("%s %s: %v %+v", tc.typ, tc.content, err, eff)
		}
	}
	// Outside the window only templates leave: a media reply is refused like text.
	closed := c
	closed.WindowExpiresAt = at.Add(-time.Second)
	_, _, err := ApplyCommand(closed, Command{Type: CmdSend, OperatorID: "ann", MessageID: "sb.2",
		Message: &Outbound{Type: "image", Content: json.RawMessage(`{"id":"m1"}`)}}, Policy{}, at)
	if r, ok := err.(*Refusal); !ok || r.Code != CodeWindowClosed {
		t.Errorf("image outside the window: %v, want window_closed", err)
	}
}
