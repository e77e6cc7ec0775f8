package kafkalog

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
)

// BenchmarkCommitReplicated measures what the changelog costs a store commit: 16 committers (actors) each commit a
// batch like an inbound message's (the conversation with its indexes, the message with its postings, an outbox
// event) and wait until it is durable — in Pebble only ("off"), or in Pebble and acknowledged by the changelog on
// the embedded broker over TCP ("on"). It reports commits/s and the p50 and p99 of Commit → done.
//
//	go test ./actors/changelog/kafkalog -run '^$' -bench CommitReplicated -benchtime 20000x -count 5
func BenchmarkCommitReplicated(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
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
				durable := make(chan error, 1)
				var mine []time.Duration
				for pb.Next() {
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
					if err := s.Commit(batch, func(err error) { durable <- err }); err != nil {
						b.Error(err)
						return
					}
					if err := <-durable; err != nil {
						b.Error(err)
						return
					}
					mine = append(mine, time.Since(t0))
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
		})
	}
}
