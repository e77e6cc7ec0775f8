package live

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

func ev(seq int64, id string) Event {
	return Event{Seq: seq, ID: id, Type: "message.received", Tenant: "acme", Data: []byte(`{"id":"` + id + `"}`)}
}

// ids lists the sequence ids ("id: n" lines) of fs, "reset" for a reset.
func ids(fs []Frame) string {
	var out []string
	for _, f := range fs {
		s := string(f.Data)
		switch {
		case strings.HasPrefix(s, "id: "):
			out = append(out, strings.TrimPrefix(strings.SplitN(s, "\n", 2)[0], "id: "))
		case strings.HasPrefix(s, "event: reset"):
			out = append(out, "reset")
		default:
			out = append(out, "?")
		}
	}
	return strings.Join(out, ",")
}

func TestPublishDropsRepeatsAndOlderSequences(t *testing.T) {
	h, err := New(Config{DedupeSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		e    Event
		want bool
	}{
		{ev(10, "a"), true},
		{ev(11, "a"), false}, // a repeat of a at a later offset
		{ev(11, "b"), true},
		{ev(11, "c"), false}, // not after the last sequence
		{ev(12, "c"), true},  // a is forgotten now (2 ids kept)
		{ev(13, "a"), true},
		{ev(14, "c"), false},
	} {
		if got := h.Publish(c.e); got != c.want {
			t.Errorf("Publish(%d, %s) = %v, want %v", c.e.Seq, c.e.ID, got, c.want)
		}
	}
}

func TestSubscribeReplaysFromTheRingOrResets(t *testing.T) {
	h, err := New(Config{ReplaySize: 3, Bounds: func(string) (int64, int64, bool) { return 4, 9, true }})
	if err != nil {
		t.Fatal(err)
	}
	for i := int64(5); i <= 9; i++ { // the ring keeps 7, 8, 9
		h.Publish(ev(i, "e"+strconv.FormatInt(i, 10)))
	}
	for last, want := range map[string]string{
		"":    "",
		"9":   "",
		"8":   "9",
		"6":   "7,8,9", // 7 is the oldest kept, and 6 was evicted: nothing is missing after 6
		"5":   "reset", // 6 is gone
		"10":  "reset", // beyond what was read
		"x":   "reset",
		"-2":  "reset",
		"4.0": "reset",
	} {
		s, err := h.Subscribe("acme", "alice", last)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(s.Initial); got != want {
			t.Errorf("Last-Event-ID %q: initial %q, want %q", last, got, want)
		}
		s.Close()
	}
}

func TestAFullBufferDropsTheSubscriberOnly(t *testing.T) {
	h, err := New(Config{BufferSize: 2, MaxPerOperator: 1})
	if err != nil {
		t.Fatal(err)
	}
	slow, _ := h.Subscribe("acme", "alice", "")
	fast, _ := h.Subscribe("acme", "bob", "")
	if _, err := h.Subscribe("acme", "alice", ""); !errors.Is(err, ErrTooManyConnections) {
		t.Errorf("a second stream of alice: %v, want ErrTooManyConnections", err)
	}
	for i := int64(1); i <= 3; i++ {
		h.Publish(ev(i, "e"+strconv.FormatInt(i, 10)))
		<-fast.C()
	}
	if r := slow.Reason(); r != ResetOverflow {
		t.Errorf("slow reason %q", r)
	}
	select {
	case <-fast.Gone():
		t.Error("the reading subscriber was dropped")
	default:
	}
	again, err := h.Subscribe("acme", "alice", "")
	if err != nil {
		t.Fatalf("alice after her dropped stream: %v", err)
	}
	again.Close()
	h.Close()
	if r := fast.Reason(); r != "" {
		t.Errorf("closed hub reason %q", r)
	}
}

// A burst of the same presence is broadcast once a second at most: one operator cannot flood the tenant's streams.
func TestPresenceBurstsAreBroadcastOnceASecond(t *testing.T) {
	at := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	h, err := New(Config{Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	s, err := h.Subscribe("acme", "bob", "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	typing := Presence{ConversationID: "c0000000000000001", OperatorID: "alice", State: Typing}
	for range 50 {
		h.SetPresence("acme", typing)
	}
	at = at.Add(500 * time.Millisecond)
	h.SetPresence("acme", typing)
	if n := len(s.ch); n != 1 {
		t.Fatalf("51 typing updates within a second sent %d frames, want 1", n)
	}
	at = at.Add(600 * time.Millisecond)
	h.SetPresence("acme", typing)
	viewing := typing
	viewing.State = Viewing
	h.SetPresence("acme", viewing) // another state is news at once
	if n := len(s.ch); n != 3 {
		t.Fatalf("after a second and a change of state: %d frames, want 3", n)
	}
}

// The replay ring grows with use up to ReplaySize and then keeps the newest: a resume inside it replays exactly
// what followed, one before it is reset.
func TestTheReplayRingGrowsThenKeepsTheNewest(t *testing.T) {
	h, err := New(Config{ReplaySize: 3})
	if err != nil {
		t.Fatal(err)
	}
	replay := func(last string) string {
		s, err := h.Subscribe("acme", "alice", last)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		return ids(s.Initial)
	}
	h.Publish(ev(1, "a"))
	h.Publish(ev(2, "b"))
	if got := replay("1"); got != "2" {
		t.Errorf("growing ring, resume after 1 = %q, want 2", got)
	}
	for i, id := range []string{"c", "d", "e"} {
		h.Publish(ev(int64(3+i), id))
	}
	if got := replay("2"); got != "3,4,5" {
		t.Errorf("full ring, resume after 2 = %q, want 3,4,5", got)
	}
	if got := replay("1"); got != "reset" {
		t.Errorf("full ring, resume after 1 (evicted 2 follows it) = %q, want reset", got)
	}
}

// The audit log's events are never streamed, live or replayed: operators subscribe to the tenant's stream too.
func TestAuditEventsAreNotStreamed(t *testing.T) {
	h, err := New(Config{ReplaySize: 8, Bounds: func(string) (int64, int64, bool) { return 4, 9, true }})
	if err != nil {
		t.Fatal(err)
	}
	live, err := h.Subscribe("acme", "alice", "")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	h.Publish(ev(5, "e5"))
	if h.Publish(Event{Seq: 6, ID: "6-0-0", Type: TypeAuditRecorded, Tenant: "acme", Data: []byte(`{"type":"audit.recorded"}`)}) {
		t.Error("an audit event was published")
	}
	h.Publish(ev(7, "e7"))
	var got []Frame
	for len(got) < 2 {
		select {
		case f := <-live.C():
			got = append(got, f)
		case <-time.After(5 * time.Second):
			t.Fatalf("live frames %q", ids(got))
		}
	}
	if ids(got) != "5,7" {
		t.Errorf("live frames %q, want 5,7", ids(got))
	}
	s, err := h.Subscribe("acme", "alice", "4")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := ids(s.Initial); got != "5,7" {
		t.Errorf("replay %q, want 5,7", got)
	}
}
