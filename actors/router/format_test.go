package router

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/store/storetest"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/broker"
	"github.com/switchboard-hq/switchboard/ingest/broker/brokertest"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// TestMixedFormatsApplyInOrder: a partition where JSON records (what nodes before the binary layout, or a node with
// --record-format json, wrote) and binary ones alternate, as during a rolling upgrade, is applied in offset order:
// a customer's messages, produced by two producers in turn, are stored in the order they were produced, and no
// record is skipped as undecodable.
func TestMixedFormatsApplyInOrder(t *testing.T) {
	const tn, n = "acme", 12
	b := brokertest.Start(t, brokertest.Config{Topics: []string{inbox.Topic}})
	brokers := []string{b.Addr()}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	producers := map[inbox.Format]*broker.Producer{}
	for _, f := range []inbox.Format{inbox.FormatJSON, inbox.FormatBinary} {
		p, err := broker.NewProducer(broker.ProducerConfig{Brokers: brokers, Format: f})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		producers[f] = p
	}
	wamid := func(i int) string { return fmt.Sprintf("wamid.mixed-%02d", i) }
	msg := func(i int) inbox.Item {
		return inbox.Item{Kind: inbox.KindMessage, Channel: "acme-wa", Message: &inbox.Message{ID: wamid(i),
			From: "15550001", Type: "text", Timestamp: 1700000000 + int64(i), Text: fmt.Sprint("message ", i)}}
	}
	// Produced before the router starts, so it reads the mixed partition in one go: records of one item, JSON and
	// binary in turn, and last a binary record of two items.
	for i := range n - 2 {
		f := inbox.FormatJSON
		if i%2 == 1 {
			f = inbox.FormatBinary
		}
		rec := inbox.Record{Tenant: tn, IngestAt: 1700000000000 + int64(i), Items: []inbox.Item{msg(i)}}
		if err := producers[f].Produce(ctx, []inbox.Record{rec}); err != nil {
			t.Fatal(err)
		}
	}
	last := inbox.Record{Tenant: tn, IngestAt: 1700000001000, Items: []inbox.Item{msg(n - 2), msg(n - 1)}}
	if err := producers[inbox.FormatBinary].Produce(ctx, []inbox.Record{last}); err != nil {
		t.Fatal(err)
	}

	dir, err := tenant.Parse([]byte("tenants:\n  - id: " + tn + "\n    channels:\n" +
		"      - {id: acme-wa, type: whatsapp, phone_number_id: \"acme-1\", app_secret: s, verify_token: v}\n"))
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.Open(t, store.Config{})
	r, err := New(Config{Brokers: brokers, Store: st, Directory: tenant.NewDirectory(dir), Outcomes: outcome.NewRegistry(),
		CommitInterval: 20 * time.Millisecond, Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	go func() { _ = r.Run(ctx) }()

	eventually.True(t, time.Minute, 10*time.Millisecond, func() bool {
		_, _, err := st.MessageRef(tn, wamid(n-1))
		return err == nil
	}, "the last message stored")
	var conv string
	for i := range n {
		c, seq, err := st.MessageRef(tn, wamid(i))
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if conv == "" {
			conv = c
		}
		if c != conv || seq != uint64(i+1) {
			t.Errorf("message %d stored in %s as seq %d, want %s seq %d", i, c, seq, conv, i+1)
		}
	}
	if got := testutil.ToFloat64(r.metrics.skipped.WithLabelValues("bad_record")); got != 0 {
		t.Errorf("%v records skipped as undecodable", got)
	}
}
