package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/meta"
)

const (
	mixPhone  = "111222333"
	mixSecret = "mix-app-secret"
	mixY      = `tenants:
  - id: mix
    settings:
      offline_releases: true
    channels:
      - id: mix-wa
        type: whatsapp
        phone_number_id: "` + mixPhone + `"
        app_secret: "` + mixSecret + `"
        verify_token: "mix-verify"
    operators:
      - {id: o1, role: admin, capacity: 2, token: "mix-token-o1-000000000"}
      - {id: o2, role: operator, capacity: 1, token: "mix-token-o2-000000000"}
      - {id: o3, role: builder, capacity: 3, token: "mix-token-o3-000000000"}
      - {id: o4, role: operator, capacity: 2, token: "mix-token-o4-000000000"}
`
)

var mixOps = map[string]string{"o1": "mix-token-o1-000000000", "o2": "mix-token-o2-000000000",
	"o3": "mix-token-o3-000000000", "o4": "mix-token-o4-000000000"}

var mixCapacity = map[string]int{"o1": 2, "o2": 1, "o3": 3, "o4": 2}

// TestKill9DuringMixedLoad kills the node with SIGKILL during arrivals, replies, closes, takes and availability
// changes. After a restart: no acknowledged message is lost or doubled, no operator holds more than its capacity,
// every acknowledged command's outcome is there, and no event id appears twice with different content on
// switchboard.events.
func TestKill9DuringMixedLoad(t *testing.T) {
	n := newNodeConfig(t, mixY)
	n.start()
	for _, tok := range mixOps {
		n.mustCall("PUT", "/v1/operators/me/availability", tok, map[string]string{"availability": "online"}, 200)
	}
	ts := time.Now().Unix()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}

	var (
		mu         sync.Mutex
		ackedMsgs  = map[string]bool{} // wamid → answered 200
		sentMsgs   = map[string]bool{} // wamid → attempted
		ackedSends = map[string]string{}
		ackedClose = map[string][]string{} // conversation → operators whose close was acknowledged
		overCap    []string
		ops        atomic.Int64
	)
	do := func(method, path, token string, body any) (int, []byte) {
		code, b, err := apiCall(ctx, hc, n.url(path), method, token, body)
		if err != nil {
			return 0, nil
		}
		return code, b
	}
	var wg sync.WaitGroup
	// Customers.
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				from := fmt.Sprintf("2791%07d", rand.IntN(60))
				id := fmt.Sprintf("wamid.mix-%d-%d", w, i)
				body := meta.Payload(meta.Change{PhoneNumberID: mixPhone, Messages: []meta.Message{textMsg(from, id, "hi", ts)}})
				mu.Lock()
				sentMsgs[id] = true
				mu.Unlock()
				code, _, err := meta.Post(ctx, hc, n.url("/webhooks/whatsapp"), mixSecret, body)
				if err != nil {
					return
				}
				if code == 200 {
					mu.Lock()
					ackedMsgs[id] = true
					mu.Unlock()
				}
				ops.Add(1)
				time.Sleep(time.Duration(rand.IntN(4)) * time.Millisecond)
			}
		}()
	}
	// Operators: reply to, close and take conversations.
	for op, tok := range mixOps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				code, b := do("GET", "/v1/conversations?status=assigned&assignee=me&limit=50", tok, nil)
				if code != 200 {
					continue
				}
				var l convList
				_ = json.Unmarshal(b, &l)
				for _, c := range l.Conversations {
					if rand.IntN(2) == 0 {
						code, b := do("POST", "/v1/conversations/"+c.ID+"/messages", tok, map[string]string{"type": "text", "text": "on it"})
						if code == 201 {
							var m conversation.Message
							_ = json.Unmarshal(b, &m)
							mu.Lock()
							ackedSends[m.ID] = c.ID
							mu.Unlock()
						}
					} else if code, _ := do("POST", "/v1/conversations/"+c.ID+"/close", tok, nil); code == 200 {
						mu.Lock()
						ackedClose[c.ID] = append(ackedClose[c.ID], op)
						mu.Unlock()
					}
					ops.Add(1)
				}
				code, b = do("GET", "/v1/conversations?status=unassigned&limit=5", tok, nil)
				if code == 200 {
					var u convList
					_ = json.Unmarshal(b, &u)
					if len(u.Conversations) > 0 {
						do("POST", "/v1/conversations/"+u.Conversations[0].ID+"/take", tok, nil)
					}
				}
				time.Sleep(time.Duration(5+rand.IntN(20)) * time.Millisecond)
			}
		}()
	}
	// Availability changes and a capacity raise, from one goroutine, and a watch on loads.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			op := []string{"o2", "o4"}[i%2]
			av := []string{"offline", "away", "online"}[(i/2)%3]
			do("PUT", "/v1/operators/me/availability", mixOps[op], map[string]string{"availability": av})
			code, b := do("GET", "/v1/operators", mixOps["o1"], nil)
			if code == 200 {
				var l struct {
					Operators []struct {
						ID       string `json:"id"`
						Load     int    `json:"load"`
						Capacity int    `json:"capacity"`
					} `json:"operators"`
				}
				_ = json.Unmarshal(b, &l)
				for _, o := range l.Operators {
					if o.Load > o.Capacity {
						mu.Lock()
						overCap = append(overCap, fmt.Sprintf("%s holds %d of %d", o.ID, o.Load, o.Capacity))
						mu.Unlock()
					}
				}
			}
			time.Sleep(40 * time.Millisecond)
		}
	}()

	eventually.True(t, 60*time.Second, 20*time.Millisecond, func() bool { return ops.Load() >= 1500 }, "mixed load under way")
	n.kill()
	cancel()
	wg.Wait()
	mu.Lock()
	t.Logf("killed after %d operations: %d webhooks acknowledged, %d replies, %d closes", ops.Load(), len(ackedMsgs), len(ackedSends), len(ackedClose))
	mu.Unlock()

	n.start()
	eventually.True(t, 60*time.Second, 20*time.Millisecond, func() bool {
		return n.messageCount(mixOps["o1"], false) >= len(ackedMsgs)+len(ackedSends)
	}, "acknowledged messages applied after restart")
	// Every acknowledged close's event was in the durable outbox before the kill: wait until the relay has sent
	// all of it, not for a while.
	eventually.True(t, 60*time.Second, 20*time.Millisecond, func() bool { return n.metric("switchboard_outbox_pending") == 0 },
		"the outbox relayed")
	events := readEvents(t, n.kafka, 10*time.Second)
	n.stop()

	// Events: no id twice with different content; closes acknowledged are there.
	byID := map[string]string{}
	closedBy := map[string]map[string]bool{}
	for _, e := range events {
		var ev conversation.Event
		if err := json.Unmarshal(e, &ev); err != nil {
			t.Fatalf("event %s: %v", e, err)
		}
		if prev, ok := byID[ev.ID]; ok && prev != string(e) {
			t.Errorf("event %s twice with different content:\n%s\n%s", ev.ID, prev, e)
		}
		byID[ev.ID] = string(e)
		if ev.Type == conversation.EventClosed {
			if closedBy[ev.ConversationID] == nil {
				closedBy[ev.ConversationID] = map[string]bool{}
			}
			closedBy[ev.ConversationID][ev.ActorID] = true
		}
	}
	for conv, byOps := range ackedClose {
		for _, op := range byOps {
			if !closedBy[conv][op] {
				t.Errorf("acknowledged close of %s by %s has no conversation.closed event", conv, op)
			}
		}
	}

	s := n.openStore()
	defer s.Close() // now: the directory is the node's, which may start again
	counts, err := s.CountMessagesByID("mix")
	if err != nil {
		t.Fatal(err)
	}
	for id := range ackedMsgs {
		if counts[id] != 1 {
			t.Errorf("acknowledged message %s stored %d times", id, counts[id])
		}
	}
	for id, c := range counts {
		if c != 1 {
			t.Errorf("message %s stored %d times", id, c)
		}
		if _, inbound := sentMsgs[id]; !inbound {
			if _, reply := ackedSends[id]; !reply && len(id) > 0 && id[:3] != "sb." {
				t.Errorf("message %s was never sent", id)
			}
		}
	}
	for id, conv := range ackedSends {
		if c, _, err := s.MessageRef("mix", id); err != nil || c != conv {
			t.Errorf("acknowledged reply %s: %v in %q, want in %s", id, err, c, conv)
		}
	}
	// The lists' indexes, written in each conversation's batch, match the records.
	if err := s.CheckIndexes("mix"); err != nil {
		t.Error(err)
	}
	// Capacity, from the records themselves.
	open, err := s.OpenConversations("mix", conversation.Assigned, conversation.Snoozed)
	if err != nil {
		t.Fatal(err)
	}
	load := map[string]int{}
	for _, c := range open {
		load[c.AssigneeID]++
	}
	for op, l := range load {
		if l > mixCapacity[op] {
			t.Errorf("after restart %s holds %d conversations, capacity %d", op, l, mixCapacity[op])
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, o := range overCap {
		t.Errorf("during the load: %s", o)
	}
	t.Logf("after restart: %d messages stored, %d events, loads %v", len(counts), len(events), load)
}
