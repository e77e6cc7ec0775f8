package sim

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestMarkAsRead: Meta's mark-as-read call is answered {"success":true}, recorded in Reads and GET /sim/reads, and
// is not a message: no wamid, nothing in Messages, no token of the rate limit, no status webhook.
func TestMarkAsRead(t *testing.T) {
	s := start(t, Config{Rate: 1, Burst: 1})
	const body = `{"messaging_product":"whatsapp","status":"read","message_id":"wamid.customer-1"}`
	for range 3 { // beyond the bucket of one: reads take no token
		a := do(t, s, "POST", testPath, "Bearer tok", body)
		if a.status != http.StatusOK || string(a.raw) != `{"success":true}` {
			t.Fatalf("mark as read: %d %s", a.status, a.raw)
		}
	}
	reads := s.Reads()
	if len(reads) != 3 || reads[0].MessageID != "wamid.customer-1" || reads[0].PhoneNumberID != testPhone ||
		reads[0].ReceivedAt.IsZero() {
		t.Fatalf("reads = %+v", reads)
	}
	if m := s.Messages(); len(m) != 0 {
		t.Errorf("a read was recorded as a message: %+v", m)
	}
	if st := s.Stats(); st.Reads != 3 || st.Accepted != 0 {
		t.Errorf("stats reads %d accepted %d, want 3 and 0", st.Reads, st.Accepted)
	}
	// A message still gets the bucket's one token.
	if a := do(t, s, "POST", testPath, "Bearer tok", `{"messaging_product":"whatsapp","to":"27820000001","type":"text","text":{"body":"hi"}}`); a.status != http.StatusOK {
		t.Errorf("send after the reads: %d %s", a.status, a.raw)
	}

	resp, err := client.Get(s.URL() + "/sim/reads")
	if err != nil {
		t.Fatal(err)
	}
	var listed []Read
	err = json.NewDecoder(resp.Body).Decode(&listed)
	resp.Body.Close()
	if err != nil || len(listed) != 3 || listed[2].MessageID != "wamid.customer-1" {
		t.Fatalf("GET /sim/reads = %+v, %v", listed, err)
	}

	for _, tc := range []struct{ name, body string }{
		{"status not read", `{"messaging_product":"whatsapp","status":"delivered","message_id":"wamid.x"}`},
		{"no message id", `{"messaging_product":"whatsapp","status":"read"}`},
		{"empty message id", `{"messaging_product":"whatsapp","status":"read","message_id":""}`},
		{"no messaging product", `{"status":"read","message_id":"wamid.x"}`},
	} {
		if a := do(t, s, "POST", testPath, "Bearer tok", tc.body); a.status != http.StatusBadRequest || a.code() != CodeInvalidParameter {
			t.Errorf("%s: %d %s, want 400 with code %d", tc.name, a.status, a.raw, CodeInvalidParameter)
		}
	}
	if a := do(t, s, "POST", testPath, "", body); a.status != http.StatusUnauthorized {
		t.Errorf("without a token: %d, want 401", a.status)
	}
	s.Reset()
	if r := s.Reads(); len(r) != 0 {
		t.Errorf("reads after Reset: %+v", r)
	}
}
