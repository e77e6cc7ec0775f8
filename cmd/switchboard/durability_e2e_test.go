package main_test

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/ingest/broker"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/meta"
)

// storedMessages opens a stopped node's store and counts its messages by wamid, scanning every message record.
func storedMessages(t *testing.T, n *node, tenant string) map[string]int {
	t.Helper()
	s := n.openStore()
	defer s.Close() // now: the directory is the node's, which may start again
	counts, err := s.CountMessagesByID(tenant)
	if err != nil {
		t.Fatal(err)
	}
	return counts
}

// missingPostings returns the search postings a stopped node's store lacks for its stored contacts and message texts
// (store.MissingPostings).
func missingPostings(t *testing.T, n *node, tenant string) []string {
	t.Helper()
	s := n.openStore()
	defer s.Close()
	missing, err := s.MissingPostings(tenant)
	if err != nil {
		t.Fatal(err)
	}
	return missing
}

// TestRestartKeepsConversations restarts a node on the same data dir: the same conversations come back and no
// record is applied a second time.
func TestRestartKeepsConversations(t *testing.T) {
	n := newNode(t)
	n.start()
	ts := time.Now().Add(-time.Minute).Unix()
	for i := 0; i < 20; i++ {
		n.deliver(acmePhone, acmeSecret, textMsg(fmt.Sprintf("2782%07d", i%7), fmt.Sprintf("wamid.restart-%d", i), "hello", ts+int64(i)))
	}
	eventually.True(t, 20*time.Second, 20*time.Millisecond, func() bool {
		return n.metric("switchboard_records_applied_total", `kind="message"`) == 20
	}, "20 messages applied")
	before := n.conversations(aliceToken)
	if len(before) != 7 {
		t.Fatalf("%d conversations, want 7", len(before))
	}
	n.stop()

	n.start()
	after := n.conversations(aliceToken)
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("conversations changed across restart:\nbefore %+v\nafter  %+v", before, after)
	}
	// New input after the restart lands in the existing conversation. Every record here is acme's, so on acme's
	// partition: once this one, the partition's last, is applied, the router has fetched all it would replay.
	n.deliver(acmePhone, acmeSecret, textMsg("27820000000", "wamid.restart-new", "again", ts+100))
	eventually.True(t, 60*time.Second, 20*time.Millisecond, func() bool {
		return n.metric("switchboard_records_applied_total", `kind="message"`) == 1
	}, "new message applied")
	m := n.scrape()
	if got := m.sum("switchboard_records_applied_total"); got != 1 {
		t.Errorf("after restart %v items applied, want 1 (the new message): earlier ones were applied again", got)
	}
	if got := m.sum("switchboard_records_skipped_total", `reason="replay"`); got != 0 {
		t.Errorf("after restart %v items skipped as replays, want 0", got)
	}
	// A graceful stop commits every durable record, so nothing before the new record is even fetched again.
	if got := m.sum("switchboard_records_fetched_total"); got != 1 {
		t.Errorf("after a graceful restart %v records fetched, want 1 (the new one)", got)
	}
	n.stop()
	counts := storedMessages(t, n, "acme")
	if len(counts) != 21 {
		t.Errorf("%d distinct messages stored, want 21", len(counts))
	}
	for id, c := range counts {
		if c != 1 {
			t.Errorf("message %s stored %d times", id, c)
		}
	}
}

// TestKill9DuringBurst kills the node with SIGKILL while concurrent senders post 5,000 signed webhooks. After a
// restart every message that was answered 200 is stored exactly once, and no message that was never sent appears.
func TestKill9DuringBurst(t *testing.T) {
	n := newNode(t)
	n.start()
	killDuringBurst(t, n, nil)
}

// killDuringBurst is TestKill9DuringBurst on a started node n: afterKill, when set, runs between the kill and the
// restart.
func killDuringBurst(t *testing.T, n *node, afterKill func()) {
	const total, senders = 5000, 32
	ts := time.Now().Add(-time.Minute).Unix()
	var (
		next  atomic.Int64
		acked sync.Map // wamid → true, answered 200
		sent  sync.Map // wamid → true, attempted
		nAck  atomic.Int64
	)
	killAt := int64(total / 3)
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: senders}}
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= total || ctx.Err() != nil {
					return
				}
				id := fmt.Sprintf("wamid.burst-%05d", i)
				body := meta.Payload(meta.Change{PhoneNumberID: acmePhone, Messages: []meta.Message{
					textMsg(fmt.Sprintf("2783%07d", i%500), id, fmt.Sprintf("burst %05d", i), ts),
				}})
				sent.Store(id, true)
				code, _, err := meta.Post(ctx, hc, n.url("/webhooks/whatsapp"), acmeSecret, body)
				if err != nil {
					return // the node is gone
				}
				if code == 200 {
					acked.Store(id, true)
					nAck.Add(1)
				}
			}
		}()
	}
	eventually.True(t, 90*time.Second, 20*time.Millisecond, func() bool { return nAck.Load() >= killAt }, "a third of the burst acknowledged")
	n.kill()
	wg.Wait()
	ackedN := int(nAck.Load())
	t.Logf("killed after %d acknowledged webhooks (%d attempted)", ackedN, next.Load())
	if afterKill != nil {
		afterKill()
	}

	n.start()
	// Wait until every acknowledged message is applied: the restarted node replays what was not committed.
	eventually.True(t, 90*time.Second, 20*time.Millisecond, func() bool {
		return n.messageCount(aliceToken, false) >= ackedN
	}, "acknowledged messages applied after restart")
	n.stop()

	counts := storedMessages(t, n, "acme")
	missing, dup, unknown := 0, 0, 0
	acked.Range(func(k, _ any) bool {
		if counts[k.(string)] == 0 {
			missing++
		}
		return true
	})
	var dups []string
	for id, c := range counts {
		if c > 1 {
			dup++
			dups = append(dups, id)
		}
		if _, ok := sent.Load(id); !ok {
			unknown++
		}
	}
	sort.Strings(dups)
	if missing > 0 || dup > 0 || unknown > 0 {
		t.Fatalf("after kill -9: %d acknowledged messages missing, %d stored twice (%v), %d never sent", missing, dup, dups, unknown)
	}
	// The search index is written in the batch of what it indexes: after the kill, every stored text and contact
	// has its postings.
	if missing := missingPostings(t, n, "acme"); len(missing) > 0 {
		t.Fatalf("after kill -9: %d search postings missing, first %v", len(missing), missing[:min(5, len(missing))])
	}
	t.Logf("%d acknowledged, %d stored (the rest were in flight at the kill), none lost or duplicated, all indexed", ackedN, len(counts))
}

// TestExternalBrokerAndKafkaDown points a node at a broker it did not start (as it would a real cluster), stops
// that broker (webhooks get 503 and nothing is acknowledged) and starts it again (the same webhook succeeds).
func TestExternalBrokerAndKafkaDown(t *testing.T) {
	kafkaAddr := freeAddr(t)
	kdir := t.TempDir()
	startBroker := func() *broker.Embedded {
		var b *broker.Embedded
		// The port may linger briefly after a close.
		eventually.NoError(t, 30*time.Second, 100*time.Millisecond, func() (err error) {
			b, err = broker.NewEmbedded(broker.Config{Addr: kafkaAddr, DataDir: kdir})
			return err
		}, "start external broker")
		return b
	}
	b := startBroker()
	defer func() { b.Close() }()

	n := newNode(t, "--kafka-brokers", kafkaAddr)
	n.start()
	ts := time.Now().Add(-time.Minute).Unix()
	first := meta.Payload(meta.Change{PhoneNumberID: acmePhone, Messages: []meta.Message{textMsg("27820000001", "wamid.ext-1", "via external", ts)}})
	if code := n.post(first, acmeSecret); code != 200 {
		t.Fatalf("webhook through external broker: %d", code)
	}
	eventually.True(t, 20*time.Second, 20*time.Millisecond, func() bool {
		return n.metric("switchboard_records_applied_total", `kind="message"`) == 1
	}, "message applied through the external broker")

	b.Close()
	second := meta.Payload(meta.Change{PhoneNumberID: acmePhone, Messages: []meta.Message{textMsg("27820000002", "wamid.ext-2", "while down", ts)}})
	if code := n.post(second, acmeSecret); code != http.StatusServiceUnavailable {
		t.Fatalf("webhook with Kafka down: %d, want 503", code)
	}
	if got := n.metric("switchboard_webhooks_total", `result="unavailable"`); got != 1 {
		t.Errorf("webhooks_total{result=unavailable} = %v, want 1", got)
	}
	if code, body := n.get("/readyz", ""); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with Kafka down: %d %s, want 503", code, body)
	}
	if code, _ := n.get("/healthz", ""); code != 200 {
		t.Errorf("/healthz with Kafka down: %d, want 200 (the process is alive)", code)
	}

	b = startBroker()
	eventually.True(t, 60*time.Second, 20*time.Millisecond, func() bool {
		return n.post(second, acmeSecret) == 200
	}, "the refused webhook accepted once Kafka is back")
	eventually.True(t, 60*time.Second, 20*time.Millisecond, func() bool {
		return n.metric("switchboard_records_applied_total", `kind="message"`) == 2
	}, "second message applied")
	n.stop()
	counts := storedMessages(t, n, "acme")
	if !reflect.DeepEqual(counts, map[string]int{"wamid.ext-1": 1, "wamid.ext-2": 1}) {
		t.Errorf("stored %v, want each of wamid.ext-1 and wamid.ext-2 once", counts)
	}
}

// TestIdleActorsPassivate checks that idle conversation actors leave memory and come back from the store with
// their state on the next message (docs/design.md, invariant 8).
func TestIdleActorsPassivate(t *testing.T) {
	n := newNode(t, "--idle-after", "300ms")
	n.start()
	ts := time.Now().Add(-time.Minute).Unix()
	for i := 0; i < 10; i++ {
		n.deliver(acmePhone, acmeSecret, textMsg(fmt.Sprintf("2784%07d", i), fmt.Sprintf("wamid.idle-%d", i), "first", ts))
	}
	eventually.True(t, 10*time.Second, 20*time.Millisecond, func() bool {
		return n.metric("switchboard_conversation_actors_active") == 10
	}, "10 actors active")
	eventually.True(t, 10*time.Second, 20*time.Millisecond, func() bool {
		return n.metric("switchboard_conversation_actors_active") == 0 &&
			n.metric("switchboard_conversation_actors_passivated_total") == 10
	}, "idle actors passivated")
	n.deliver(acmePhone, acmeSecret, textMsg("27840000003", "wamid.idle-again", "second", ts+1))
	eventually.True(t, 10*time.Second, 20*time.Millisecond, func() bool {
		return n.metric("switchboard_records_applied_total", `kind="message"`) == 11
	}, "re-activated actor applied the message")
	_, v := n.conversation(aliceToken, conversation.ID("acme-wa", "27840000003"))
	if v.Messages == nil || len(v.Messages) != 2 || v.Messages[1].Seq != 2 || v.Conversation.Messages != 2 {
		t.Fatalf("re-activated conversation lost its state: %+v", v)
	}
	if got := n.metric("switchboard_conversation_actors_activated_total"); got != 11 {
		t.Errorf("activations = %v, want 11", got)
	}
	n.stop()
}

// TestGracefulStopUnderLoad sends SIGTERM while concurrent senders post webhooks: the node stops accepting, drains
// what it took, commits its offsets and exits 0; after a restart every acknowledged message is stored exactly once
// and no record is applied a second time (nothing durable was left uncommitted).
func TestGracefulStopUnderLoad(t *testing.T) {
	n := newNode(t)
	n.start()
	ts := time.Now().Add(-time.Minute).Unix()
	var (
		next  atomic.Int64
		acked sync.Map
		nAck  atomic.Int64
	)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	var wg sync.WaitGroup
	for s := 0; s < 16; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := next.Add(1)
				id := fmt.Sprintf("wamid.term-%05d", i)
				body := meta.Payload(meta.Change{PhoneNumberID: acmePhone, Messages: []meta.Message{textMsg(fmt.Sprintf("2785%07d", i%300), id, "x", ts)}})
				code, _, err := meta.Post(ctx, hc, n.url("/webhooks/whatsapp"), acmeSecret, body)
				if err != nil {
					return
				}
				if code == 200 {
					acked.Store(id, true)
					nAck.Add(1)
				}
			}
		}()
	}
	eventually.True(t, 60*time.Second, 20*time.Millisecond, func() bool { return nAck.Load() >= 1500 }, "load under way")
	n.stop() // SIGTERM; fails the test unless the exit is clean
	cancel()
	wg.Wait()
	n.start()
	eventually.True(t, 60*time.Second, 20*time.Millisecond, func() bool {
		return n.messageCount(aliceToken, false) >= int(nAck.Load())
	}, "acknowledged messages applied")
	if got := n.metric("switchboard_records_skipped_total", `reason="replay"`); got != 0 {
		t.Errorf("after a graceful stop %v items were replayed: offsets were not committed for everything applied", got)
	}
	n.stop()
	counts := storedMessages(t, n, "acme")
	missing := 0
	acked.Range(func(k, _ any) bool {
		if counts[k.(string)] != 1 {
			missing++
		}
		return true
	})
	if missing > 0 {
		t.Errorf("%d acknowledged messages not stored exactly once", missing)
	}
	t.Logf("SIGTERM after %d acknowledged webhooks: all stored once, none replayed", nAck.Load())
}
