package router

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-hq/switchboard/actors/contact"
	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/store/storetest"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// BenchmarkCatalogueImport applies contact_import batches of 500 new rows (name and three fields each) to a Pebble
// store on disk, as the catalogue does, and reports rows/s: the router's share of an import's budget (issue 12:
// 50,000 rows/s). Batches commit without waiting for each other's fsync, as in the router.
func BenchmarkCatalogueImport(b *testing.B) {
	a, _, _ := newTestCatalogue(b, contact.Schema{
		{Key: "city", Type: contact.TypeText}, {Key: "plan", Type: contact.TypeChoice, Choices: []string{"basic", "premium"}},
		{Key: "vip", Type: contact.TypeBoolean}})
	const batch = 500
	name := "Ana Maria Souza"
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	rows := 0
	for i := 0; i < b.N; i++ {
		cmd := &inbox.Command{RequestID: "r" + strconv.Itoa(i), Type: "contact_import", OperatorID: "admin", ImportID: "imp"}
		for j := range batch {
			n := i*batch + j
			cmd.Contacts = append(cmd.Contacts, inbox.ContactInput{Line: n + 2, Phone: fmt.Sprintf("+1555%07d", n),
				Name: &name, Fields: map[string]json.RawMessage{"city": json.RawMessage(`"Lisboa"`), "plan": json.RawMessage(`"basic"`), "vip": json.RawMessage(`"yes"`)}})
		}
		wg.Add(1)
		ack := &recordAck{finish: wg.Done}
		ack.remaining.Store(1)
		m := &catalogueMsg{item: &inbox.Item{Kind: inbox.KindCommand, Command: cmd}, pos: conversation.Position{Offset: int64(i)},
			at: start, ack: ack}
		if err := a.importRows(m); err != nil {
			b.Fatal(err)
		}
		rows += batch
	}
	wg.Wait()
	if a.pipe != nil {
		a.pipe.close()
	}
	b.ReportMetric(float64(rows)/time.Since(start).Seconds(), "rows/s")
}

// newTestCatalogue is tenant acme's catalogue on a store on disk, outside any actor system: the tests and the
// benchmark call its handlers directly.
func newTestCatalogue(tb testing.TB, schema contact.Schema) (*catalogueActor, *store.Store, *outcome.Registry) {
	st := storetest.Open(tb, store.Config{})
	outcomes := outcome.NewRegistry()
	r, err := New(Config{Brokers: []string{"127.0.0.1:1"}, Store: st, Directory: tenant.NewDirectory(nil),
		Outcomes: outcomes, Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = r.Close() })
	return &catalogueActor{r: r, tenant: "acme", profiles: map[string]string{}, schema: schema}, st, outcomes
}
