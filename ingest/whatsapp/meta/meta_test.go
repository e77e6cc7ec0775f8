package meta

import (
	"encoding/json"
	"testing"
)

// The signature Meta sends is sha256= and the hex HMAC-SHA256 of the raw body under the app secret (RFC 4231 test
// case 2 gives the expected digest).
func TestSign(t *testing.T) {
	got := Sign("Jefe", []byte("what do ya want for nothing?"))
	want := "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
	if got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestPayloadShape(t *testing.T) {
	b := Payload(Change{PhoneNumberID: "1", Messages: []Message{{From: "27", ID: "w1", Timestamp: 5, Text: "hi"},
		{From: "27", ID: "w2", Timestamp: 6, Type: "image", Content: json.RawMessage(`{"id":"m"}`)}},
		Statuses: []Status{{ID: "w0", RecipientID: "27", Status: "failed", Timestamp: 7, ErrorCode: 131047, ErrorTitle: "x"}}})
	var p struct {
		Object string `json:"object"`
		Entry  []struct {
			Changes []struct {
				Field string `json:"field"`
				Value struct {
					Metadata struct {
						PhoneNumberID string `json:"phone_number_id"`
					} `json:"metadata"`
					Messages []map[string]any `json:"messages"`
					Statuses []map[string]any `json:"statuses"`
				} `json:"value"`
			} `json:"changes"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	v := p.Entry[0].Changes[0].Value
	if p.Object != "whatsapp_business_account" || p.Entry[0].Changes[0].Field != "messages" || v.Metadata.PhoneNumberID != "1" {
		t.Fatalf("envelope = %s", b)
	}
	if v.Messages[0]["text"].(map[string]any)["body"] != "hi" || v.Messages[0]["timestamp"] != "5" {
		t.Errorf("text message = %v", v.Messages[0])
	}
	if v.Messages[1]["image"].(map[string]any)["id"] != "m" {
		t.Errorf("image message = %v", v.Messages[1])
	}
	if v.Statuses[0]["errors"] == nil {
		t.Errorf("failed status without errors: %v", v.Statuses[0])
	}
}
