package sim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %s: %v", url, b, err)
		}
	}
	return resp.StatusCode
}

func sameJSON(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

// GET /sim/messages lists what was accepted, oldest first, with the payload as received; DELETE resets.
func TestMessagesEndpoint(t *testing.T) {
	s := start(t, Config{})
	bodies := []string{
		`{"messaging_product":"whatsapp","to":"15551230001","type":"text","text":{"body":"one"}}`,
		`{"messaging_product":"whatsapp","to":"15551230002","type":"image","image":{"id":"m1","caption":"two"}}`,
		`{"messaging_product":"whatsapp","to":"15551230003","type":"template","template":{"name":"hi","language":{"code":"en"}}}`,
	}
	var wamids []string
	for i, b := range bodies {
		a := do(t, s, http.MethodPost, testPath, "Bearer t", b, idempotencyHeader, []string{"k1", "", "k3"}[i])
		wamids = append(wamids, a.wamid())
	}
	do(t, s, http.MethodPost, testPath, "Bearer t", `{"messaging_product":"whatsapp","to":"1"}`) // rejected

	var got []Received
	if code := getJSON(t, s.URL()+"/sim/messages", &got); code != http.StatusOK || len(got) != 3 {
		t.Fatalf("GET /sim/messages: %d, %d messages", code, len(got))
	}
	for i, m := range got {
		to := "1555123000" + string(rune('1'+i))
		typ := []string{"text", "image", "template"}[i]
		if m.WAMID != wamids[i] || m.To != to || m.Type != typ || m.PhoneNumberID != testPhone ||
			!sameJSON(m.Payload, []byte(bodies[i])) || m.ReceivedAt.IsZero() {
			t.Errorf("message %d = %+v, want wamid %s to %s type %s payload %s", i, m, wamids[i], to, typ, bodies[i])
		}
		if i > 0 && m.ReceivedAt.Before(got[i-1].ReceivedAt) {
			t.Errorf("message %d received before message %d: not oldest first", i, i-1)
		}
		if want := []string{"k1", "", "k3"}[i]; m.IdempotencyKey != want {
			t.Errorf("message %d idempotency key %q, want %q", i, m.IdempotencyKey, want)
		}
	}
	if direct := s.Messages(); !reflect.DeepEqual(normalize(direct), normalize(got)) {
		t.Errorf("Messages() = %+v, GET = %+v", direct, got)
	}
	var page []Received
	if getJSON(t, s.URL()+"/sim/messages?offset=1&limit=1", &page); len(page) != 1 || page[0].WAMID != wamids[1] {
		t.Errorf("offset=1&limit=1 = %+v", page)
	}
	if getJSON(t, s.URL()+"/sim/messages?offset=9", &page); page == nil || len(page) != 0 {
		t.Errorf("offset past the end = %#v, want []", page)
	}
	if code := getJSON(t, s.URL()+"/sim/messages?offset=x", &page); code != http.StatusBadRequest {
		t.Errorf("offset=x: %d", code)
	}

	var st Stats
	if getJSON(t, s.URL()+"/sim/stats", &st); st.Accepted != 3 || st.Recorded != 3 || st.Rejected[CodeInvalidValue] != 1 ||
		st.MaxPerSecond[testPhone] != 3 || st.Rate != DefaultRate || st.Burst != DefaultRate {
		t.Errorf("GET /sim/stats = %+v", st)
	}

	req, _ := http.NewRequest(http.MethodDelete, s.URL()+"/sim/messages", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("DELETE: %d", resp.StatusCode)
	}
	if getJSON(t, s.URL()+"/sim/messages", &got); len(got) != 0 {
		t.Errorf("after DELETE: %d messages", len(got))
	}
	if st := s.Stats(); st.Accepted != 0 || st.Requests != 0 || len(st.Rejected) != 0 || len(st.MaxPerSecond) != 0 {
		t.Errorf("stats after reset = %+v", st)
	}
	// A hint seen before the reset is forgotten.
	sendText(t, s, "15551234567", idempotencyHeader, "k1")
	if st := s.Stats(); st.Duplicates != 0 || st.Accepted != 1 {
		t.Errorf("after reset: %+v", st)
	}

	resp, err = client.Post(s.URL()+"/sim/messages", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /sim/messages: %d", resp.StatusCode)
	}
}

// normalize makes messages comparable after a JSON round trip (compact payloads, no monotonic clock).
func normalize(ms []Received) []Received {
	out := make([]Received, len(ms))
	for i, m := range ms {
		var b bytes.Buffer
		json.Compact(&b, m.Payload)
		m.Payload = b.Bytes()
		m.ReceivedAt = m.ReceivedAt.Round(0).UTC()
		out[i] = m
	}
	return out
}

// Only the first MaxRecorded messages are kept; the rest are counted.
func TestMaxRecorded(t *testing.T) {
	s := start(t, Config{MaxRecorded: 2})
	var wamids []string
	for range 5 {
		wamids = append(wamids, sendText(t, s, "15551234567").wamid())
	}
	ms := s.Messages()
	if st := s.Stats(); st.Accepted != 5 || st.Recorded != 2 || st.Unrecorded != 3 || len(ms) != 2 {
		t.Fatalf("stats %+v, %d messages", st, len(ms))
	}
	if ms[0].WAMID != wamids[0] || ms[1].WAMID != wamids[1] {
		t.Errorf("kept %s %s, want the oldest %s %s", ms[0].WAMID, ms[1].WAMID, wamids[0], wamids[1])
	}
}

// Duplicates are counted by the Idempotency-Key header, else by biz_opaque_callback_data, among accepted messages.
func TestDuplicates(t *testing.T) {
	s := start(t, Config{})
	opaque := func(k string) string {
		return `{"messaging_product":"whatsapp","to":"15551234567","text":{"body":"hi"},"biz_opaque_callback_data":"` + k + `"}`
	}
	do(t, s, http.MethodPost, testPath, "Bearer t", `{"messaging_product":"whatsapp","to":"1"}`, idempotencyHeader, "k0") // rejected
	sendText(t, s, "15551234567", idempotencyHeader, "k0")
	sendText(t, s, "15551234567", idempotencyHeader, "k1")
	sendText(t, s, "15551234567", idempotencyHeader, "k1") // duplicate
	do(t, s, http.MethodPost, testPath, "Bearer t", opaque("k2"))
	do(t, s, http.MethodPost, testPath, "Bearer t", opaque("k2"))                          // duplicate
	do(t, s, http.MethodPost, testPath, "Bearer t", opaque("k9"), idempotencyHeader, "k1") // header wins: duplicate
	sendText(t, s, "15551234567")
	sendText(t, s, "15551234567") // no hint: never a duplicate
	if st := s.Stats(); st.Duplicates != 3 || st.Accepted != 8 {
		t.Errorf("duplicates %d accepted %d, want 3 and 8", st.Duplicates, st.Accepted)
	}
}
