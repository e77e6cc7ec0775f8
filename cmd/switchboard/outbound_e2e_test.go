package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/meta"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/sim"
)

const outToken = "out-token-000000000001"

var outPhones = []string{"800100200", "800100201"}

func outConfig() string {
	return fmt.Sprintf(`tenants:
  - id: out
    channels:
      - {id: out-a, type: whatsapp, phone_number_id: "%s", app_secret: "%s", verify_token: "v", access_token: "tok-a", rate_limit: %d}
      - {id: out-b, type: whatsapp, phone_number_id: "%s", app_secret: "%s", verify_token: "v", access_token: "tok-b", rate_limit: %d}
    operators:
      - {id: sam, role: admin, capacity: 10000, token: "%s"}
`, outPhones[0], outSecret, outRate, outPhones[1], outSecret, outRate, outToken)
}

// openConversations makes customers per channel write once and waits until sam holds all of them.
func openConversations(t *testing.T, n *node, perChannel int) []string {
	t.Helper()
	n.mustCall("PUT", "/v1/operators/me/availability", outToken, map[string]string{"availability": "online"}, 200)
	var ids []string
	now := time.Now().Unix()
	for ci, ph := range outPhones {
		var msgs []meta.Message
		for i := 0; i < perChannel; i++ {
			from := fmt.Sprintf("2780%d%06d", ci, i)
			msgs = append(msgs, textMsg(from, fmt.Sprintf("wamid.o%d-%d", ci, i), "hi", now))
			ids = append(ids, conversation.ID([]string{"out-a", "out-b"}[ci], from))
		}
		for k := 0; k < len(msgs); k += 50 {
			n.deliver(ph, outSecret, msgs[k:min(k+50, len(msgs))]...)
		}
	}
	eventually.True(t, 30*time.Second, 20*time.Millisecond, func() bool {
		return len(n.listIDs(outToken, "status=assigned&assignee=sam")) == len(ids)
	}, "conversations assigned to sam")
	return ids
}

// reply sends count text replies spread over convs from 32 concurrent callers and returns the acknowledged ids.
func reply(ctx context.Context, t *testing.T, n *node, convs []string, count int) (acked *sync.Map, nAck *atomic.Int64) {
	acked, nAck = &sync.Map{}, &atomic.Int64{}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(count) || ctx.Err() != nil {
					return
				}
				code, b, err := apiCall(ctx, hc, n.url("/v1/conversations/"+convs[int(i)%len(convs)]+"/messages"), "POST", outToken,
					map[string]string{"type": "text", "text": "reply " + strconv.Itoa(int(i))})
				if err != nil {
					return
				}
				if code == 201 {
					var m conversation.Message
					_ = json.Unmarshal(b, &m)
					acked.Store(m.ID, convs[int(i)%len(convs)])
					nAck.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return acked, nAck
}

// TestOutboundThroughSimulator sends 10,000 replies through the simulator with injected 429s and 5xx: all are
// delivered (accepted, then sent, delivered and read by the simulator's status webhooks), the per-number limit is
// never exceeded, nothing is sent twice; a permanent error marks its message failed with Meta's reason.
func TestOutboundThroughSimulator(t *testing.T) {
	total := 10000
	if v, err := strconv.Atoi(os.Getenv("SWITCHBOARD_TEST_REPLIES")); err == nil && v > 0 {
		total = v
	}
	n, s := startNodeWithSim(t, outConfig(), simConfig(sim.FailConfig{Rate429: 0.05, Rate5xx: 0.05}))
	convs := openConversations(t, n, 200)
	acked, nAck := reply(context.Background(), t, n, convs, total)
	if int(nAck.Load()) != total {
		t.Fatalf("%d of %d replies acknowledged", nAck.Load(), total)
	}
	eventually.True(t, 120*time.Second, 20*time.Millisecond, func() bool {
		return s.Stats().Accepted >= int64(total)
	}, "every reply accepted by the simulator")
	// Every reply: exactly one accepted request carrying its id.
	seen := map[string]int{}
	for _, m := range s.Messages() {
		seen[m.IdempotencyKey]++
	}
	missing, twice := 0, 0
	acked.Range(func(k, _ any) bool {
		switch seen[k.(string)] {
		case 0:
			missing++
		case 1:
		default:
			twice++
		}
		return true
	})
	st := s.Stats()
	if missing > 0 || twice > 0 || st.Duplicates > 0 {
		t.Errorf("simulator: %d replies never accepted, %d accepted twice, %d duplicates", missing, twice, st.Duplicates)
	}
	for _, ph := range outPhones {
		if st.MaxPerSecond[ph] > outRate {
			t.Errorf("number %s: %d messages in one second, limit %d", ph, st.MaxPerSecond[ph], outRate)
		}
	}
	if st.RateLimited != 0 {
		t.Errorf("the simulator's own limit refused %d requests: the sender went over the rate", st.RateLimited)
	}
	if st.Injected.TooManyRequests == 0 || st.Injected.ServerErrors == 0 {
		t.Errorf("no failures were injected: %+v", st.Injected)
	}
	t.Logf("simulator: %d accepted, max per second %v, injected %+v, retries %v", st.Accepted, st.MaxPerSecond, st.Injected,
		n.metric("switchboard_outbound_retries_total"))

	// Status webhooks bring every reply to read. Each of the 3×total status webhooks is handled once: applied to
	// its message, parked until the sender's answer with the wamid is recorded (a busy machine delays that answer
	// past the simulator's status delay; the parked status is applied with it), or skipped as stale behind a parked
	// one. The store check after the stop proves that every reply did end up read.
	var last scraped
	lastLog := time.Now()
	eventually.True(t, 180*time.Second, 250*time.Millisecond, func() bool {
		last = n.scrape()
		if time.Since(lastLog) >= 15*time.Second {
			// Progress, so that a run that times out says where it stood.
			lastLog = time.Now()
			t.Logf("waiting for status webhooks: simulator %+v; node applied %v, parked %v, stale %v, lag %v, webhooks %v",
				s.Stats().Webhooks, last.sum("switchboard_records_applied_total", `kind="status"`),
				last.sum("switchboard_records_applied_total", `kind="status_parked"`),
				last.sum("switchboard_records_skipped_total", `reason="stale_status"`),
				last.sum("switchboard_consumer_lag"), last.sum("switchboard_webhooks_total"))
		}
		return last.sum("switchboard_records_applied_total", `kind="status"`)+
			last.sum("switchboard_records_applied_total", `kind="status_parked"`)+
			last.sum("switchboard_records_skipped_total", `reason="stale_status"`) >= float64(3*total)
	}, "every status webhook handled")
	t.Logf("status webhooks: %v applied, %v parked before the send's answer, %v stale",
		last.sum("switchboard_records_applied_total", `kind="status"`),
		last.sum("switchboard_records_applied_total", `kind="status_parked"`),
		last.sum("switchboard_records_skipped_total", `reason="stale_status"`))

	// Media by id and by link with a caption (the node fetches the link, served here from loopback, which the
	// harness's --media-allow-private lets it reach, and sends the file by id), a reaction to the customer's message,
	// interactive reply buttons and a template with body parameters: the simulator validates each the way Meta does
	// and accepts them.
	invoice := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n"))
	}))
	defer invoice.Close()
	rich := []map[string]any{
		{"type": "image", "image": map[string]string{"id": "media-1", "caption": "your receipt"}},
		{"type": "document", "document": map[string]string{"link": invoice.URL + "/invoice.pdf", "caption": "invoice", "filename": "invoice.pdf"}},
		{"type": "reaction", "reaction": map[string]string{"message_id": "wamid.o0-0", "emoji": "👍"}},
		{"type": "interactive", "interactive": map[string]any{"type": "button", "body": map[string]string{"text": "Was this helpful?"},
			"action": map[string]any{"buttons": []map[string]any{{"type": "reply", "reply": map[string]string{"id": "yes", "title": "Yes"}},
				{"type": "reply", "reply": map[string]string{"id": "no", "title": "No"}}}}}},
		{"type": "template", "template": map[string]any{"name": "order_update", "language": "en", "params": []string{"42", "Friday"},
			"buttons": []map[string]any{{"sub_type": "quick_reply", "index": 0, "params": []string{"TRACK-42"}},
				{"sub_type": "url", "index": 1, "params": []string{"orders/42"}}}}},
	}
	before := s.Stats().Accepted
	for _, body := range rich {
		n.mustCall("POST", "/v1/conversations/"+convs[0]+"/messages", outToken, body, 201)
	}
	eventually.True(t, 20*time.Second, 20*time.Millisecond, func() bool { return s.Stats().Accepted == before+int64(len(rich)) }, "rich replies accepted")
	got := map[string]bool{}
	for _, m := range s.Messages()[before:] {
		got[m.Type] = true
	}
	for _, body := range rich {
		if !got[body["type"].(string)] {
			t.Errorf("simulator did not accept the %s reply; stats %+v", body["type"], s.Stats().Rejected)
		}
	}

	// A permanent error: a recipient Meta cannot deliver to.
	bad := "99900000001"
	n.deliver(outPhones[0], outSecret, textMsg(bad, "wamid.bad", "hi", time.Now().Unix()))
	badID := conversation.ID("out-a", bad)
	eventually.True(t, 10*time.Second, 20*time.Millisecond, func() bool {
		_, v := n.conversation(outToken, badID)
		return v.Status == conversation.Assigned
	}, "undeliverable conversation assigned")
	b := n.mustCall("POST", "/v1/conversations/"+badID+"/messages", outToken, map[string]string{"type": "text", "text": "hello?"}, 201)
	var m conversation.Message
	_ = json.Unmarshal(b, &m)
	eventually.True(t, 10*time.Second, 20*time.Millisecond, func() bool {
		_, v := n.conversation(outToken, badID)
		for _, x := range v.Messages {
			if x.ID == m.ID && x.Status == conversation.Failed && x.ErrorCode == 131026 && x.ErrorTitle != "" {
				return true
			}
		}
		return false
	}, "undeliverable reply failed")
	// The lists show the last message's delivery status: the failure, here.
	if _, v := n.conversation(outToken, badID); v.LastMessage == nil || v.LastMessage.Seq != m.Seq || v.LastMessage.Status != conversation.Failed {
		t.Errorf("last message of the undeliverable conversation = %+v, want message %d failed", v.LastMessage, m.Seq)
	}
	n.stop()

	st2 := n.openStore()
	defer st2.Close() // now: the directory is the node's, which may start again
	notRead := 0
	acked.Range(func(k, v any) bool {
		conv, seq, err := st2.MessageRef("out", k.(string))
		if err != nil || conv != v.(string) {
			notRead++
			return true
		}
		msg, err := st2.Message("out", conv, seq)
		if err != nil || msg.Status != conversation.Read || msg.WAMID == "" {
			notRead++
		}
		return true
	})
	if notRead > 0 {
		t.Errorf("%d replies not read (with their wamid) in the store", notRead)
	}
	// Each conversation's summary of its last message has that message's delivery status, which moved with the
	// status webhooks after the message was stored.
	stored, err := st2.OpenConversations("out", conversation.Unassigned, conversation.Assigned, conversation.Closed)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range stored {
		lm := c.LastMessage
		if lm == nil {
			t.Errorf("conversation %s has no last message", c.ID)
			continue
		}
		if msg, err := st2.Message("out", c.ID, lm.Seq); err != nil || msg.Status != lm.Status {
			t.Errorf("conversation %s: last message %+v, stored status %s (%v)", c.ID, lm, msg.Status, err)
		}
	}
	if err := st2.CheckIndexes("out"); err != nil {
		t.Error(err)
	}
}

// TestOutboundKill9 kills the node while it sends replies; after a restart every acknowledged reply reaches the
// simulator, and the number sent twice is at most what was in flight at the kill (one per sender worker).
func TestOutboundKill9(t *testing.T) {
	n, s := startNodeWithSim(t, outConfig(), simConfig(sim.FailConfig{}))
	convs := openConversations(t, n, 100)
	const total = 3000
	acked, nAck := reply(context.Background(), t, n, convs, total)
	eventually.True(t, 60*time.Second, 20*time.Millisecond, func() bool { return s.Stats().Accepted >= total/3 }, "sending under way")
	n.kill()
	before := s.Stats().Accepted
	n.start()
	eventually.True(t, 120*time.Second, 20*time.Millisecond, func() bool {
		seen := map[string]bool{}
		for _, m := range s.Messages() {
			seen[m.IdempotencyKey] = true
		}
		all := true
		acked.Range(func(k, _ any) bool {
			if !seen[k.(string)] {
				all = false
			}
			return all
		})
		return all
	}, "every acknowledged reply accepted after restart")
	n.stop()
	dups := s.Stats().Duplicates
	const inFlight = 2 * 8 // channels × sender workers
	t.Logf("killed after %d accepted; %d replies acknowledged; %d sent twice (at most %d in flight)", before, nAck.Load(), dups, inFlight)
	if dups > inFlight {
		t.Errorf("%d replies sent twice, more than the %d that can be in flight", dups, inFlight)
	}
}
