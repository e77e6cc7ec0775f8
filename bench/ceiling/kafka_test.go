// Benchmarks of kafka-go against the embedded broker in more shapes than the kafka_produce ceiling measures
// (partitions, keys, fsync on or off):
//
//	go test -run '^$' -bench Kafka ./bench/ceiling/

package ceiling

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/switchboard-hq/switchboard/ingest/broker/brokertest"
)

// BenchmarkKafkaProduceSync is kafka-go's synchronous producer (acks=all) against the embedded broker, with the
// producer settings the webhook path uses: many concurrent callers, one tenant key (one partition).
func BenchmarkKafkaProduceSync(b *testing.B) {
	for _, nosync := range []bool{false, true} {
		for _, tc := range []struct{ partitions, keys int }{{1, 1}, {12, 1}, {12, 64}} {
			b.Run(fmt.Sprintf("fsync=%v/partitions=%d/keys=%d", !nosync, tc.partitions, tc.keys), func(b *testing.B) {
				produce(b, nosync, tc.partitions, tc.keys)
			})
		}
	}
}

func produce(b *testing.B, nosync bool, partitions, keys int) {
	e := brokertest.Start(b, brokertest.Config{Partitions: partitions, Topics: []string{"t"}, Sync: !nosync})
	senders := 256
	if v, err := strconv.Atoi(os.Getenv("BENCH_SENDERS")); err == nil && v > 0 {
		senders = v
	}
	w := &kafka.Writer{Addr: kafka.TCP(e.Addr()), Topic: "t", Balancer: &kafka.Murmur2Balancer{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: 2 * time.Millisecond, BatchSize: 256}
	defer w.Close()
	val := make([]byte, 300)
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				key := []byte("tenant")
				if keys > 1 {
					key = []byte("tenant-" + strconv.Itoa(int(i)%keys))
				}
				t0 := time.Now()
				if err := w.WriteMessages(context.Background(), kafka.Message{Key: key, Value: val}); err != nil {
					b.Error(err)
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(b.N)/el.Seconds(), "msg/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
