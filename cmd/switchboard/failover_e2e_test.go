package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/ingest/broker"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/meta"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/sim"
)

// The failover test's cluster: a `switchboard broker` process, the WhatsApp simulator and router nodes started with
// --changelog against the broker (README, "Failover").
const (
	foPartitions = 4
	foTenants    = 8
	foCapacity   = 3
)

func foTenant(i int) string      { return fmt.Sprintf("fo%d", i) }
func foPhone(i int) string       { return fmt.Sprintf("7100%02d", i) }
func foSecret(i int) string      { return fmt.Sprintf("fo-secret-%02d", i) }
func foToken(i int) string       { return fmt.Sprintf("fo-token-%02d-0000000000", i) }
func foPartition(i int) int      { return broker.Partitioner(foPartitions)(foTenant(i)) }
func foCustomer(i, c int) string { return fmt.Sprintf("1555%02d%04d", i, c) }

func foConfig() string {
	var b strings.Builder
	b.WriteString("tenants:\n")
	for i := range foTenants {
		fmt.Fprintf(&b, `  - id: %s
    channels:
      - id: %s-wa
        type: whatsapp
        phone_number_id: "%s"
        app_secret: "%s"
        verify_token: "verify-%02d"
        access_token: "access-%02d"
        rate_limit: 500
    operators:
      - id: op
        role: admin
        capacity: %d
        token: "%s"
`, foTenant(i), foTenant(i), foPhone(i), foSecret(i), i, i, foCapacity, foToken(i))
	}
	return b.String()
}

// foCluster is the nodes of the failover test; a node is nil once killed for good.
type foCluster struct {
	t      *testing.T
	broker string
	simURL string
	mu     sync.Mutex
	nodes  []*node
	paused *node // SIGSTOPped: not asked anything

	replies int // answered 201

	ackMu sync.Mutex
	acked map[int]map[string]bool // tenant → wamids a node answered 200
	notes map[int]map[string]bool // tenant → texts of the background load's notes, true once answered 201
}

func (c *foCluster) add() *node {
	n := newNodeConfig(c.t, foConfig(), "--kafka-brokers", c.broker, "--changelog", "--whatsapp-api-url", c.simURL)
	c.mu.Lock()
	c.nodes = append(c.nodes, n)
	c.mu.Unlock()
	n.start()
	return n
}

func (c *foCluster) live() []*node {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*node
	for _, n := range c.nodes {
		if n == c.paused {
			continue
		}
		select {
		case <-n.exited:
		default:
			out = append(out, n)
		}
	}
	return out
}

// owners asks every live node which partitions it owns (switchboard_partition_owned) and returns partition →
// node; a partition two nodes claim (one of them about to learn it lost it) is left out.
func (c *foCluster) owners() map[int]*node {
	out, seen := map[int]*node{}, map[int]int{}
	for _, n := range c.live() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		code, body, err := sendRequest(ctx, client, http.MethodGet, n.url("/metrics"), "", "", nil)
		cancel()
		if err != nil || code != 200 {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			rest, ok := strings.CutPrefix(sc.Text(), `switchboard_partition_owned{partition="`)
			if !ok {
				continue
			}
			p, err := strconv.Atoi(rest[:strings.IndexByte(rest, '"')])
			if err != nil {
				c.t.Fatalf("owned gauge %q", sc.Text())
			}
			out[p] = n
			seen[p]++
		}
	}
	for p, k := range seen {
		if k > 1 {
			delete(out, p)
		}
	}
	return out
}

// allOwned waits until every partition has one owner among the live nodes and returns how long it took.
func (c *foCluster) allOwned(what string) time.Duration {
	start := time.Now()
	eventually.True(c.t, 90*time.Second, 50*time.Millisecond, func() bool { return len(c.owners()) == foPartitions },
		"%s: every partition owned by one live node", what)
	return time.Since(start)
}

// call makes an API call for tenant i on its partition's owner, retrying (another owner, a 5xx, no answer) until
// it is answered with want.
func (c *foCluster) call(i int, method, path string, body any, want int) []byte {
	c.t.Helper()
	var out []byte
	eventually.NoError(c.t, 90*time.Second, 100*time.Millisecond, func() error {
		n := c.owners()[foPartition(i)]
		if n == nil {
			return fmt.Errorf("partition %d has no owner", foPartition(i))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		code, b, err := apiCall(ctx, client, n.url(path), method, foToken(i), body)
		if err != nil || code != want {
			return fmt.Errorf("%s %s on %s: %d %v %s", method, path, n.http, code, err, b)
		}
		out = b
		return nil
	}, "%s %s for tenant %s", method, path, foTenant(i))
	return out
}

// load posts webhooks from new customers of every tenant to the live nodes in turn until stop is closed or max
// were posted (a bounded load beside the test's own steps); a post that fails is tried on the next node, up to
// three times, and only those answered 200 are noted. It returns how many were acknowledged.
func (c *foCluster) load(stop <-chan struct{}, round, max int) int {
	acked := 0
	for k := 0; k < max; k++ {
		select {
		case <-stop:
			return acked
		default:
		}
		i := k % foTenants
		wamid := fmt.Sprintf("wamid.fo.load.%d.%d", round, k)
		body := meta.Payload(meta.Change{PhoneNumberID: foPhone(i),
			Messages: []meta.Message{textMsg(foCustomer(i, 100+round*1000+k), wamid, "hello", time.Now().Unix())}})
		for try := range 3 {
			live := c.live()
			n := live[(k+try)%len(live)]
			req, _ := http.NewRequest(http.MethodPost, n.url("/webhooks/whatsapp"), bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(meta.SignatureHeader, meta.Sign(foSecret(i), body))
			resp, err := client.Do(req)
			if err != nil {
				continue
			}
			resp.Body.Close()
			if resp.StatusCode == 200 {
				c.ackMu.Lock()
				c.acked[i][wamid] = true
				c.ackMu.Unlock()
				acked++
				if k%3 == 0 {
					c.note(i, conversation.ID(foTenant(i)+"-wa", foCustomer(i, 100+round*1000+k)), fmt.Sprintf("note %d.%d", round, k))
				}
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return acked
}

// note posts an operator's note on conversation id of tenant i to its partition's owner, once (an operator command
// beside the customers' messages; ordered after the message that creates the conversation, on the same partition).
// A note answered 201 must be stored exactly once; one not answered (its node died, the partition moved) at most
// once — commands carry no idempotency key, so the load does not retry them.
func (c *foCluster) note(i int, id, text string) {
	n := c.owners()[foPartition(i)]
	if n == nil {
		return
	}
	c.ackMu.Lock()
	c.notes[i][text] = false
	c.ackMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code, _, err := apiCall(ctx, client, n.url("/v1/conversations/"+id+"/notes"), http.MethodPost, foToken(i),
		map[string]string{"text": text})
	if err == nil && code == http.StatusCreated {
		c.ackMu.Lock()
		c.notes[i][text] = true
		c.ackMu.Unlock()
	}
}

// background runs load in a goroutine; the returned function stops it and returns how many were acknowledged.
func (c *foCluster) background(round, max int) func() int {
	stop, done := make(chan struct{}), make(chan int, 1)
	go func() { done <- c.load(stop, round, max) }()
	return func() int { close(stop); return <-done }
}

// webhooks posts one message from each of customers of every tenant, each to a live node in turn, and notes the
// acknowledged wamids; a refused or unanswered post goes to the next node.
func (c *foCluster) webhooks(round int, customers []int) {
	c.t.Helper()
	k := 0
	for i := range foTenants {
		for _, cu := range customers {
			wamid := fmt.Sprintf("wamid.fo.%d.%d.%d", i, cu, round)
			body := meta.Payload(meta.Change{PhoneNumberID: foPhone(i),
				Messages: []meta.Message{textMsg(foCustomer(i, cu), wamid, "hello", time.Now().Unix())}})
			eventually.NoError(c.t, 60*time.Second, 50*time.Millisecond, func() error {
				live := c.live()
				n := live[k%len(live)]
				k++
				req, _ := http.NewRequest(http.MethodPost, n.url("/webhooks/whatsapp"), bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set(meta.SignatureHeader, meta.Sign(foSecret(i), body))
				resp, err := client.Do(req)
				if err != nil {
					return err
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					return fmt.Errorf("webhook to %s: %d", n.http, resp.StatusCode)
				}
				return nil
			}, "webhook %s", wamid)
			c.ackMu.Lock()
			c.acked[i][wamid] = true
			c.ackMu.Unlock()
		}
	}
}

// stored reads tenant i's conversations with their messages from its owner.
func (c *foCluster) stored(i int) []convView {
	var list convList
	if err := json.Unmarshal(c.call(i, http.MethodGet, "/v1/conversations?sort=created&order=asc&limit=500", nil, 200), &list); err != nil {
		c.t.Fatal(err)
	}
	var out []convView
	for _, cv := range list.Conversations {
		var v convView
		if err := json.Unmarshal(c.call(i, http.MethodGet, "/v1/conversations/"+cv.ID, nil, 200), &v); err != nil {
			c.t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// checkInbound waits until every acknowledged webhook of every tenant is stored on its owner, and requires each
// wamid stored once and no operator above capacity.
func (c *foCluster) checkInbound(what string) {
	c.t.Helper()
	for i := range foTenants {
		var last error
		err := eventually.Wait(90*time.Second, 200*time.Millisecond, func() error {
			count, notes := map[string]int{}, map[string]int{}
			assigned := 0
			for _, v := range c.stored(i) {
				if v.AssigneeID != "" {
					assigned++
				}
				for _, m := range v.Messages {
					switch m.Direction {
					case conversation.DirIn:
						count[m.ID]++
					case conversation.DirNote:
						notes[m.Text]++
					}
				}
			}
			if assigned > foCapacity {
				c.t.Fatalf("%s: tenant %s: %d conversations assigned to an operator of capacity %d", what, foTenant(i), assigned, foCapacity)
			}
			c.ackMu.Lock()
			defer c.ackMu.Unlock()
			for w := range c.acked[i] {
				if count[w] != 1 {
					last = fmt.Errorf("%s: tenant %s: acknowledged %s stored %d times", what, foTenant(i), w, count[w])
					return last
				}
			}
			for w, k := range count {
				if !c.acked[i][w] || k != 1 {
					c.t.Fatalf("%s: tenant %s: %s stored %d times, acknowledged %v", what, foTenant(i), w, k, c.acked[i][w])
				}
			}
			for text, k := range notes {
				if ok, sent := c.notes[i][text]; !sent || k > 1 {
					c.t.Fatalf("%s: tenant %s: note %q stored %d times (answered 201: %v)", what, foTenant(i), text, k, ok)
				}
			}
			for text, ok := range c.notes[i] {
				if ok && notes[text] != 1 {
					last = fmt.Errorf("%s: tenant %s: note %q answered 201, stored %d times", what, foTenant(i), text, notes[text])
					return last
				}
			}
			return nil
		})
		if err != nil {
			c.t.Fatalf("%v (last: %v)", err, last)
		}
	}
}

// reply answers every conversation of every tenant assigned to its operator once, through the owner.
func (c *foCluster) reply(round int) {
	for i := range foTenants {
		for _, v := range c.stored(i) {
			if v.AssigneeID == "" {
				continue
			}
			c.call(i, http.MethodPost, "/v1/conversations/"+v.ID+"/messages",
				map[string]string{"type": "text", "text": fmt.Sprintf("reply %d", round)}, 201)
			c.replies++
		}
	}
}

// noReplyTwice requires every message the simulator accepted to have been sent once (by its idempotency key, the
// node's message id).
func noReplyTwice(t *testing.T, s *sim.Sim) int {
	t.Helper()
	seen := map[string]int{}
	for _, m := range s.Messages() {
		seen[m.IdempotencyKey]++
	}
	for k, n := range seen {
		if n != 1 {
			t.Errorf("reply %s sent %d times", k, n)
		}
	}
	return len(seen)
}

// TestFailoverThreeNodes: three router nodes with --changelog share a `switchboard broker` process. Under customer
// webhooks to any node and operator commands and replies through each tenant's owner: kill -9 of one node → its
// partitions are owned (restored) by the others (the time is logged), every acknowledged webhook is stored exactly
// once, no reply reaches the simulator twice, no operator is above capacity; then a rolling restart (SIGTERM, start
// again, each node in turn) loses nothing; then a fourth node joins and takes a share of the partitions.
func TestFailoverThreeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("three nodes and a broker process")
	}
	c := &foCluster{t: t, broker: freeAddr(t), acked: map[int]map[string]bool{}, notes: map[int]map[string]bool{}}
	for i := range foTenants {
		c.acked[i] = map[string]bool{}
		c.notes[i] = map[string]bool{}
	}
	startBroker(t, c.broker, t.TempDir())
	s, err := sim.New(sim.Config{Rate: 500, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	simCtx, simCancel := context.WithCancel(context.Background())
	simDone := make(chan struct{})
	go func() { defer close(simDone); _ = s.Run(simCtx) }()
	t.Cleanup(func() { simCancel(); <-simDone; s.Close() })
	c.simURL = s.URL()
	for range 3 {
		c.add()
	}
	c.allOwned("three nodes")
	for i := range foTenants {
		c.call(i, http.MethodPut, "/v1/operators/me/availability", map[string]string{"availability": "online"}, 200)
	}

	// Before: two customers a tenant, answered.
	c.webhooks(1, []int{1, 2})
	c.checkInbound("before the kill")
	c.reply(1)

	// kill -9 the owner of the most partitions.
	byNode := map[*node]int{}
	for _, n := range c.owners() {
		byNode[n]++
	}
	var victim *node
	for n, k := range byNode {
		if victim == nil || k > byNode[victim] {
			victim = n
		}
	}
	stopLoad := c.background(1, 400)
	killedAt := time.Now()
	victim.kill()
	c.allOwned("after kill -9")
	t.Logf("FAILOVER: kill -9 of the owner of %d of %d partitions: every partition restored and owned by a survivor %.2f s after the kill (session timeout 2 s)",
		byNode[victim], foPartitions, time.Since(killedAt).Seconds())
	c.webhooks(2, []int{1, 3, 4}) // a returning customer and two new ones
	loaded := stopLoad()
	c.checkInbound("after kill -9")
	c.reply(2)

	// Rolling restart: the killed node comes back, then each node in turn stops (SIGTERM) and starts again, with a
	// round of webhooks while it is down.
	victim.start()
	stopLoad = c.background(2, 1000)
	for k, n := range c.live() {
		n.stop()
		c.webhooks(10+k, []int{1, 5 + k})
		n.start()
		c.allOwned(fmt.Sprintf("restart of node %d", k))
	}
	loaded += stopLoad()
	c.checkInbound("after the rolling restart")
	c.reply(3)

	// A fourth node joins and takes its share.
	d := c.add()
	eventually.True(t, 90*time.Second, 100*time.Millisecond, func() bool {
		owners := c.owners()
		mine := 0
		for _, n := range owners {
			if n == d {
				mine++
			}
		}
		return len(owners) == foPartitions && mine > 0
	}, "the fourth node owns a partition")
	c.webhooks(20, []int{1, 9})
	c.checkInbound("after a fourth node joined")
	c.reply(4)

	// A node paused past its session (SIGSTOP): its partitions move; when it resumes (SIGCONT) its leases have
	// expired, so it sends nothing for them (the replies below are made on the new owners), and it stops them without
	// a clean stop (its store copy is restored from scratch if it gets them back).
	before := c.owners()
	var sleeper *node
	for _, n := range before {
		sleeper = n
		break
	}
	_ = sleeper.cmd.Process.Signal(syscall.SIGSTOP)
	c.mu.Lock()
	c.paused = sleeper
	c.mu.Unlock()
	c.allOwned("a node paused")
	c.webhooks(30, []int{1, 10})
	c.checkInbound("a node paused")
	c.reply(5)
	_ = sleeper.cmd.Process.Signal(syscall.SIGCONT)
	c.mu.Lock()
	c.paused = nil
	c.mu.Unlock()
	eventually.True(t, 60*time.Second, 100*time.Millisecond, func() bool {
		return sleeper.metric("switchboard_partitions_revoked_total", `how="lease_expired"`) > 0
	}, "the resumed node stopped its lost partitions as lease_expired")
	c.allOwned("the paused node resumed")
	c.checkInbound("the paused node resumed")

	// Every reply reached the simulator once; wait for the last round's to leave.
	eventually.True(t, 60*time.Second, 100*time.Millisecond, func() bool { return int(s.Stats().Accepted) >= c.replies },
		"every reply sent")
	if n := noReplyTwice(t, s); n != c.replies {
		t.Errorf("%d distinct replies accepted by the simulator, want %d", n, c.replies)
	}
	stored := 0
	for i := range foTenants {
		stored += len(c.acked[i])
	}
	notes := 0
	for i := range foTenants {
		for _, ok := range c.notes[i] {
			if ok {
				notes++
			}
		}
	}
	t.Logf("%d webhooks acknowledged and stored once (%d of them from the background load), %d operators' notes answered 201 and stored once, %d replies sent once, %d nodes",
		stored, loaded, notes, c.replies, len(c.nodes))
}
