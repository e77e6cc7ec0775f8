package sim

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/eventually"
)

// Customers posts Count signed messages with distinct wamids from Contacts customers, paced at the rate on the
// simulator's clock: one at once, then one more each time the clock passes 1/rate, never one early.
func TestCustomers(t *testing.T) {
	const count, rate = 20, 50.0
	const interval = time.Second / rate
	r := newReceiver(t, "cs")
	clk := newManualClock()
	s := start(t, Config{clock: clk})
	done := make(chan error, 1)
	go func() {
		done <- s.Customers(context.Background(), CustomersConfig{WebhookURL: r.url, AppSecret: "cs",
			PhoneNumberID: "555", Contacts: 3, Rate: rate, Count: count, Text: "where is my order?"})
	}()
	for k := 1; k <= count; k++ {
		// k posted; the next waits for its time, asked as one interval.
		eventually.True(t, 20*time.Second, time.Millisecond, func() bool { return len(r.gotMessages()) == k },
			"%d messages received", k)
		if k == count {
			break
		}
		eventually.True(t, 20*time.Second, time.Millisecond, func() bool { return len(clk.Waiting()) == 1 },
			"message %d waiting for its time", k+1)
		if w := clk.Waiting()[0]; w != interval {
			t.Fatalf("message %d waits %v, want %v", k+1, w, interval)
		}
		clk.Advance(interval)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := r.gotMessages()
	if len(got) != count {
		t.Fatalf("received %d messages, want %d", len(got), count)
	}
	wamids, from := map[string]bool{}, map[string]int{}
	for _, m := range got {
		if m.Phone != "555" || m.Text != "where is my order?" || wamids[m.ID] {
			t.Errorf("message %+v: wrong phone or text, or a repeated wamid", m)
		}
		wamids[m.ID] = true
		from[m.From]++
	}
	if len(from) != 3 || from[CustomerWAID(0)] != 7 || from[CustomerWAID(1)] != 7 || from[CustomerWAID(2)] != 6 {
		t.Errorf("senders %v, want 3 customers taking turns", from)
	}
	if st := s.Stats().Customers; st.Posted != count || st.Failed != 0 {
		t.Errorf("customer stats %+v", st)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.badSig != 0 {
		t.Errorf("%d bad signatures", r.badSig)
	}
}

// With Count 0 Customers sends until ctx ends and returns nil; with a Count it says it stopped short.
func TestCustomersUntilCancelled(t *testing.T) {
	// run plays cfg on a new simulator until posted messages were answered, then cancels it.
	run := func(cfg CustomersConfig, posted int64) (*receiver, *Sim, error) {
		t.Helper()
		r := newReceiver(t, "s")
		clk := newManualClock()
		s := start(t, Config{WebhookURL: r.url, AppSecret: "s", clock: clk})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- s.Customers(ctx, cfg) }()
		for k := int64(1); ; k++ {
			eventually.True(t, 20*time.Second, time.Millisecond, func() bool { return s.Stats().Customers.Posted == k },
				"%d posted", k)
			eventually.True(t, 20*time.Second, time.Millisecond, func() bool { return len(clk.Waiting()) == 1 },
				"message %d waiting for its time", k+1)
			if k == posted {
				break
			}
			clk.Advance(clk.Waiting()[0])
		}
		cancel()
		return r, s, <-done
	}
	r, s, err := run(CustomersConfig{PhoneNumberID: "555", Rate: 100}, 3)
	if err != nil {
		t.Errorf("Customers = %v, want nil", err)
	}
	if n, posted := len(r.gotMessages()), s.Stats().Customers.Posted; n != 3 || posted != 3 {
		t.Errorf("received %d, posted %d, want 3", n, posted)
	}
	if _, _, err := run(CustomersConfig{PhoneNumberID: "555", Rate: 10, Count: 100}, 2); !errors.Is(err, context.Canceled) {
		t.Errorf("Customers stopped before Count = %v, want Canceled", err)
	}
}

// Webhooks the receiver refuses are retried, then counted as failed and reported.
func TestCustomersFailed(t *testing.T) {
	r := newReceiver(t, "right")
	s := start(t, Config{})
	err := s.Customers(context.Background(), CustomersConfig{WebhookURL: r.url, AppSecret: "wrong", PhoneNumberID: "555",
		Rate: 100, Count: 2})
	if err == nil {
		t.Fatal("Customers = nil, want an error")
	}
	if st := s.Stats().Customers; st.Failed != 2 || st.Posted != 0 {
		t.Errorf("customer stats %+v", st)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.badSig != 2*(customerRetries+1) {
		t.Errorf("%d attempts, want %d", r.badSig, 2*(customerRetries+1))
	}
}

func TestCustomersConfig(t *testing.T) {
	s := start(t, Config{})
	for _, c := range []CustomersConfig{
		{PhoneNumberID: "555"}, // no webhook URL here nor in Config
		{WebhookURL: "http://127.0.0.1:1/", PhoneNumberID: "abc"},
		{WebhookURL: "http://127.0.0.1:1/", PhoneNumberID: "555", Rate: -1},
		{WebhookURL: "http://127.0.0.1:1/", PhoneNumberID: "555", Count: -1},
		{WebhookURL: "http://127.0.0.1:1/", PhoneNumberID: "555", Contacts: -1},
	} {
		if err := s.Customers(context.Background(), c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("Customers(%+v) = %v, want ErrInvalidConfig", c, err)
		}
	}
	if w := CustomerWAID(42); w != "15550000042" || !validRecipient(w) {
		t.Errorf("CustomerWAID(42) = %s", w)
	}
}
