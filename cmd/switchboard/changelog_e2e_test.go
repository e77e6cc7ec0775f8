package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/eventually"
)

// TestChangelogRestoresADeletedStore: a node with --changelog takes customer messages and operator commands, is
// stopped, and its store directory is deleted. The inbox offsets are committed, so the inbox will not bring anything
// back: only the changelog can. Started again, the node restores every partition from the changelog before it
// consumes, and answers every read as before: conversations with their messages, operator state, contacts,
// settings and the audit log, of both tenants. Stopped cleanly and started again, it restores from its checkpoints:
// nothing to read.
func TestChangelogRestoresADeletedStore(t *testing.T) {
	n := newNode(t, "--changelog")
	n.start()
	now := time.Now().Unix()
	for i := range 3 {
		from := fmt.Sprintf("2784000010%d", i)
		n.deliver(acmePhone, acmeSecret, textMsg(from, fmt.Sprintf("wamid.cl-a%d", i), "where is my parcel", now))
		n.deliver(acmePhone, acmeSecret, textMsg(from, fmt.Sprintf("wamid.cl-b%d", i), "order 55"+fmt.Sprint(i), now+1))
	}
	for i := range 2 {
		n.deliver(betaPhone, betaSecret, textMsg(fmt.Sprintf("2784000020%d", i), fmt.Sprintf("wamid.cl-c%d", i), "hola", now))
	}
	eventually.NoError(t, 30*time.Second, 50*time.Millisecond, func() error {
		if a, b := len(n.conversations(aliceToken)), len(n.conversations(betaToken)); a != 3 || b != 2 {
			return fmt.Errorf("%d and %d conversations", a, b)
		}
		return nil
	}, "the customers' conversations")
	n.mustCall("PUT", "/v1/operators/me/availability", aliceToken, map[string]string{"availability": "online"}, 200)
	n.mustCall("PUT", "/v1/operators/me/availability", betaToken, map[string]string{"availability": "away"}, 200)
	n.mustCall("PATCH", "/v1/settings", aliceToken, map[string]any{"auto_close_after": "3h"}, 200)
	n.mustCall("POST", "/v1/contacts", aliceToken, map[string]any{"phone": "+1 555 123 0001", "name": "Ana Souza"}, 201)
	var closed string
	eventually.NoError(t, 30*time.Second, 50*time.Millisecond, func() error {
		for _, c := range n.conversations(aliceToken) {
			if c.AssigneeID == "alice" {
				closed = c.ID
				return nil
			}
		}
		return fmt.Errorf("nothing assigned to alice")
	}, "a conversation routed to alice")
	n.mustCall("POST", "/v1/conversations/"+closed+"/close", aliceToken, nil, 200)

	before := settledSnapshot(t, n)
	for _, want := range []string{`"status":"closed"`, `"availability":"online"`, `"availability":"away"`, "Ana Souza",
		"where is my parcel", `"auto_close_after":"3h0m0s"`, "settings.changed"} {
		if !strings.Contains(before, want) {
			t.Fatalf("the state before the restart lacks %s:\n%s", want, before)
		}
	}
	n.stop()
	if err := os.RemoveAll(filepath.Join(n.dir, "data", "store")); err != nil {
		t.Fatal(err)
	}
	n.start()
	after := settledSnapshot(t, n)
	if after != before {
		t.Fatalf("after the restore the node answers\n%s\nwant\n%s", after, before)
	}
	if !strings.Contains(n.logs.String(), "partition restored from the changelog") || !strings.Contains(n.logs.String(), "scratch=true") {
		t.Fatalf("no restore from scratch in the logs:\n%s", n.logs)
	}

	// A clean stop leaves checkpoints: the next start reads nothing from the changelog and answers the same.
	n.stop()
	mark := len(n.logs.String())
	n.start()
	if again := settledSnapshot(t, n); again != before {
		t.Fatalf("after a clean restart the node answers\n%s\nwant\n%s", again, before)
	}
	restarted := n.logs.String()[mark:]
	if strings.Count(restarted, "partition restored from the changelog") != 4 || strings.Contains(restarted, "scratch=true") ||
		regexp.MustCompile(`(records|seeded)=[1-9]`).MatchString(restarted) {
		t.Fatalf("after a clean stop the restores were not from the checkpoints:\n%s", restarted)
	}
}

// TestChangelogKill9AndDiskLoss: a node with --changelog is killed with SIGKILL during a burst of webhooks and its
// store directory is deleted, as if the disk died with it. Restarted, it restores from the changelog (from scratch:
// a crashed store has no checkpoint) and replays the inbox records it had not committed: every acknowledged message
// is stored exactly once, none that was never sent, all indexed. Writes synced to Pebble but never acknowledged by
// the changelog are lost with the disk, and the records that made them were not committed, so they are applied again.
func TestChangelogKill9AndDiskLoss(t *testing.T) {
	n := newNode(t, "--changelog")
	n.start()
	killDuringBurst(t, n, func() {
		if err := os.RemoveAll(filepath.Join(n.dir, "data", "store")); err != nil {
			t.Fatal(err)
		}
	})
	if !strings.Contains(n.logs.String(), "scratch=true") {
		t.Fatalf("no restore from scratch in the logs:\n%s", n.logs)
	}
}

// settledSnapshot reads everything the API answers of both tenants, once two reads a moment apart agree.
func settledSnapshot(t *testing.T, n *node) string {
	t.Helper()
	read := func() string {
		var b strings.Builder
		for _, tok := range []string{aliceToken, betaToken} {
			for _, path := range []string{"/v1/conversations?sort=created&order=asc&limit=500", "/v1/operators",
				"/v1/contacts?limit=500"} {
				code, body := n.get(path, tok)
				fmt.Fprintf(&b, "%s %s %d %s\n", tok[:5], path, code, body)
			}
			for _, c := range n.conversations(tok) {
				code, body := n.get("/v1/conversations/"+c.ID+"/messages", tok)
				fmt.Fprintf(&b, "%s messages of %s %d %s\n", tok[:5], c.ID, code, body)
			}
		}
		// Settings and the audit log are the admin's (an operator's refused read would be audited).
		for _, path := range []string{"/v1/settings", "/v1/audit"} {
			code, body := n.get(path, aliceToken)
			fmt.Fprintf(&b, "%s %d %s\n", path, code, body)
		}
		return b.String()
	}
	var snap string
	eventually.NoError(t, 30*time.Second, 200*time.Millisecond, func() error {
		a := read()
		time.Sleep(300 * time.Millisecond)
		if b := read(); a != b {
			return fmt.Errorf("the state is still changing")
		}
		snap = a
		return nil
	}, "a settled state")
	return snap
}
