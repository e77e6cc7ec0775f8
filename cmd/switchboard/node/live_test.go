package node

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/meta"
)

const liveConfig = `tenants:
  - id: acme
    channels:
      - id: acme-wa
        type: whatsapp
        phone_number_id: "100200300"
        app_secret: acme-secret
        verify_token: acme-verify
        access_token: acme-access
    operators:
      - id: alice
        name: Alice
        token: alice-token-0123456789
`

// A customer's webhook becomes conversation events on GET /v1/events, through the router, the outbox relay,
// switchboard.events and the live feed; and stopping the node ends the open stream instead of waiting for it.
func TestWebhookEventsReachTheLiveStream(t *testing.T) {
	cfg, err := tenant.Parse([]byte(liveConfig))
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(context.Background(), Config{Tenants: cfg, DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0",
		EmbeddedKafkaAddr: "127.0.0.1:0", Partitions: 2, Roles: []string{RoleIngest, RoleRouter, RoleAPI},
		SessionTimeout: 6 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()

	base := "http://" + n.HTTPAddr()
	req, _ := http.NewRequest("GET", base+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer alice-token-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /v1/events: %v %v", err, resp)
	}
	defer resp.Body.Close()
	events := make(chan string, 100)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				events <- v
			}
		}
	}()

	body := meta.Payload(meta.Change{PhoneNumberID: "100200300", Messages: []meta.Message{
		{From: "15550001", ProfileName: "Customer", ID: "wamid.live1", Timestamp: time.Now().Unix(), Text: "hello"}}})
	// The router may still be joining its group: the webhook is accepted once Kafka has it, whatever the router does.
	wreq, _ := http.NewRequest("POST", base+"/webhooks/whatsapp", strings.NewReader(string(body)))
	wreq.Header.Set(meta.SignatureHeader, meta.Sign("acme-secret", body))
	wresp, err := http.DefaultClient.Do(wreq)
	if err != nil || wresp.StatusCode != 200 {
		t.Fatalf("webhook: %v %v", err, wresp)
	}
	wresp.Body.Close()

	want := map[string]bool{"conversation.created": false, "message.received": false}
	timeout := time.After(60 * time.Second)
	for !want["conversation.created"] || !want["message.received"] {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("the stream ended")
			}
			if _, ok := want[ev]; ok {
				want[ev] = true
			}
		case <-timeout:
			t.Fatalf("events seen: %v", want)
		}
	}

	// The stream's metrics are the node's.
	mresp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	scrape, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	for _, want := range []string{"switchboard_sse_clients 1", "switchboard_sse_events_sent_total ",
		`switchboard_sse_resets_total{reason="overflow"} 0`, "switchboard_sse_drops_total 0",
		`switchboard_signin_attempts_total{result="ok"} 0`} {
		if !strings.Contains(string(scrape), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// Stopping the node with the stream open: Run returns, and the stream ends.
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the node did not stop with a stream open")
	}
	for range events { // drained to its end: the server closed the stream
	}
}
