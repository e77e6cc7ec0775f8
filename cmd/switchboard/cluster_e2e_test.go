package main_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/segmentio/kafka-go"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/api/cluster"
	"github.com/switchboard-hq/switchboard/ingest/broker"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

const e2eClusterSecret = "e2e-cluster-secret-0123456789"

// startCluster runs `switchboard broker` and n router nodes on loopback sharing it (the changelog on, the cluster
// secret set), and waits until the membership records show every node owning partitions in one generation.
func startCluster(t *testing.T, count int, config string) (*brokerProc, []*node) {
	t.Helper()
	br := startBroker(t, freeAddr(t), t.TempDir())
	var nodes []*node
	// The secret goes in the environment, as the README says (a flag would show in ps).
	t.Setenv("SWITCHBOARD_CLUSTER_SECRET", e2eClusterSecret)
	for range count {
		n := newNodeConfig(t, config, "--kafka-brokers", br.addr, "--changelog")
		n.start()
		nodes = append(nodes, n)
	}
	eventually.NoError(t, 60*time.Second, 100*time.Millisecond, func() error {
		tb, err := readMembers(br.addr)
		if err != nil {
			return err
		}
		owned := map[string]bool{}
		for p := range 4 {
			o, ok := tb.Owner(p)
			if !ok {
				return fmt.Errorf("partition %d has no owner yet", p)
			}
			owned[o.URL] = true
		}
		for _, n := range nodes {
			if !owned["http://"+n.http] {
				return fmt.Errorf("node %s owns no partition yet (%v)", n.http, tb.Members())
			}
		}
		return nil
	}, "every node owns partitions")
	return br, nodes
}

// readMembers folds switchboard.members, read from its start to its end, into an owner table.
func readMembers(addr string) (*cluster.Table, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := kafka.DialLeader(ctx, "tcp", addr, cluster.Topic, 0)
	if err != nil {
		return nil, err
	}
	last, err := conn.ReadLastOffset()
	conn.Close()
	if err != nil {
		return nil, err
	}
	tb := cluster.NewTable(0, nil)
	if last == 0 {
		return tb, nil
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: cluster.Topic, Partition: 0, MaxWait: inbox.FetchWait(100 * time.Millisecond)})
	defer r.Close()
	if err := r.SetOffset(kafka.FirstOffset); err != nil {
		return nil, err
	}
	for {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			return nil, err
		}
		if m.Value == nil {
			tb.Remove(string(m.Key))
		} else if rec, err := cluster.DecodeMember(m.Value); err == nil {
			tb.Update(rec)
		} else {
			return nil, err
		}
		if m.Offset >= last-1 {
			return tb, nil
		}
	}
}

// ownerOf is the node that owns tenant's partition now, and another one.
func ownerOf(t *testing.T, br *brokerProc, nodes []*node, tenant string) (owner, other *node) {
	t.Helper()
	tb, err := readMembers(br.addr)
	if err != nil {
		t.Fatal(err)
	}
	o, ok := tb.Owner(broker.Partitioner(4)(tenant))
	if !ok {
		t.Fatalf("no owner of %s", tenant)
	}
	for _, n := range nodes {
		if "http://"+n.http == o.URL {
			owner = n
		} else if other == nil {
			other = n
		}
	}
	if owner == nil {
		t.Fatalf("the owner of %s, %s, is none of the nodes", tenant, o.URL)
	}
	return owner, other
}

// TestAnyNodeAnswers: a broker process and two router nodes. A customer writes to a tenant through the node that does
// not own it (webhooks are taken by every node); that node answers the tenant's calls with the owner's data (the
// same JSON as the owner's own answer), takes a command on it (the outcome comes from the owner), and another
// tenant's token still gets 404 for its ids on both nodes.
func TestAnyNodeAnswers(t *testing.T) {
	br, nodes := startCluster(t, 2, testConfigY)
	for _, tc := range []struct {
		tenant, token, phone, secret, otherToken string
	}{{"acme", aliceToken, acmePhone, acmeSecret, betaToken}, {"beta", betaToken, betaPhone, betaSecret, aliceToken}} {
		owner, other := ownerOf(t, br, nodes, tc.tenant)
		t.Logf("%s is owned by %s; calls go through %s", tc.tenant, owner.http, other.http)
		from := "2784000" + fmt.Sprint(len(tc.tenant))
		other.deliver(tc.phone, tc.secret, textMsg(from, "wamid.any-"+tc.tenant, "hello from "+tc.tenant, time.Now().Unix()))
		conv := conversation.ID(tc.tenant+"-wa", from)
		eventually.True(t, 20*time.Second, 20*time.Millisecond, func() bool {
			code, v := other.conversation(tc.token, conv)
			return code == 200 && v.InboundCount == 1
		}, "%s's conversation through the node that does not own it", tc.tenant)
		// A command through the other node: the owner applies it and its outcome comes back.
		other.mustCall("POST", "/v1/conversations/"+conv+"/notes", tc.token, map[string]string{"text": "noted on any node"}, 201)
		eventually.NoError(t, 20*time.Second, 20*time.Millisecond, func() error {
			c1, direct := owner.get("/v1/conversations/"+conv, tc.token)
			c2, through := other.get("/v1/conversations/"+conv, tc.token)
			if c1 != 200 || c2 != 200 || string(direct) != string(through) {
				return fmt.Errorf("owner %d %s\nthrough the other node %d %s", c1, direct, c2, through)
			}
			if _, v := other.conversation(tc.token, conv); !slices.ContainsFunc(v.Messages, func(m conversation.Message) bool {
				return m.Text == "noted on any node"
			}) {
				return errors.New("the note is not there yet")
			}
			return nil
		}, "the same answer from the owner and through the other node")
		// Another tenant's token: 404 on both nodes, owner or not.
		for _, n := range []*node{owner, other} {
			n.refused("GET", "/v1/conversations/"+conv, tc.otherToken, nil, 404, "conversation_not_found")
			n.refused("POST", "/v1/conversations/"+conv+"/notes", tc.otherToken, map[string]string{"text": "x"}, 404, "conversation_not_found")
		}
	}
	// A forward signed with another secret is refused (401 forward_refused), one signed with the cluster's is
	// answered: the owner takes the signed identity only from its peers.
	owner, _ := ownerOf(t, br, nodes, "acme")
	const ident = `{"tenant":"acme","operator":"alice"}`
	for secret, want := range map[string]int{"not-the-cluster-secret": 401, e2eClusterSecret: 200} {
		req, err := http.NewRequest("GET", owner.url("/v1/conversations"), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(cluster.HeaderIdentity, ident)
		req.Header.Set(cluster.HeaderFrom, "test")
		req.Header.Set(cluster.HeaderForward, cluster.Sign([]byte(secret), cluster.Signed{Method: "GET",
			RequestURI: "/v1/conversations", Identity: ident, From: "test"}, time.Now()))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("a forward signed with %q: %d %s, want %d", secret, resp.StatusCode, b, want)
		}
	}
	for _, n := range nodes {
		if strings.Contains(n.logs.String(), e2eClusterSecret) {
			t.Errorf("the cluster secret is in the logs of %s", n.http)
		}
	}
}

// TestConsoleThroughAnyNode: with a broker process and two nodes, an operator signs in on the node that does not own
// her tenant: the inbox (the owner's data) loads, a customer who writes through the owner appears live, attending
// the conversation (a command, with the node-local session and its CSRF token) works, and a second customer's
// message arrives without a reload.
func TestConsoleThroughAnyNode(t *testing.T) {
	br, nodes := startCluster(t, 2, conConfig)
	owner, other := ownerOf(t, br, nodes, "acme")
	t.Logf("acme is owned by %s; the console is on %s", owner.http, other.http)
	alice := newBrowser(t)
	alice.signIn(other, conAlice, "")
	customerWrites(t, owner, named("4915112345678", "Lena Fischer", "wamid.any-l1", "Can I change my delivery address?", time.Now()))
	alice.openRow("Lena Fischer")
	alice.run(chromedp.WaitVisible(chromedp.CSS(`#attend`)))
	alice.click(`#attend`)
	alice.text(`#conv-status`, "Open")
	// The owner agrees: the command went to it.
	eventually.True(t, 10*time.Second, 20*time.Millisecond, func() bool {
		code, v := owner.conversation(conAlice, conversation.ID("acme-wa", "4915112345678"))
		return code == 200 && v.Status == conversation.Assigned
	}, "the owner has the conversation assigned")
	customerWrites(t, other, named("33612345678", "Camille Durand", "wamid.any-l2", "Bonjour, do you ship to Lyon?", time.Now()))
	alice.click(`#tab-unassigned`)
	alice.text(`#conv-list .row-name`, "Camille Durand")
	alice.waitJS(`document.querySelector('#tab-unassigned .count')?.innerText === '1'`, "Unassigned counts 1 (the owner's counts)")
	alice.waitJS(`document.querySelector('#tab-mine .count')?.innerText === '1'`, "Mine counts 1")
	alice.screenshot("console-any-node")
}
