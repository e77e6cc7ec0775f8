package router

import (
	"errors"
	"fmt"
	"testing"
	"testing/synctest"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/scenariofile"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/store/storetest"
)

// TestKnownMessagesAnswer runs testdata/known_messages.txt (whose traces say the answers are the store's) and checks
// that the conversation actors did answer each kind of question themselves there: without it the scenario would
// pass with every read still going to the store.
func TestKnownMessagesAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &harness{t: t}
		t.Cleanup(h.shutdown)
		scenariofile.Run(t, "testdata/known_messages.txt", false, h.run)
		l := &h.r.local
		for name, n := range map[string]int64{"dedupe": l.dedupe.Load(), "status": l.status.Load(),
			"delivery": l.delivery.Load(), "parked": l.parked.Load()} {
			if n == 0 {
				t.Errorf("no %s question answered by a conversation actor", name)
			}
		}
	})
}

// TestKnownMessagesBounded checks that an actor holds at most outCap replies, the oldest going first, and forgets a
// reply once its status is final.
func TestKnownMessagesBounded(t *testing.T) {
	var k knownMessages
	k.start(false)
	ch := change{}
	for seq := uint64(1); seq <= outCap+2; seq++ {
		ch.messages = append(ch.messages[:0], outMsg(seq, "pending"))
		k.wrote(&ch, seq)
	}
	if len(k.out) != outCap || k.out[0].msg.Seq != 3 {
		t.Fatalf("held %d replies from seq %d, want %d from 3", len(k.out), k.out[0].msg.Seq, outCap)
	}
	if _, ok := k.replySeq(1); ok {
		t.Error("the oldest reply is still held")
	}
	prev := outMsg(4, "pending")
	next := outMsg(4, "read")
	k.wrote(&change{updates: []messageUpdate{{prev, next}}}, 9)
	if _, ok := k.replySeq(4); ok || len(k.out) != outCap-1 {
		t.Errorf("a read reply is still held (%d held)", len(k.out))
	}
	// A reply this actor did not create (written before it started) is not taken in by an update, nor by a write of
	// it whole: its park clock would not be that of its first write.
	old := change{prev: conversation.Conversation{Messages: 20}, messages: []conversation.Message{outMsg(11, "pending")},
		updates: []messageUpdate{{outMsg(12, "pending"), outMsg(12, "sent")}}}
	k.wrote(&old, 9)
	if _, ok := k.replySeq(11); ok {
		t.Error("a reply written again whole was taken in")
	}
	if _, ok := k.replySeq(12); ok {
		t.Error("an updated reply the actor did not create was taken in")
	}
	k.wrote(&change{messages: []conversation.Message{{Seq: 9, ID: "wamid.x", Direction: conversation.DirIn}}}, 9)
	if !k.mayHoldInbound("wamid.x") {
		t.Fatal("a customer id written is not known")
	}
	k.wrote(&change{scrub: true}, 10)
	if len(k.out) != 0 || k.mayHoldInbound("wamid.x") {
		t.Error("an erase left replies or customer ids known")
	}
}

func outMsg(seq uint64, status string) conversation.Message {
	return conversation.Message{ConversationID: "c1", Seq: seq, ID: "m" + string(rune('0'+seq)), Direction: conversation.DirOut,
		Type: "text", Status: conversation.MessageStatus(status)}
}

// TestShrunk checks that a map is copied to its size once it has fallen to a quarter of its high-water mark, and
// only then.
func TestShrunk(t *testing.T) {
	m, peak := map[int]int{}, 0
	for i := range shrinkFrom * 2 {
		m[i] = i
		peak = max(peak, len(m))
	}
	for i := range shrinkFrom*2*3/4 - 1 {
		delete(m, i)
	}
	if got := shrunk(m, &peak); len(got) != len(m) || peak != shrinkFrom*2 {
		t.Fatalf("shrunk at %d of a peak of %d", len(m), peak)
	}
	delete(m, shrinkFrom*2*3/4-1)
	got := shrunk(m, &peak)
	if len(got) != len(m) || peak != len(m) {
		t.Fatalf("not shrunk at %d entries (peak now %d)", len(m), peak)
	}
	delete(got, shrinkFrom*2-1)
	if _, ok := m[shrinkFrom*2-1]; !ok {
		t.Fatal("the copy shares the old map")
	}
	for k, v := range got {
		if k != v || k < shrinkFrom*2*3/4-1 {
			t.Fatalf("copy holds %d=%d", k, v)
		}
	}
}

// BenchmarkKnownAnswers compares the store reads a conversation actor saves (known.go) with its own answers: the
// wamid lookup of a new customer message (a miss), and the lookup and read of a status's reply.
//
//	go test ./actors/router -run '^$' -bench KnownAnswers -benchmem
func BenchmarkKnownAnswers(b *testing.B) {
	st := storetest.Open(b, store.Config{})
	const convs = 2000
	bt := st.NewBatch()
	for i := range convs {
		for seq := uint64(1); seq <= 5; seq++ {
			m := conversation.Message{ConversationID: fmt.Sprintf("c%05d", i), Seq: seq, ID: fmt.Sprintf("wamid.%d.%d", i, seq),
				Direction: conversation.DirIn, Type: "text", Text: "hello there", Status: conversation.Received}
			if seq == 5 {
				m.ID, m.WAMID, m.Direction, m.Status = fmt.Sprintf("m%d", i), fmt.Sprintf("wamid.out.%d", i), conversation.DirOut, conversation.Sent
			}
			if err := bt.PutMessage("bench", &m); err != nil {
				b.Fatal(err)
			}
		}
	}
	done := make(chan error, 1)
	if err := st.Commit(bt, func(err error) { done <- err }); err != nil {
		b.Fatal(err)
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	var k knownMessages
	k.start(false)
	for seq := uint64(1); seq <= 4; seq++ {
		k.note(&conversation.Message{Seq: seq, ID: fmt.Sprintf("wamid.7.%d", seq), Direction: conversation.DirIn}, 0, true)
	}
	k.note(&conversation.Message{ConversationID: "c00007", Seq: 5, ID: "m7", WAMID: "wamid.out.7", Direction: conversation.DirOut,
		Status: conversation.Sent}, 0, true)
	b.Run("dedupe/store", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := st.MessageRef("bench", "wamid.new.7"); !errors.Is(err, store.ErrNotFound) {
				b.Fatal(err)
			}
		}
	})
	b.Run("dedupe/known", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if k.mayHoldInbound("wamid.new.7") {
				b.Skip("a false positive of the filter: the store would be read")
			}
		}
	})
	b.Run("status/store", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			conv, seq, err := st.MessageRef("bench", "wamid.out.7")
			if err != nil {
				b.Fatal(err)
			}
			if _, err := st.Message("bench", conv, seq); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("status/known", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := k.reply("wamid.out.7"); !ok {
				b.Fatal("reply not held")
			}
		}
	})
}
