package kafkalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/switchboard-hq/switchboard/actors/audit"
	"github.com/switchboard-hq/switchboard/actors/changelog"
	crec "github.com/switchboard-hq/switchboard/actors/contact"
	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/store/storetest"
	"github.com/switchboard-hq/switchboard/ingest/broker"
	"github.com/switchboard-hq/switchboard/ingest/broker/brokertest"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

const partitions = 4

var at = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// startBroker starts the embedded broker over TCP with the changelog topic created as the node creates it.
func startBroker(t testing.TB) []string {
	t.Helper()
	b := brokertest.Start(t, brokertest.Config{Partitions: partitions})
	brokers := []string{b.Addr()}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := broker.EnsureTopicsWith(ctx, brokers, partitions, 1, TopicConfig, changelog.Topic); err != nil {
		t.Fatal(err)
	}
	return brokers
}

func newReplicator(t testing.TB, brokers []string) *Replicator {
	t.Helper()
	return newReplicatorConfig(t, Config{Brokers: brokers})
}

// newReplicatorConfig is newReplicator with cfg (its Partitions and Logger set here).
func newReplicatorConfig(t testing.TB, cfg Config) *Replicator {
	t.Helper()
	cfg.Partitions, cfg.Logger = partitions, slog.New(slog.DiscardHandler)
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// openStore opens a store in dir replicating to r (nil: none). Close it before r.
func openStore(t testing.TB, dir string, r *Replicator) *store.Store {
	t.Helper()
	cfg := store.Config{Dir: dir, Partition: broker.Partitioner(partitions)}
	if r != nil {
		cfg.Replicator = r
	}
	return storetest.Open(t, cfg)
}

// commit fills a batch and commits it, waiting until it is durable.
func commit(t testing.TB, s *store.Store, fill func(b *store.Batch) error) {
	t.Helper()
	b := s.NewBatch()
	if err := fill(b); err != nil {
		t.Fatal(err)
	}
	storetest.Commit(t, s, b)
}

// writeState writes some of every kind of tenant state: conversations moving through statuses with timers,
// messages, operators, contacts, audit entries, outbox entries (some relayed), parked statuses, deletes.
func writeState(t testing.TB, s *store.Store, tenants, convs int) {
	t.Helper()
	for ti := range tenants {
		tenant := fmt.Sprintf("tenant-%d", ti)
		commit(t, s, func(b *store.Batch) error {
			return errors.Join(
				b.PutOperator(tenant, &store.OperatorState{ID: "op1", Availability: "online", IdleSince: 5}),
				b.PutAudit(tenant, &audit.Entry{ID: "1-0-0", TenantID: tenant, At: at, ActorID: "op1", Action: "settings.change", Target: "settings"}),
				b.PutContact(tenant, nil, &crec.Contact{ID: "k1", Phone: "+15550001", WaID: "15550001", Name: "Ada Lovelace",
					Fields: map[string]json.RawMessage{"tier": json.RawMessage(`"gold"`)}, CreatedAt: at, UpdatedAt: at}))
		})
		for ci := range convs {
			c := conversation.Conversation{ID: fmt.Sprintf("c%d", ci), TenantID: tenant, ChannelID: "wa",
				Contact: conversation.Contact{ID: "k1", WaID: "15550001", Name: "Ada Lovelace"}, Status: conversation.Unassigned,
				CreatedAt: at, UpdatedAt: at}
			c.Timers.AutoClose = at.Add(time.Duration(ci+1) * time.Hour)
			commit(t, s, func(b *store.Batch) error {
				return errors.Join(b.PutConversation(&conversation.Conversation{}, &c),
					b.PutTimer(store.TimerKey{Due: c.Timers.AutoClose, Tenant: tenant, Conversation: c.ID, Kind: string(conversation.TimerAutoClose)}),
					b.PutMessage(tenant, &conversation.Message{ID: fmt.Sprintf("m%d", ci), WAMID: fmt.Sprintf("wamid.%d", ci),
						ConversationID: c.ID, Seq: 1, Text: "where is my parcel", CreatedAt: at}),
					b.ParkStatus(tenant, &inboxStatus),
					b.PutOutbox(tenant, []byte(fmt.Sprintf(`{"conversation":%q}`, c.ID))))
			})
			if ci%2 == 0 {
				prev := c
				c.Status, c.AssigneeID, c.Timers.AutoClose = conversation.Assigned, "op1", time.Time{}
				c.Timers.Reservation = at.Add(time.Minute)
				commit(t, s, func(b *store.Batch) error {
					return errors.Join(b.PutConversation(&prev, &c),
						b.DeleteTimer(store.TimerKey{Due: prev.Timers.AutoClose, Tenant: tenant, Conversation: c.ID, Kind: string(conversation.TimerAutoClose)}),
						b.PutTimer(store.TimerKey{Due: c.Timers.Reservation, Tenant: tenant, Conversation: c.ID, Kind: string(conversation.TimerReservation)}),
						b.DeleteParkedStatus(tenant, inboxStatus.ID))
				})
			}
		}
	}
	entries, _, err := s.Outbox(nil, 0, tenants*convs/3)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteOutbox(entries); err != nil {
		t.Fatal(err)
	}
}

// snapshot is every replicated key of a store with its value, and its timer index.
func snapshot(t testing.TB, s *store.Store) (state map[string][]byte, timers []store.TimerKey) {
	t.Helper()
	state = map[string][]byte{}
	if err := s.EachReplicated(-1, func(k, v []byte) error { state[string(k)] = bytes.Clone(v); return nil }); err != nil {
		t.Fatal(err)
	}
	timers, err := s.DueTimers(at.Add(1000*time.Hour), store.TimerKey{}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return state, timers
}

func compare(t *testing.T, what string, want, got map[string][]byte, wantTimers, gotTimers []store.TimerKey) {
	t.Helper()
	for k, v := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s: key %q missing", what, k)
		} else if !bytes.Equal(g, v) {
			t.Errorf("%s: key %q = %q, want %q", what, k, g, v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: key %q not in the original", what, k)
		}
	}
	if fmt.Sprint(wantTimers) != fmt.Sprint(gotTimers) {
		t.Errorf("%s: timers\n%v\nwant\n%v", what, gotTimers, wantTimers)
	}
}

func restoreAll(t *testing.T, r *Replicator, s *store.Store) []Restored {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []Restored
	for p := range partitions {
		res, err := r.Restore(ctx, s, p, 7)
		if err != nil {
			t.Fatalf("restore partition %d: %v", p, err)
		}
		out = append(out, res)
	}
	return out
}

var inboxStatus = inbox.Status{ID: "wamid.out1", RecipientID: "15550001", Status: "delivered", Timestamp: 1}

// TestRestoreFromChangelog: a store writes state through a replicator to the changelog on the embedded broker over
// TCP; its directory is deleted; a new store restores every partition and holds every replicated key with the same
// value, byte for byte, and the same timer index. Then a clean close and reopen restores only the tail.
func TestRestoreFromChangelog(t *testing.T) {
	brokers := startBroker(t)
	r := newReplicator(t, brokers)
	dir := t.TempDir()
	s := openStore(t, dir, r)
	// The node restores (an empty changelog: nothing to seed) before it writes.
	restoreAll(t, r, s)
	writeState(t, s, 8, 6)
	want, wantTimers := snapshot(t, s)
	if len(want) < 300 {
		t.Fatalf("only %d keys written", len(want))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}

	s2 := openStore(t, dir, r)
	got, _ := snapshot(t, s2)
	if len(got) != 0 {
		t.Fatalf("the new store holds %d keys", len(got))
	}
	records := 0
	for p, res := range restoreAll(t, r, s2) {
		if !res.Scratch || res.From != 0 || res.Records == 0 {
			t.Errorf("partition %d: %+v, want a restore from scratch", p, res)
		}
		records += res.Records
	}
	got, gotTimers := snapshot(t, s2)
	compare(t, "restored", want, got, wantTimers, gotTimers)
	t.Logf("restored %d keys from %d records", len(got), records)

	// The restored store writes on; a clean close leaves checkpoints, so the next start reads only the tail.
	commit(t, s2, func(b *store.Batch) error {
		return b.PutOperator("tenant-3", &store.OperatorState{ID: "op2", Availability: "away"})
	})
	want, wantTimers = snapshot(t, s2)
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	s3 := openStore(t, dir, r)
	for p, res := range restoreAll(t, r, s3) {
		if res.Scratch || res.From != res.To || res.Records != 0 {
			t.Errorf("partition %d after a clean close: %+v, want nothing to read", p, res)
		}
	}
	got, gotTimers = snapshot(t, s3)
	compare(t, "after a clean close", want, got, wantTimers, gotTimers)
}

// TestRestoreSeedsAnEmptyChangelog: a store that ran without the changelog seeds it when it is empty, and a store
// restored from it then holds the same.
func TestRestoreSeedsAnEmptyChangelog(t *testing.T) {
	brokers := startBroker(t)
	dir := t.TempDir()
	old := openStore(t, dir, nil)
	writeState(t, old, 4, 3)
	want, wantTimers := snapshot(t, old)
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	r := newReplicator(t, brokers)
	s := openStore(t, dir, r)
	seeded := 0
	for p, res := range restoreAll(t, r, s) {
		if res.Scratch || res.Records != 0 {
			t.Errorf("partition %d: %+v, want a seed", p, res)
		}
		seeded += res.Seeded
	}
	if seeded != len(want) {
		t.Fatalf("seeded %d keys, the store holds %d", seeded, len(want))
	}
	got, gotTimers := snapshot(t, s)
	compare(t, "seeding store", want, got, wantTimers, gotTimers)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openStore(t, t.TempDir(), r)
	restoreAll(t, r, s2)
	got, gotTimers = snapshot(t, s2)
	compare(t, "restored from the seed", want, got, wantTimers, gotTimers)
}

// TestCorruptRecordStopsRestore: a record that does not decode stops the restore with an error naming the partition
// and offset, and the records before it are not reported restored.
func TestCorruptRecordStopsRestore(t *testing.T) {
	brokers := startBroker(t)
	r := newReplicator(t, brokers)
	s := openStore(t, t.TempDir(), r)
	restoreAll(t, r, s)
	writeState(t, s, 4, 2)
	part := broker.Partitioner(partitions)("tenant-0")
	// A record of the right key whose value is flipped on the way: the checksum catches it.
	env := changelog.Append(nil, []byte("t/tenant-0/o/op9"), []byte(`{"id":"op9"}`), 7, false)
	env[len(env)-2] ^= 0x20
	c := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 5 * time.Second}
	res, err := c.Produce(context.Background(), &kafka.ProduceRequest{Topic: changelog.Topic, Partition: part,
		RequiredAcks: kafka.RequireAll, Records: kafka.NewRecordReader(kafka.Record{Key: kafka.NewBytes([]byte("t/tenant-0/o/op9")), Value: kafka.NewBytes(env)})})
	if err != nil || res.Error != nil {
		t.Fatalf("produce the corrupt record: %v %v", err, res.Error)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openStore(t, t.TempDir(), r)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = r.Restore(ctx, s2, part, 8)
	var de *changelog.DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("restore of partition %d returned %v, want a *changelog.DecodeError", part, err)
	}
	if de.Partition != part || de.Offset != res.BaseOffset || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("error %v, want partition %d offset %d", err, part, res.BaseOffset)
	}
	// The restore stopped before applying the corrupt record and did not finish: the operator it carries is not
	// there, and the store has no completed restore to checkpoint.
	if _, err := s2.Operators("tenant-0"); err != nil {
		t.Fatal(err)
	}
	ops, _ := s2.Operators("tenant-0")
	for _, o := range ops {
		if o.ID == "op9" {
			t.Fatal("the corrupt record was applied")
		}
	}
}

// TestRestoreAfterCompaction: once the broker has compacted the changelog (superseded values and tombstones gone,
// offsets with gaps), a restore from scratch still rebuilds exactly what the writing store holds.
func TestRestoreAfterCompaction(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) { return net.Listen(network, "127.0.0.1:0") }),
		kfake.BrokerConfigs(map[string]string{"log.cleaner.backoff.ms": "50"}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Tombstones are removed as soon as they are compacted, the harshest case.
	if err := broker.EnsureTopicsWith(ctx, brokers, partitions, 1,
		map[string]string{"cleanup.policy": "compact", "delete.retention.ms": "0"}, changelog.Topic); err != nil {
		t.Fatal(err)
	}
	r := newReplicator(t, brokers)
	s := openStore(t, t.TempDir(), r)
	restoreAll(t, r, s)
	for range 3 { // the same keys written again and again, parked statuses set and deleted
		writeState(t, s, 4, 4)
	}
	// Wait until compaction dropped records: fewer records than offsets in some partition.
	eventually.NoError(t, 30*time.Second, 100*time.Millisecond, func() error {
		// A write after the compaction closes the previous batch, which then becomes compactable.
		commit(t, s, func(b *store.Batch) error { return b.PutOperator("tenant-0", &store.OperatorState{ID: "tick"}) })
		for p := range partitions {
			first, end, err := r.bounds(ctx, p)
			if err != nil {
				return err
			}
			n, err := countRecords(ctx, brokers, p, first, end)
			if err != nil {
				return err
			}
			if int64(n) < end-first {
				t.Logf("partition %d: %d records left of offsets %d to %d", p, n, first, end)
				return nil
			}
		}
		return fmt.Errorf("nothing compacted yet")
	}, "the changelog compacted")
	want, wantTimers := snapshot(t, s)
	s2 := openStore(t, t.TempDir(), r)
	restoreAll(t, r, s2)
	got, gotTimers := snapshot(t, s2)
	compare(t, "restored after compaction", want, got, wantTimers, gotTimers)
}

// countRecords counts the records of changelog partition p in [first, end).
func countRecords(ctx context.Context, brokers []string, p int, first, end int64) (int, error) {
	if first >= end {
		return 0, nil
	}
	rd := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: changelog.Topic, Partition: p, MaxWait: inbox.FetchWait(100 * time.Millisecond)})
	defer rd.Close()
	if err := rd.SetOffset(first); err != nil {
		return 0, err
	}
	n := 0
	for {
		m, err := rd.FetchMessage(ctx)
		if err != nil {
			return n, err
		}
		if m.Offset >= end {
			return n, nil
		}
		n++
		if m.Offset+1 >= end {
			return n, nil
		}
	}
}

// TestLargeBatchesSpanRequests: with produce requests bounded to 5 records and 600 bytes, a store batch of hundreds
// of writes spans many requests, and several small batches share one; each batch is acknowledged once all its
// writes are, and a restore rebuilds the same store.
func TestLargeBatchesSpanRequests(t *testing.T) {
	brokers := startBroker(t)
	r := newReplicatorConfig(t, Config{Brokers: brokers, MaxBatch: 5, MaxBytes: 600})
	s := openStore(t, t.TempDir(), r)
	restoreAll(t, r, s)
	writeState(t, s, 3, 3)
	commit(t, s, func(b *store.Batch) error {
		var errs []error
		for i := range 300 {
			errs = append(errs, b.PutOutbox(fmt.Sprintf("tenant-%d", i%3), bytes.Repeat([]byte{'e'}, 100+i)))
		}
		return errors.Join(errs...)
	})
	var m dto.Metric
	if err := r.m.produceSeconds.Write(&m); err != nil {
		t.Fatal(err)
	}
	if n := m.GetHistogram().GetSampleCount(); n < 300/5 {
		t.Fatalf("%d produce requests, fewer than the 300-write batch alone needs at 5 records each", n)
	}
	want, wantTimers := snapshot(t, s)
	s2 := openStore(t, t.TempDir(), r)
	restoreAll(t, r, s2)
	got, gotTimers := snapshot(t, s2)
	compare(t, "restored from small requests", want, got, wantTimers, gotTimers)
}
