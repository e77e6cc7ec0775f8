package store

import (
	"errors"
	"reflect"
	"testing"

	"github.com/switchboard-hq/switchboard/actors/conversation"
)

// The held index follows each conversation through its lifecycle, so OperatorLoads counts what routing counts:
// assigned conversations and snoozed ones that kept their operator, per tenant.
func TestOperatorLoads(t *testing.T) {
	s := openStore(t, t.TempDir())
	put := func(prev, next conversation.Conversation) {
		t.Helper()
		commitWait(t, s, func(b *Batch) error { return b.PutConversation(&prev, &next) })
	}
	loads := func(tenant string) map[string]int {
		t.Helper()
		l, err := s.OperatorLoads(tenant)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	c := conversation.Conversation{ID: "c1", TenantID: "acme", Status: conversation.Unassigned}
	steps := []struct {
		name     string
		status   conversation.Status
		assignee string
		want     map[string]int
	}{
		{"assigned", conversation.Assigned, "alice", map[string]int{"alice": 1}},
		{"snoozed, kept", conversation.Snoozed, "alice", map[string]int{"alice": 1}},
		{"woken to another", conversation.Assigned, "bob", map[string]int{"bob": 1}},
		{"closed", conversation.Closed, "bob", map[string]int{}},
		{"reopened to the queue", conversation.Unassigned, "", map[string]int{}},
		{"assigned again", conversation.Assigned, "alice", map[string]int{"alice": 1}},
		{"snoozed from the queue", conversation.Snoozed, "", map[string]int{}},
	}
	put(conversation.Conversation{}, c)
	for _, st := range steps {
		next := c
		next.Status, next.AssigneeID = st.status, st.assignee
		put(c, next)
		c = next
		if got := loads("acme"); !reflect.DeepEqual(got, st.want) {
			t.Errorf("%s: loads %v, want %v", st.name, got, st.want)
		}
	}
	other := conversation.Conversation{ID: "c1", TenantID: "acme-2", Status: conversation.Assigned, AssigneeID: "alice"}
	put(conversation.Conversation{}, other)
	if got := loads("acme"); len(got) != 0 {
		t.Errorf("another tenant's conversation counts: %v", got)
	}
	if got := loads("acme-2"); !reflect.DeepEqual(got, map[string]int{"alice": 1}) {
		t.Errorf("acme-2 loads %v", got)
	}
	// IndexHeld (the router's rebuild) writes the entry a store from before the index lacks, and is idempotent.
	held := conversation.Conversation{ID: "c2", TenantID: "acme", Status: conversation.Assigned, AssigneeID: "carol"}
	commitWait(t, s, func(b *Batch) error {
		for range 2 {
			if err := b.IndexHeld(&held); err != nil {
				return err
			}
		}
		return b.IndexHeld(&c) // snoozed from the queue: holds nothing
	})
	if got := loads("acme"); !reflect.DeepEqual(got, map[string]int{"carol": 1}) {
		t.Errorf("after IndexHeld: loads %v, want carol:1", got)
	}
}

// RepairHeld writes exactly the difference between the held index and the open conversations: what is missing is
// set, what is stale goes, what is right is not written again, and another tenant's index is left alone.
func TestRepairHeld(t *testing.T) {
	s := openStore(t, t.TempDir())
	// The index as a store might hold it: c1 right, c2 under the wrong operator, c3 closed since, c9 gone; c4 and
	// c5 missing (a store written before the index existed).
	commitWait(t, s, func(b *Batch) error {
		for _, c := range []conversation.Conversation{
			conv("acme", "c1", conversation.Assigned, "alice"),
			conv("acme", "c2", conversation.Assigned, "bob"),
			conv("acme", "c3", conversation.Assigned, "alice"),
			conv("acme", "c9", conversation.Assigned, "bob"),
			conv("acme-2", "c1", conversation.Assigned, "bob"),
		} {
			if err := b.IndexHeld(&c); err != nil {
				return err
			}
		}
		return nil
	})
	open := []conversation.Conversation{
		conv("acme", "c1", conversation.Assigned, "alice"),
		conv("acme", "c2", conversation.Assigned, "alice"),
		conv("acme", "c4", conversation.Snoozed, "carol"),
		conv("acme", "c5", conversation.Assigned, "bob"),
		conv("acme", "c6", conversation.Unassigned, ""),
		conv("acme", "c7", conversation.Snoozed, ""),
	}
	repair := func() int {
		t.Helper()
		var n int
		commitWait(t, s, func(b *Batch) error {
			var err error
			n, err = b.RepairHeld("acme", open)
			return err
		})
		return n
	}
	// Written: c2 moved (delete bob's, set alice's), c3 and c9 deleted, c4 and c5 set.
	if n := repair(); n != 6 {
		t.Errorf("first repair wrote %d entries, want 6", n)
	}
	for tenant, want := range map[string]map[string]int{
		"acme":   {"alice": 2, "bob": 1, "carol": 1},
		"acme-2": {"bob": 1},
	} {
		got, err := s.OperatorLoads(tenant)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("after repair, %s loads %v, want %v", tenant, got, want)
		}
	}
	if n := repair(); n != 0 {
		t.Errorf("repair of an index in step wrote %d entries, want 0", n)
	}
	commitWait(t, s, func(b *Batch) error {
		_, err := b.RepairHeld("acme", []conversation.Conversation{conv("acme-2", "c1", conversation.Assigned, "bob")})
		if err == nil {
			return errors.New("RepairHeld took another tenant's conversation")
		}
		return nil
	})
}
