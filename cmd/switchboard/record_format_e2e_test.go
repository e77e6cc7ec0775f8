package main_test

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// TestRecordFormatUpgrade runs the last step of a rolling upgrade on one node: with --record-format json it produces
// JSON records (what routers before the binary layout read); restarted without it, binary ones; its router applies
// both, in order, in one conversation. A format the node does not know stops the start. (The store's values under
// the same flag: actors/store TestJSONValuesForARollingUpgrade.)
func TestRecordFormatUpgrade(t *testing.T) {
	n := newNode(t, "--record-format", "json")
	n.start()
	ts := time.Now().Add(-time.Hour).Unix()
	convID := conversation.ID("acme-wa", "27820000071")
	messages := func(want int) []conversation.Message {
		t.Helper()
		var v convView
		eventually.True(t, 30*time.Second, 20*time.Millisecond, func() bool {
			code, got := n.conversation(aliceToken, convID)
			v = got
			return code == 200 && len(got.Messages) == want
		}, "the conversation's messages stored")
		return v.Messages
	}
	n.deliver(acmePhone, acmeSecret, textMsg("27820000071", "wamid.fmt-1", "before", ts))
	messages(1)
	values := inboxValues(t, n.kafka)
	if len(values) != 1 || values[0][0] != '{' {
		t.Fatalf("with --record-format json the inbox holds %q, want one JSON record", values)
	}

	n.stop()
	n.extra = nil
	n.start()
	n.deliver(acmePhone, acmeSecret, textMsg("27820000071", "wamid.fmt-2", "after", ts+1))
	got := messages(2)
	if got[0].ID != "wamid.fmt-1" || got[1].ID != "wamid.fmt-2" {
		t.Errorf("messages %s, %s; want wamid.fmt-1, wamid.fmt-2", got[0].ID, got[1].ID)
	}
	values = inboxValues(t, n.kafka)
	if len(values) != 2 || values[1][0] == '{' {
		t.Fatalf("by default the inbox holds %q, want a JSON record and then a binary one", values)
	}
	for i, v := range values {
		if _, err := inbox.Decode(v); err != nil {
			t.Errorf("record %d: %v", i, err)
		}
	}

	out, err := exec.Command(binary, "serve", "--record-format", "xml", "--data-dir", filepath.Join(t.TempDir(), "data"),
		"--http-addr", freeAddr(t), "--embedded-kafka-addr", freeAddr(t)).CombinedOutput()
	if err == nil || !strings.Contains(string(out), `inbox format "xml"`) {
		t.Errorf("serve --record-format xml: %v\n%s", err, out)
	}
}

// inboxValues reads the records of switchboard.inbox from the broker at addr that carry this test's messages, in
// order (they are one tenant's, so in one partition).
func inboxValues(t *testing.T, addr string) [][]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A transport of its own: kafka-go's default one keeps connections to the broker the node had before a restart.
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	c := &kafka.Client{Addr: kafka.TCP(addr), Transport: tr}
	meta, err := c.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{inbox.Topic}})
	if err != nil || len(meta.Topics) != 1 {
		t.Fatalf("metadata of %s: %v", inbox.Topic, err)
	}
	var out [][]byte
	for _, p := range meta.Topics[0].Partitions {
		res, err := c.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{
			inbox.Topic: {kafka.LastOffsetOf(p.ID)}}})
		if err != nil {
			t.Fatal(err)
		}
		end := res.Topics[inbox.Topic][0].LastOffset
		if end <= 0 {
			continue
		}
		rd := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: inbox.Topic, Partition: p.ID,
			MaxWait: inbox.FetchWait(50 * time.Millisecond)})
		for range end {
			m, err := rd.ReadMessage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(m.Value, []byte("wamid.fmt-")) {
				out = append(out, m.Value)
			}
		}
		_ = rd.Close()
	}
	return out
}
