package router

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchboard-hq/switchboard/actors/contact"
	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// TestIDFilter adds a million ids through the filter's growth: none is missed, and ids never added are reported
// present at about the rate the sizing promises.
func TestIDFilter(t *testing.T) {
	const n = 1_000_000
	f := newIDFilter(0)
	for i := range n {
		f.add(conversation.ContactID(strconv.Itoa(i)))
	}
	for i := range n {
		if id := conversation.ContactID(strconv.Itoa(i)); !f.mayHave(id) {
			t.Fatalf("id %d (%s) added and not found", i, id)
		}
	}
	fp := 0
	for i := n; i < 2*n; i++ {
		if f.mayHave(conversation.ContactID(strconv.Itoa(i))) {
			fp++
		}
	}
	// 0.8 % per filter, five filters to hold a million.
	if rate := float64(fp) / n; rate > 0.05 {
		t.Errorf("false positive rate %.3f over %d filters", rate, len(f.filters))
	}
	if b := f.bytes(); b > 5*n*filterBitsPerID/8/2 {
		t.Errorf("%d bytes for %d ids", b, n)
	}
	t.Logf("%d ids: %d filters, %d bytes, false positives %.2f %%", n, len(f.filters), f.bytes(), 100*float64(fp)/n)
}

// TestImportFilterFromStore imports into a store that already holds contacts, with a catalogue that starts empty
// (a restarted node): the rows of the stored contacts are read (unchanged, updated), the new ones are not, and a
// contact created after the filter was built is found by the next import.
func TestImportFilterFromStore(t *testing.T) {
	a, st, outcomes := newTestCatalogue(t, nil)
	offset := int64(0)
	importBatch := func(a *catalogueActor, importID string, rows ...inbox.ContactInput) *contact.ImportResult {
		t.Helper()
		offset++
		reqID := fmt.Sprintf("r%d", offset)
		ch, cancel := outcomes.Register(reqID)
		defer cancel()
		ack := &recordAck{finish: func() {}}
		ack.remaining.Store(1)
		cmd := &inbox.Command{RequestID: reqID, Type: "contact_import", ImportID: importID, Contacts: rows}
		m := &catalogueMsg{item: &inbox.Item{Kind: inbox.KindCommand, Command: cmd},
			pos: conversation.Position{Offset: offset}, at: time.Unix(1000, 0), ack: ack}
		if err := a.importRows(m); err != nil {
			t.Fatal(err)
		}
		select {
		case res := <-ch:
			return res.Body.(*contact.ImportResult)
		case <-time.After(10 * time.Second):
			t.Fatal("no outcome")
			return nil
		}
	}
	name := func(s string) *string { return &s }
	row := func(line int, phone, n string) inbox.ContactInput {
		return inbox.ContactInput{Line: line, Phone: phone, Name: name(n)}
	}
	if r := importBatch(a, "imp1", row(2, "+15550001", "Ana"), row(3, "+15550002", "Bea")); r.Created != 2 {
		t.Fatalf("first import %+v", r)
	}
	a.pipe.close()
	reads := testutil.ToFloat64(a.r.metrics.importReads)

	// A new catalogue over the same store, as after a restart.
	b := &catalogueActor{r: a.r, tenant: "acme", profiles: map[string]string{}}
	defer func() { b.pipe.close() }()
	r := importBatch(b, "imp2", row(2, "+15550001", "Ana"), row(3, "+15550002", "Bea B"), row(4, "+15550003", "Carl"))
	if r.Unchanged != 1 || r.Updated != 1 || r.Created != 1 {
		t.Errorf("import over the stored contacts %+v: want 1 unchanged, 1 updated, 1 created", r)
	}
	// The two stored contacts were read; Carl's id was not, unless the filter gave a false positive (under 1 %
	// for one id in a filter of 2).
	if got := testutil.ToFloat64(b.r.metrics.importReads) - reads; got != 2 && got != 3 {
		t.Errorf("%v contacts read, want the 2 stored", got)
	}

	// contact_create after the filter was built: the next import must find the contact.
	ch, cancel := outcomes.Register("create")
	defer cancel()
	ack := &recordAck{finish: func() {}}
	ack.remaining.Store(1)
	offset++
	b.pipe.drain()
	m := &catalogueMsg{item: &inbox.Item{Kind: inbox.KindCommand, Command: &inbox.Command{RequestID: "create",
		Type: "contact_create", Contact: &inbox.ContactInput{Phone: "+15550004", Name: name("Dan")}}},
		pos: conversation.Position{Offset: offset}, at: time.Unix(1000, 0), ack: ack}
	if err := b.upsert(m); err != nil {
		t.Fatal(err)
	}
	if res := <-ch; res.Code != "" {
		t.Fatalf("create: %+v", res)
	}
	if r := importBatch(b, "imp3", row(2, "+15550004", "Dan")); r.Unchanged != 1 {
		t.Errorf("import of a contact created after the filter %+v: want unchanged", r)
	}
	if c, err := st.Contact("acme", conversation.ContactID("15550004")); err != nil || c.Name != "Dan" {
		t.Errorf("stored %+v, %v", c, err)
	}
}
