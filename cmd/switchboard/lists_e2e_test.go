package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/meta"
)

const bobToken = "bob-token-000000000001"

// checkIndexes opens a stopped (or killed) node's store and verifies acme's list indexes against its conversation
// records.
func checkIndexes(t *testing.T, n *node, when string) {
	t.Helper()
	s := n.openStore()
	defer s.Close() // now: the node starts again on this directory
	if err := s.CheckIndexes("acme"); err != nil {
		t.Fatalf("%s: %v", when, err)
	}
}

// TestKill9KeepsListIndexes kills the node with SIGKILL while customers write and operators take, note, mention,
// read, label and close conversations. The lists' indexes are written in each conversation's own batch, so the
// store as the kill left it has them exactly in step with the records; after a restart and the replay of what was
// not committed they still are, and every status's listing, paged, shows each conversation exactly once.
func TestKill9KeepsListIndexes(t *testing.T) {
	config := strings.Replace(testConfigY, `        token: "`+aliceToken+`"
`, `        token: "`+aliceToken+`"
      - id: bob
        name: Bob
        role: operator
        capacity: 2
        token: "`+bobToken+`"
`, 1)
	n := newNodeConfig(t, config)
	n.start()
	ts := time.Now().Add(-time.Minute).Unix()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	var (
		wg          sync.WaitGroup
		next, acked atomic.Int64
		commands    atomic.Int64
	)
	for s := 0; s < 8; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := next.Add(1)
				body := meta.Payload(meta.Change{PhoneNumberID: acmePhone, Messages: []meta.Message{
					textMsg(fmt.Sprintf("2786%07d", i%150), fmt.Sprintf("wamid.lists-%05d", i), "hello", ts+i),
				}})
				code, _, err := meta.Post(ctx, hc, n.url("/webhooks/whatsapp"), acmeSecret, body)
				if err != nil {
					return
				}
				if code == 200 {
					acked.Add(1)
				}
			}
		}()
	}
	// The operators' side: take a waiting conversation, note with a mention, read, label, close.
	do := func(method, path, token, body string) (int, []byte) {
		code, b, err := sendRequest(ctx, hc, method, n.url(path), token, "", strings.NewReader(body))
		if err != nil {
			return 0, nil
		}
		return code, b
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			code, b := do(http.MethodGet, "/v1/conversations?status=unassigned&sort=waiting&limit=5", aliceToken, "")
			if code != 200 {
				return
			}
			var l convList
			_ = json.Unmarshal(b, &l)
			for _, c := range l.Conversations {
				base := "/v1/conversations/" + c.ID
				for _, step := range []struct{ path, token, body string }{
					{base + "/take", aliceToken, ""},
					{base + "/notes", aliceToken, `{"text":"@bob have a look"}`},
					{base + "/read", bobToken, ""},
					{base + "/labels", aliceToken, `{"add":["seen"]}`},
					{base + "/read", aliceToken, ""},
					{base + "/close", aliceToken, ""},
				} {
					if code, _ := do(http.MethodPost, step.path, step.token, step.body); code >= 200 && code < 300 {
						commands.Add(1)
					} else if code == 0 {
						return
					}
				}
			}
		}
	}()
	eventually.True(t, 90*time.Second, 20*time.Millisecond, func() bool {
		return acked.Load() >= 1500 && commands.Load() >= 60
	}, "webhooks and commands under way")
	n.kill()
	cancel()
	wg.Wait()
	t.Logf("killed after %d acknowledged webhooks and %d commands", acked.Load(), commands.Load())
	checkIndexes(t, n, "after kill -9")

	n.start()
	eventually.True(t, 90*time.Second, 20*time.Millisecond, func() bool {
		return n.messageCount(aliceToken, true) >= int(acked.Load())
	}, "acknowledged messages applied after restart")
	all := n.conversations(aliceToken)
	seen := map[string]int{}
	for _, st := range []conversation.Status{conversation.Unassigned, conversation.Assigned, conversation.Snoozed, conversation.Closed} {
		for _, sort := range []string{"waiting", "last_activity", "created"} {
			cursor := ""
			for {
				code, b := n.get(fmt.Sprintf("/v1/conversations?status=%s&sort=%s&limit=7&cursor=%s", st, sort, cursor), aliceToken)
				if code != 200 {
					t.Fatalf("list %s by %s: %d %s", st, sort, code, b)
				}
				var l convList
				if err := json.Unmarshal(b, &l); err != nil {
					t.Fatal(err)
				}
				for _, c := range l.Conversations {
					if c.Status != st {
						t.Errorf("conversation %s is %s in the %s listing", c.ID, c.Status, st)
					}
					seen[c.ID+"/"+sort]++
				}
				if l.NextCursor == "" {
					break
				}
				cursor = l.NextCursor
			}
		}
	}
	for _, c := range all {
		for _, sort := range []string{"waiting", "last_activity", "created"} {
			if seen[c.ID+"/"+sort] != 1 {
				t.Errorf("conversation %s listed %d times by %s", c.ID, seen[c.ID+"/"+sort], sort)
			}
		}
	}
	if len(seen) != 3*len(all) {
		t.Errorf("%d listings for %d conversations, want 3 each", len(seen), len(all))
	}
	n.stop()
	checkIndexes(t, n, "after restart")
}
