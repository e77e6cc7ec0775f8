package kafkalog

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/switchboard-hq/switchboard/actors/changelog"
	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/ingest/broker"
	"github.com/switchboard-hq/switchboard/ingest/broker/brokertest"
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

// BenchmarkFailoverRestore is the restore part of a failover against the state one partition holds: convs
// conversations (each with its indexes, a message with its postings and an outbox event) of the tenants of one
// partition, written by a first owner; then the new owner's restore, /scratch from an empty store (a node that never
// held the partition, or whose copy is stale) and /tail from the store of a node that held it until a clean stop
// (its checkpoint), after the first owner changed 1% of the conversations. A failover adds the session timeout and
// the rebalance to it (TestFailoverThreeNodes measures the whole). Besides the times it reports the changelog's and
// the restored store's bytes on disk, per conversation, and the process's peak resident memory (the embedded broker
// and three stores run in it).
//
// The 1,000,000-conversation size runs only with SWITCHBOARD_BENCH_MILLION=1 (4.5 to 7 minutes on 2 cores, 0.9 GB of
// memory and 5 GB of disk under $TMPDIR):
//
//	go test ./actors/changelog/kafkalog -run '^$' -bench FailoverRestore -benchtime 1x -count 3
//	SWITCHBOARD_BENCH_MILLION=1 go test ./actors/changelog/kafkalog -run '^$' -bench 'FailoverRestore/conversations=1000000$' -benchtime 1x -timeout 1h
func BenchmarkFailoverRestore(b *testing.B) {
	for _, convs := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("conversations=%d", convs), func(b *testing.B) {
			if convs >= 1_000_000 && os.Getenv(millionEnv) != "1" {
				b.Skipf("set %s=1 to run it (4.5 to 7 minutes, 0.9 GB of memory, 5 GB of disk)", millionEnv)
			}
			brokerDir := b.TempDir()
			brokers := startBrokerIn(b, brokerDir)
			r := newReplicator(b, brokers)
			src := openStore(b, b.TempDir(), r)
			tenant := "tenant-0"
			part := broker.Partitioner(partitions)(tenant)
			if _, err := r.Restore(context.Background(), src, part, 1); err != nil {
				b.Fatal(err)
			}
			write := func(from, to int, text string) {
				const perBatch = 500
				for i := from; i < to; i += perBatch {
					commit(b, src, func(batch *store.Batch) error {
						var errs []error
						for j := i; j < min(i+perBatch, to); j++ {
							c := conversation.Conversation{ID: fmt.Sprintf("c%07d", j), TenantID: tenant, ChannelID: "wa",
								Contact: conversation.Contact{ID: fmt.Sprintf("k%07d", j), WaID: fmt.Sprintf("1555%07d", j), Name: "Ada Lovelace"},
								Status:  conversation.Unassigned, CreatedAt: at, UpdatedAt: at}
							c.Timers.AutoClose = at.Add(time.Hour)
							errs = append(errs, batch.PutConversation(&conversation.Conversation{}, &c),
								batch.PutMessage(tenant, &conversation.Message{ID: fmt.Sprintf("m%07d", j), ConversationID: c.ID, Seq: 1,
									Text: text, CreatedAt: at}),
								batch.PutOutbox(tenant, []byte(`{"type":"message.received","conversation_id":"`+c.ID+`"}`)))
						}
						return errors.Join(errs...)
					})
				}
			}
			write(0, convs, "where is my parcel, order 5531")
			// The node that held the partition until a clean stop: restored now, then closed with its checkpoint.
			heldDir := b.TempDir()
			held := openStore(b, heldDir, r)
			if _, err := r.Restore(context.Background(), held, part, 2); err != nil {
				b.Fatal(err)
			}
			if err := held.Close(); err != nil {
				b.Fatal(err)
			}
			write(0, convs/100, "a later message")
			var scratch, tail time.Duration
			var scratchRecs, tailRecs int
			var storeBytes int64
			b.ResetTimer()
			for range b.N {
				dstDir := b.TempDir()
				dst := openStore(b, dstDir, r)
				start := time.Now()
				res, err := r.Restore(context.Background(), dst, part, 3)
				if err != nil {
					b.Fatal(err)
				}
				scratch += time.Since(start)
				scratchRecs += res.Records
				b.StopTimer()
				if err := dst.Close(); err != nil {
					b.Fatal(err)
				}
				storeBytes = dirBytes(b, dstDir)

				cp := b.TempDir()
				if err := os.CopyFS(cp, os.DirFS(heldDir)); err != nil {
					b.Fatal(err)
				}
				h := openStore(b, cp, r)
				b.StartTimer()
				start = time.Now()
				res, err = r.Restore(context.Background(), h, part, 3)
				if err != nil {
					b.Fatal(err)
				}
				if res.Scratch {
					b.Fatal("the held store restored from scratch")
				}
				tail += time.Since(start)
				tailRecs += res.Records
				_ = h.Close()
			}
			n := float64(b.N)
			b.ReportMetric(scratch.Seconds()/n, "scratch-s")
			b.ReportMetric(float64(scratchRecs)/scratch.Seconds(), "scratch-records/s")
			b.ReportMetric(tail.Seconds()/n, "tail-s")
			b.ReportMetric(float64(tailRecs)/n, "tail-records")
			b.ReportMetric(float64(scratchRecs)/n, "records")
			b.ReportMetric(float64(storeBytes)/float64(convs), "store-B/conv")
			b.ReportMetric(float64(dirBytes(b, brokerDir))/float64(convs), "changelog-B/conv")
			var ru syscall.Rusage
			if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
				b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB") // Maxrss is in KiB on Linux
			}
		})
	}
}

// millionEnv opts into BenchmarkFailoverRestore's 1,000,000-conversation size.
const millionEnv = "SWITCHBOARD_BENCH_MILLION"

// startBrokerIn is startBroker with the broker's data in dir, to measure what the changelog takes on disk, and its
// log cleaner run once an hour instead of every minute: kfake compacts a partition on the goroutine that serves every
// request, reading it whole, which with a million conversations' records stops the broker for longer than the
// replicator's 10 s produce timeout (Kafka's cleaner runs beside the request handlers). The bench's state has almost
// nothing to compact (1% of the conversations are written twice).
func startBrokerIn(b *testing.B, dir string) []string {
	b.Helper()
	eb := brokertest.Start(b, brokertest.Config{Partitions: partitions, DataDir: dir})
	brokers := []string{eb.Addr()}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hour := "3600000"
	res, err := (&kafka.Client{Addr: kafka.TCP(brokers...)}).AlterConfigs(ctx, &kafka.AlterConfigsRequest{
		Resources: []kafka.AlterConfigRequestResource{{ResourceType: kafka.ResourceTypeBroker,
			Configs: []kafka.AlterConfigRequestConfig{{Name: "log.cleaner.backoff.ms", Value: hour}}}}})
	if err == nil {
		for _, e := range res.Errors {
			err = errors.Join(err, e)
		}
	}
	if err != nil {
		b.Fatalf("slow down the broker's log cleaner: %v", err)
	}
	if err := broker.EnsureTopicsWith(ctx, brokers, partitions, 1, TopicConfig, changelog.Topic); err != nil {
		b.Fatal(err)
	}
	return brokers
}

// dirBytes is the size of the files under dir.
func dirBytes(b *testing.B, dir string) int64 {
	b.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n += info.Size()
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}
