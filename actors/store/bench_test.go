package store

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/switchboard-hq/switchboard/actors/conversation"
)

// BenchmarkCommit measures synced commits from many concurrent committers, as conversation actors make them.
//
//   - wait: each committer waits for its batch to be durable before the next, the worst case for an actor that
//     has nothing else to do. Throughput above one fsync's worth per committer is group commit at work.
//   - pipelined: committers do not wait (Commit returns once the batch is visible); done calls are counted and
//     awaited at the end, which is how actors use the store.
//
// batches/fsync is the group-commit factor: how many batches one WAL fsync made durable. BenchmarkCommitSerial is
// the baseline without it: one committer, one fsync per batch.
//
//	go test ./actors/store -run '^$' -bench Commit -benchtime 20000x
func BenchmarkCommit(b *testing.B) {
	for _, wait := range []bool{true, false} {
		name := "pipelined"
		if wait {
			name = "wait"
		}
		b.Run(name, func(b *testing.B) {
			s := openStore(b, b.TempDir())
			var goroutine atomic.Int64
			var pending sync.WaitGroup
			var failures atomic.Int64
			syncsBefore := fsyncs(b, s)
			b.SetParallelism(16) // committers are actors: many more than CPUs
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				c := conv("bench", fmt.Sprintf("c%04d", goroutine.Add(1)), conversation.Unassigned, "")
				var prev conversation.Conversation
				durable := make(chan error, 1)
				onDurable := func(err error) { durable <- err }
				onPipelined := func(err error) {
					if err != nil {
						failures.Add(1)
					}
					pending.Done()
				}
				for pb.Next() {
					c.Messages++
					batch := s.NewBatch()
					if err := batch.PutConversation(&prev, &c); err != nil {
						b.Error(err)
						return
					}
					prev = c
					if wait {
						if err := s.Commit(batch, onDurable); err != nil {
							b.Error(err)
							return
						}
						if err := <-durable; err != nil {
							failures.Add(1)
						}
						continue
					}
					pending.Add(1)
					if err := s.Commit(batch, onPipelined); err != nil {
						b.Error(err)
						return
					}
				}
			})
			pending.Wait()
			b.StopTimer()
			if n := failures.Load(); n > 0 {
				b.Fatalf("%d commits failed", n)
			}
			if syncs := fsyncs(b, s) - syncsBefore; syncs > 0 {
				b.ReportMetric(float64(b.N)/float64(syncs), "batches/fsync")
			}
		})
	}
}

// BenchmarkCommitSerial is one committer waiting for each batch to be durable: the cost of an fsync per batch.
func BenchmarkCommitSerial(b *testing.B) {
	s := openStore(b, b.TempDir())
	c := conv("bench", "c0", conversation.Unassigned, "")
	var prev conversation.Conversation
	durable := make(chan error, 1)
	onDurable := func(err error) { durable <- err }
	syncsBefore := fsyncs(b, s)
	b.ReportAllocs()
	for b.Loop() {
		c.Messages++
		batch := s.NewBatch()
		if err := batch.PutConversation(&prev, &c); err != nil {
			b.Fatal(err)
		}
		prev = c
		if err := s.Commit(batch, onDurable); err != nil {
			b.Fatal(err)
		}
		if err := <-durable; err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if syncs := fsyncs(b, s) - syncsBefore; syncs > 0 {
		b.ReportMetric(float64(b.N)/float64(syncs), "batches/fsync")
	}
}
