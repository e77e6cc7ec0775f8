package sim

import (
	"net/http"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/eventually"
)

// statusesByWAMID groups received statuses by message, in arrival order.
func statusesByWAMID(got []gotStatus) map[string][]gotStatus {
	m := map[string][]gotStatus{}
	for _, s := range got {
		m[s.ID] = append(m[s.ID], s)
	}
	return m
}

// Every accepted message gets signed sent, delivered and read webhooks, in that order, StatusDelay apart, for its
// wamid, recipient and phone number.
func TestStatusWebhooks(t *testing.T) {
	const delay = 30 * time.Millisecond
	r := newReceiver(t, "app-secret")
	s := start(t, Config{WebhookURL: r.url, AppSecret: "app-secret", StatusDelay: delay})
	sent := map[string]string{}     // wamid → to
	asked := map[string]time.Time{} // wamid → when the request was sent
	for i := range 5 {
		to := "155500000" + string(rune('0'+i)) + "1"
		t0 := time.Now()
		a := sendText(t, s, to)
		if a.status != http.StatusOK {
			t.Fatalf("%d %s", a.status, a.raw)
		}
		sent[a.wamid()], asked[a.wamid()] = to, t0
	}
	eventually.True(t, 20*time.Second, 5*time.Millisecond, func() bool { return len(r.gotStatuses()) >= 15 }, "15 statuses")
	got := statusesByWAMID(r.gotStatuses())
	if len(got) != 5 {
		t.Fatalf("statuses for %d messages, want 5", len(got))
	}
	for wamid, sts := range got {
		if _, ok := sent[wamid]; !ok {
			t.Errorf("status for unknown wamid %s", wamid)
			continue
		}
		if len(sts) != 3 || sts[0].Status != "sent" || sts[1].Status != "delivered" || sts[2].Status != "read" {
			t.Errorf("%s: statuses %+v, want sent, delivered, read", wamid, sts)
			continue
		}
		for i, st := range sts {
			if st.RecipientID != sent[wamid] || st.Phone != testPhone {
				t.Errorf("%s: recipient %s phone %s, want %s %s", st.Status, st.RecipientID, st.Phone, sent[wamid], testPhone)
			}
			if i > 0 && st.At.Sub(sts[i-1].At) < delay {
				t.Errorf("%s %v after %s, want at least %v", st.Status, st.At.Sub(sts[i-1].At), sts[i-1].Status, delay)
			}
			if i == 0 && st.At.Sub(asked[wamid]) < delay {
				t.Errorf("sent %v after the request, want at least %v", st.At.Sub(asked[wamid]), delay)
			}
		}
	}
	eventually.True(t, 20*time.Second, 5*time.Millisecond, func() bool { return s.Stats().Webhooks.Pending == 0 }, "nothing pending")
	if st := s.Stats().Webhooks; st.Posted != 15 || st.Retried != 0 || st.Failed != 0 || st.Dropped != 0 {
		t.Errorf("webhook stats %+v", st)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.badSig != 0 {
		t.Errorf("%d webhooks with a bad signature", r.badSig)
	}
}

// A status webhook not answered 200 is tried again; the order still holds.
func TestStatusWebhookRetries(t *testing.T) {
	r := newReceiver(t, "s")
	r.answer = func(n int) int {
		if n < 3 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}
	s := start(t, Config{WebhookURL: r.url, AppSecret: "s", StatusDelay: time.Millisecond})
	w := sendText(t, s, "15551234567").wamid()
	eventually.True(t, 20*time.Second, 5*time.Millisecond, func() bool { return len(r.gotStatuses()) == 3 }, "3 statuses")
	sts := r.gotStatuses()
	if sts[0].Status != "sent" || sts[1].Status != "delivered" || sts[2].Status != "read" || sts[2].ID != w {
		t.Errorf("statuses %+v", sts)
	}
	eventually.True(t, 20*time.Second, 5*time.Millisecond, func() bool { return s.Stats().Webhooks.Pending == 0 }, "nothing pending")
	if st := s.Stats().Webhooks; st.Retried != 3 || st.Posted != 3 || st.Failed != 0 {
		t.Errorf("webhook stats %+v, want 3 retried, 3 posted", st)
	}
}

// After the retries the message's statuses are given up: no delivered without sent. A receiver with another secret
// refuses every webhook, so the signature is what it checks.
func TestStatusWebhookGiveUp(t *testing.T) {
	r := newReceiver(t, "the-real-secret")
	s := start(t, Config{WebhookURL: r.url, AppSecret: "another-secret", StatusDelay: time.Millisecond, WebhookRetries: 1})
	sendText(t, s, "15551234567")
	sendText(t, s, "15551234568")
	eventually.True(t, 20*time.Second, 5*time.Millisecond, func() bool { return s.Stats().Webhooks.Pending == 0 }, "nothing pending")
	if st := s.Stats().Webhooks; st.Failed != 2 || st.Retried != 2 || st.Posted != 0 {
		t.Errorf("webhook stats %+v, want 2 failed after 2 retries", st)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.badSig != 4 || len(r.statuses) != 0 {
		t.Errorf("receiver refused %d and took %d, want 4 refused (sent twice for each) and none taken", r.badSig, len(r.statuses))
	}
}

// When the queue is full the statuses of further messages are dropped and counted; sending never waits.
func TestStatusWebhookQueueFull(t *testing.T) {
	r := newReceiver(t, "s")
	r.hold = make(chan struct{})
	s := start(t, Config{WebhookURL: r.url, AppSecret: "s", StatusDelay: time.Millisecond, WebhookQueue: 1})
	for range 5 {
		if a := sendText(t, s, "15551234567"); a.status != http.StatusOK {
			t.Fatalf("%d %s", a.status, a.raw)
		}
	}
	if st := s.Stats(); st.Webhooks.Dropped != 4 || st.Webhooks.Pending != 1 || st.Accepted != 5 {
		t.Errorf("stats %+v: want 5 accepted, 1 pending, 4 dropped", st)
	}
	close(r.hold)
	eventually.True(t, 20*time.Second, 5*time.Millisecond, func() bool { return len(r.gotStatuses()) == 3 }, "3 statuses")
	eventually.True(t, 20*time.Second, 5*time.Millisecond, func() bool { return s.Stats().Webhooks.Pending == 0 }, "nothing pending")
	// Room again: the next message's statuses are sent.
	sendText(t, s, "15551234567")
	eventually.True(t, 20*time.Second, 5*time.Millisecond, func() bool { return len(r.gotStatuses()) == 6 }, "6 statuses")
}

// With PermanentAsync, permanent errors are accepted and reported by a signed failed status with the code.
func TestPermanentAsync(t *testing.T) {
	r := newReceiver(t, "s")
	s := start(t, Config{WebhookURL: r.url, AppSecret: "s", StatusDelay: time.Millisecond,
		Fail: FailConfig{PermanentAsync: true}})
	want := map[string]int{}
	for _, to := range []string{"9991234567", "9981234567", "15551234567"} {
		a := sendText(t, s, to)
		if a.status != http.StatusOK {
			t.Fatalf("to %s: %d %s", to, a.status, a.raw)
		}
		want[a.wamid()] = map[string]int{"9991234567": CodeUndeliverable, "9981234567": CodeReengagement}[to]
	}
	if a := do(t, s, http.MethodPost, testPath, "Bearer t",
		`{"messaging_product":"whatsapp","to":"15551234567","type":"template","template":{"name":"missing_template","language":{"code":"en"}}}`); a.code() != CodeTemplateMissing {
		t.Errorf("missing template: %d %s, want 132001 at once", a.status, a.raw)
	}
	eventually.True(t, 20*time.Second, 5*time.Millisecond, func() bool { return len(r.gotStatuses()) == 5 }, "5 statuses")
	for wamid, sts := range statusesByWAMID(r.gotStatuses()) {
		code := want[wamid]
		switch {
		case code != 0 && (len(sts) != 1 || sts[0].Status != "failed" || sts[0].Code != code):
			t.Errorf("%s: %+v, want one failed status with code %d", wamid, sts, code)
		case code == 0 && len(sts) != 3:
			t.Errorf("%s: %+v, want sent, delivered, read", wamid, sts)
		}
	}
	if st := s.Stats(); st.FailedAsync != 2 || st.Accepted != 3 {
		t.Errorf("stats %+v: want 3 accepted, 2 failed async", st)
	}
	for _, m := range s.Messages() {
		if m.FailCode != want[m.WAMID] {
			t.Errorf("%s recorded with fail code %d, want %d", m.WAMID, m.FailCode, want[m.WAMID])
		}
	}
}
