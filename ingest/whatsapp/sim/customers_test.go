package sim

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Customers posts Count signed messages with distinct wamids from Contacts customers, at the rate.
func TestCustomers(t *testing.T) {
	const count, rate = 20, 50.0
	r := newReceiver(t, "cs")
	s := start(t, Config{})
	t0 := time.Now()
	err := s.Customers(context.Background(), CustomersConfig{WebhookURL: r.url, AppSecret: "cs", PhoneNumberID: "555",
		Contacts: 3, Rate: rate, Count: count, Text: "where is my order?"})
	elapsed := time.Since(t0)
	if err != nil {
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
	// Paced: the last message is not sent before (count-1)/rate. The upper bound only catches a stalled loop.
	if least := time.Duration(float64(count-1) / rate * float64(time.Second)); elapsed < least || elapsed > 10*least {
		t.Errorf("%d messages at %v/s took %v, want about %v", count, rate, elapsed, least)
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
	r := newReceiver(t, "s")
	s := start(t, Config{WebhookURL: r.url, AppSecret: "s"})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := s.Customers(ctx, CustomersConfig{PhoneNumberID: "555", Rate: 100}); err != nil {
		t.Errorf("Customers = %v, want nil", err)
	}
	// A post in flight when ctx ends may reach the receiver without being counted as posted (its answer never
	// arrived): received is posted, or a few more, never fewer.
	if n, posted := int64(len(r.gotMessages())), s.Stats().Customers.Posted; n == 0 || n < posted || n > posted+8 {
		t.Errorf("received %d, posted %d", n, posted)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	if err := s.Customers(ctx2, CustomersConfig{PhoneNumberID: "555", Rate: 10, Count: 100}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Customers stopped before Count = %v, want DeadlineExceeded", err)
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
