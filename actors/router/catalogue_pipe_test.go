package router

import (
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/contact"
	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// TestImportPipeReadsPending holds the import pipe so that a batch is decided while the one before it is not
// applied yet: the second batch must see the first's contacts (a phone the first wrote is a duplicate of its line),
// and no outcome comes before its batch is applied.
func TestImportPipeReadsPending(t *testing.T) {
	a, st, outcomes := newTestCatalogue(t, nil)
	a.pipe = newImportPipe()
	defer a.pipe.close()

	// The pipe is held until release closes.
	release := make(chan struct{})
	a.pipe.in <- func() { <-release }

	var waits []<-chan outcome.Result
	importBatch := func(i int, importID string, rows ...inbox.ContactInput) {
		t.Helper()
		reqID := "r" + string(rune('0'+i))
		ch, cancel := outcomes.Register(reqID)
		t.Cleanup(cancel)
		waits = append(waits, ch)
		ack := &recordAck{finish: func() {}}
		ack.remaining.Store(1)
		cmd := &inbox.Command{RequestID: reqID, Type: "contact_import", ImportID: importID, Contacts: rows}
		m := &catalogueMsg{item: &inbox.Item{Kind: inbox.KindCommand, Command: cmd},
			pos: conversation.Position{Offset: int64(i)}, at: time.Unix(1000, 0), ack: ack}
		if err := a.importRows(m); err != nil {
			t.Fatal(err)
		}
	}
	name := func(s string) *string { return &s }
	// The pipe holds at most pipeDepth batches: both wait while it is held.
	importBatch(0, "imp1", inbox.ContactInput{Line: 2, Phone: "+15550001", Name: name("Ana")})
	importBatch(1, "imp1", inbox.ContactInput{Line: 3, Phone: "+15550001", Name: name("Ana again")},
		inbox.ContactInput{Line: 4, Phone: "+15550002", Name: name("Bea")})
	if _, err := st.Contact("acme", conversation.ContactID("15550001")); err == nil {
		t.Fatal("a batch was applied while the pipe was held")
	}
	for i, ch := range waits {
		select {
		case res := <-ch:
			t.Fatalf("batch %d answered %+v before it was applied", i, res)
		default:
		}
	}
	close(release)
	results := make([]outcome.Result, len(waits))
	for i, ch := range waits {
		select {
		case results[i] = <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("batch %d: no outcome", i)
		}
	}

	rows := func(i int) []contact.ImportRow { return results[i].Body.(*contact.ImportResult).Rows }
	if r := rows(1); r[0].Code != contact.CodeDuplicatePhone || r[1].Result != contact.Created {
		t.Errorf("second batch %+v: want line 3 a duplicate of line 2 (not applied yet), line 4 created", r)
	}
	for phone, want := range map[string]string{"15550001": "Ana", "15550002": "Bea"} {
		if c, err := st.Contact("acme", conversation.ContactID(phone)); err != nil || c.Name != want {
			t.Errorf("stored %+v, %v: want %s", c, err, want)
		}
	}
}
