package kafkalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/store"
)

// BenchmarkCommitReplicated measures what the changelog costs a store commit: 16 committers (actors) each commit a
// batch like an inbound message's (the conversation with its indexes, the message with its postings, an outbox
// event), durable in Pebble only ("off") or in Pebble and acknowledged by the changelog on the embedded broker over
// TCP ("on"). "wait": each committer waits until its batch is durable before the next, the worst case; "pipelined":
// committers do not wait (as actors do), up to 64 batches each in flight. It reports commits/s and the p50 and p99
// of Commit → done.
//
//	go test ./actors/changelog/kafkalog -run '^$' -bench CommitReplicated -benchtime 20000x -count 5
func BenchmarkCommitReplicated(b *testing.B) {
	for _, mode := range []string{"wait", "pipelined"} {
		for _, on := range []bool{false, true} {
			name := mode + "/off"
			if on {
				name = mode + "/on"
			}
			b.Run(name, func(b *testing.B) { benchCommits(b, on, mode == "pipelined") })
		}
	}
}

func benchCommits(b *testing.B, on, pipelined bool) {
	var r *Replicator
	if on {
		r = newReplicator(b, startBroker(b))
	}
	s := openStore(b, b.TempDir(), r)
	var goroutine atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(8) // 16 committers on 2 cores
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		g := goroutine.Add(1)
		tenant := fmt.Sprintf("tenant-%d", g%8)
		c := conversation.Conversation{ID: fmt.Sprintf("c%04d", g), TenantID: tenant, ChannelID: "wa",
			Contact: conversation.Contact{ID: "k1", WaID: "15550001", Name: "Ada Lovelace"}, Status: conversation.Unassigned}
		var prev conversation.Conversation
		// inFlight bounds the batches not yet durable (1 when waiting); each done sends its latency.
		inFlight := 1
		if pipelined {
			inFlight = 64
		}
		durable := make(chan time.Duration, inFlight)
		var mine []time.Duration
		pending := 0
		for pb.Next() {
			if pending == inFlight {
				mine = append(mine, <-durable)
				pending--
			}
			c.Messages++
			c.Version++
			batch := s.NewBatch()
			err := errors.Join(batch.PutConversation(&prev, &c),
				batch.PutMessage(tenant, &conversation.Message{ID: fmt.Sprintf("m%d-%d", g, c.Messages), ConversationID: c.ID,
					Seq: uint64(c.Messages), Text: "where is my parcel, order 5531", CreatedAt: at}),
				batch.PutOutbox(tenant, []byte(`{"type":"message.received","conversation_id":"`+c.ID+`","preview":"where is my parcel"}`)))
			if err != nil {
				b.Error(err)
				return
			}
			prev = c
			t0 := time.Now()
			if err := s.Commit(batch, func(err error) {
				if err != nil {
					b.Error(err)
				}
				durable <- time.Since(t0)
			}); err != nil {
				b.Error(err)
				return
			}
			pending++
		}
		for ; pending > 0; pending-- {
			mine = append(mine, <-durable)
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "commits/s")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
	_ = s.Close()
}

// BenchmarkRestore measures restore throughput: a store writes 10,000 conversations (each with its indexes, a
// message with its postings and an outbox event) through the changelog on the embedded broker; each iteration
// restores every partition into an empty store. It reports changelog records restored per second.
//
//	go test ./actors/changelog/kafkalog -run '^$' -bench Restore -benchtime 3x -count 5
func BenchmarkRestore(b *testing.B) {
	r := newReplicator(b, startBroker(b))
	src := openStore(b, b.TempDir(), r)
	for p := range partitions {
		if _, err := r.Restore(context.Background(), src, p, 1); err != nil {
			b.Fatal(err)
		}
	}
	const convs, perBatch = 10_000, 100
	for i := 0; i < convs; i += perBatch {
		commit(b, src, func(batch *store.Batch) error {
			var errs []error
			for j := i; j < i+perBatch; j++ {
				tenant := fmt.Sprintf("tenant-%d", j%16)
				c := conversation.Conversation{ID: fmt.Sprintf("c%05d", j), TenantID: tenant, ChannelID: "wa",
					Contact: conversation.Contact{ID: fmt.Sprintf("k%05d", j), WaID: fmt.Sprintf("1555%06d", j), Name: "Ada Lovelace"},
					Status:  conversation.Unassigned, CreatedAt: at, UpdatedAt: at}
				c.Timers.AutoClose = at.Add(time.Hour)
				errs = append(errs, batch.PutConversation(&conversation.Conversation{}, &c),
					batch.PutMessage(tenant, &conversation.Message{ID: fmt.Sprintf("m%05d", j), ConversationID: c.ID, Seq: 1,
						Text: "where is my parcel, order 5531", CreatedAt: at}),
					batch.PutOutbox(tenant, []byte(`{"type":"message.received","conversation_id":"`+c.ID+`"}`)))
			}
			return errors.Join(errs...)
		})
	}
	b.ReportAllocs()
	b.ResetTimer()
	records := 0
	var took time.Duration
	for range b.N {
		b.StopTimer()
		dst := openStore(b, b.TempDir(), r)
		b.StartTimer()
		start := time.Now()
		for p := range partitions {
			res, err := r.Restore(context.Background(), dst, p, 2)
			if err != nil {
				b.Fatal(err)
			}
			records += res.Records
		}
		took += time.Since(start)
		b.StopTimer()
		_ = dst.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(records)/took.Seconds(), "records/s")
	b.ReportMetric(float64(records)/float64(b.N), "records/restore")
}
