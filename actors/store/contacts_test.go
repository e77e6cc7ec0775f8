package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"

	crec "github.com/switchboard-hq/switchboard/actors/contact"
	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/search"
)

func person(wa, name string, fields map[string]string) crec.Contact {
	c := crec.Contact{ID: conversation.ContactID(wa), Phone: "+" + wa, WaID: wa, Name: name, CreatedAt: at, UpdatedAt: at, Version: 1}
	for k, v := range fields {
		if c.Fields == nil {
			c.Fields = map[string]json.RawMessage{}
		}
		c.Fields[k] = json.RawMessage(v)
	}
	return c
}

func ids(list []crec.Contact) []string {
	var out []string
	for i := range list {
		out = append(out, list[i].Name)
	}
	slices.Sort(out)
	return out
}

func TestContactsPutSearchDelete(t *testing.T) {
	s := openStore(t, t.TempDir())
	ana := person("15551230001", "Ana Souza", map[string]string{"city": `"Porto Alegre"`})
	bob := person("15551230002", "Bob Souza", nil)
	eve := person("447700900003", "Eve", map[string]string{"city": `"London"`})
	other := person("15551230001", "Ana Other", nil) // the same phone in another tenant
	commitWait(t, s, func(b *Batch) error {
		for _, c := range []*crec.Contact{&ana, &bob, &eve} {
			if err := b.PutContact("acme", nil, c); err != nil {
				return err
			}
		}
		return b.PutContact("globex", nil, &other)
	})
	got, err := s.Contact("acme", ana.ID)
	if err != nil || got.Name != "Ana Souza" || string(got.Fields["city"]) != `"Porto Alegre"` {
		t.Fatalf("Contact = %+v, %v", got, err)
	}
	search := func(q string, blocked *bool) []string {
		t.Helper()
		list, _, err := s.Contacts("acme", ContactFilter{Query: search.ParseQuery(q), Blocked: blocked})
		if err != nil {
			t.Fatalf("search %q: %v", q, err)
		}
		return ids(list)
	}
	for q, want := range map[string][]string{
		"souza":      {"Ana Souza", "Bob Souza"},
		"sou":        {"Ana Souza", "Bob Souza"},
		"ana":        {"Ana Souza"},
		"souza ana":  {"Ana Souza"},
		"porto":      {"Ana Souza"},
		"+1 555":     {"Ana Souza", "Bob Souza"},
		"0003":       {"Eve"},
		"4477":       {"Eve"},
		"other":      nil,
		"london eve": {"Eve"},
	} {
		if got := search(q, nil); !slices.Equal(got, want) {
			t.Errorf("search %q = %v, want %v", q, got, want)
		}
	}
	// A rename drops the old name's postings.
	renamed := ana
	renamed.Name, renamed.Fields = "Ana Lima", nil
	renamed.Blocked = true
	commitWait(t, s, func(b *Batch) error { return b.PutContact("acme", &ana, &renamed) })
	if got := search("souza", nil); !slices.Equal(got, []string{"Bob Souza"}) {
		t.Errorf("after rename, souza = %v", got)
	}
	if got := search("porto", nil); got != nil {
		t.Errorf("after removing the field, porto = %v", got)
	}
	yes, no := true, false
	if got := search("lima", &yes); !slices.Equal(got, []string{"Ana Lima"}) {
		t.Errorf("blocked lima = %v", got)
	}
	if got := search("lima", &no); got != nil {
		t.Errorf("unblocked lima = %v", got)
	}
	list, _, err := s.Contacts("acme", ContactFilter{Blocked: &yes})
	if err != nil || len(list) != 1 || list[0].ID != ana.ID {
		t.Errorf("blocked list = %v, %v", list, err)
	}
	blocked, err := s.BlockedContacts("acme")
	if err != nil || len(blocked) != 1 || blocked[ana.ID] != ana.WaID {
		t.Errorf("BlockedContacts = %v, %v", blocked, err)
	}
	commitWait(t, s, func(b *Batch) error { return b.DeleteContact("acme", &renamed) })
	if _, err := s.Contact("acme", ana.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted contact: %v", err)
	}
	if blocked, _ := s.BlockedContacts("acme"); len(blocked) != 0 {
		t.Errorf("blocked after delete: %v", blocked)
	}
	// No key of the deleted contact is left: record, postings, blocked entry.
	it, _ := s.DB().NewIter(nil)
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		if k := string(it.Key()); len(k) > 7 && k[:7] == "t/acme/" && slices.Contains([]byte("kru"), k[7]) &&
			(k[len(k)-len(ana.ID):] == ana.ID) {
			t.Errorf("key %q left after delete", k)
		}
	}
	// The other tenant's contact of the same phone is untouched.
	if got, err := s.Contact("globex", other.ID); err != nil || got.Name != "Ana Other" {
		t.Errorf("globex contact = %+v, %v", got, err)
	}
}

func TestContactsPages(t *testing.T) {
	s := openStore(t, t.TempDir())
	const n = 230
	commitWait(t, s, func(b *Batch) error {
		for i := range n {
			c := person(fmt.Sprintf("1555000%04d", i), fmt.Sprintf("Person %d", i), nil)
			if i%2 == 0 {
				c.Name += " even"
			}
			if err := b.PutContact("acme", nil, &c); err != nil {
				return err
			}
		}
		return nil
	})
	walk := func(f ContactFilter) []string {
		var all []string
		for {
			list, next, err := s.Contacts("acme", f)
			if err != nil {
				t.Fatal(err)
			}
			for i := range list {
				if len(all) > 0 && list[i].ID <= all[len(all)-1] {
					t.Fatalf("page out of id order: %s after %s", list[i].ID, all[len(all)-1])
				}
				all = append(all, list[i].ID)
			}
			if next == "" {
				return all
			}
			f.After = next
		}
	}
	if got := walk(ContactFilter{Limit: 50}); len(got) != n {
		t.Errorf("all pages: %d contacts, want %d", len(got), n)
	}
	if got := walk(ContactFilter{Limit: 7, Query: search.ParseQuery("even")}); len(got) != n/2 {
		t.Errorf("even (exact): %d, want %d", len(got), n/2)
	}
	if got := walk(ContactFilter{Limit: 7, Query: search.ParseQuery("eve")}); len(got) != n/2 {
		t.Errorf("eve (prefix): %d, want %d", len(got), n/2)
	}
	// Bounded calls: a broad prefix beyond the collect limit and a scan limit far below the contacts still page
	// through every match.
	defer func(c, l int) { contactCollectLimit, contactScanLimit = c, l }(contactCollectLimit, contactScanLimit)
	contactCollectLimit, contactScanLimit = 10, 13
	if got := walk(ContactFilter{Limit: 5, Query: search.ParseQuery("pers")}); len(got) != n {
		t.Errorf("pers (broad prefix, bounded): %d, want %d", len(got), n)
	}
	if got := walk(ContactFilter{Limit: 5, Query: search.ParseQuery("even person")}); len(got) != n/2 {
		t.Errorf("even person (bounded): %d, want %d", len(got), n/2)
	}
}
