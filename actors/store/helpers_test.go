package store

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/switchboard-hq/switchboard/actors/conversation"
)

// openStore opens a store in dir and closes it when the test ends (Close is idempotent, so a test may close it
// earlier).
func openStore(tb testing.TB, dir string) *Store {
	tb.Helper()
	return openStoreConfig(tb, Config{Dir: dir})
}

// openStoreConfig is openStore with cfg (its Logger discards).
func openStoreConfig(tb testing.TB, cfg Config) *Store {
	tb.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	s, err := Open(cfg)
	if err != nil {
		tb.Fatalf("Open(%s): %v", cfg.Dir, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

// commitWait commits the writes fill makes and waits until the store reports them durable.
func commitWait(tb testing.TB, s *Store, fill func(b *Batch) error) {
	tb.Helper()
	b := s.NewBatch()
	if err := fill(b); err != nil {
		b.Discard()
		tb.Fatalf("fill batch: %v", err)
	}
	done := make(chan error, 1)
	if err := s.Commit(b, func(err error) { done <- err }); err != nil {
		tb.Fatalf("Commit: %v", err)
	}
	if err := <-done; err != nil {
		tb.Fatalf("Commit done: %v", err)
	}
}

// at is a fixed domain time: stored times must round-trip exactly.
var at = time.Date(2025, 10, 9, 8, 52, 50, 123_000_000, time.UTC)

func conv(tenant, id string, st conversation.Status, assignee string) conversation.Conversation {
	return conversation.Conversation{
		ID:         id,
		TenantID:   tenant,
		ChannelID:  tenant + "-wa",
		Contact:    conversation.Contact{ID: "k" + id, WaID: "1555" + id, Name: "Customer " + id},
		Status:     st,
		AssigneeID: assignee,
		CreatedAt:  at,
		UpdatedAt:  at,
	}
}

func msg(convID string, seq uint64, wamid string) conversation.Message {
	return conversation.Message{
		ConversationID: convID,
		Seq:            seq,
		ID:             wamid,
		Direction:      conversation.DirIn,
		Type:           "text",
		Text:           fmt.Sprintf("message %d of %s", seq, convID),
		Status:         conversation.Received,
		SentAt:         at.Add(time.Duration(seq) * time.Second).Truncate(time.Second),
		CreatedAt:      at.Add(time.Duration(seq) * time.Second),
	}
}

// putConvs writes conversations as new ones (no previous state).
func putConvs(tb testing.TB, s *Store, cs ...conversation.Conversation) {
	tb.Helper()
	commitWait(tb, s, func(b *Batch) error {
		for i := range cs {
			if err := b.PutConversation(&conversation.Conversation{}, &cs[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// listAll follows the cursor of Conversations from the start to the end and returns the ids in the order listed.
func listAll(tb testing.TB, s *Store, tenant string, f Filter) []string {
	tb.Helper()
	var ids []string
	for pages := 0; ; pages++ {
		if pages > 10_000 {
			tb.Fatal("cursor does not end")
		}
		list, next, err := s.Conversations(tenant, f)
		if err != nil {
			tb.Fatalf("Conversations(%s, %+v): %v", tenant, f, err)
		}
		limit := f.Limit
		if limit <= 0 {
			limit = 50
		}
		if len(list) > limit {
			tb.Fatalf("page of %d conversations, limit %d", len(list), limit)
		}
		if next != "" && len(list) != limit {
			tb.Fatalf("short page (%d of %d) with a next cursor %q", len(list), limit, next)
		}
		if next == "" && len(list) == 0 && pages > 0 {
			tb.Fatalf("empty last page after cursor %q: the previous page should have ended the listing", f.After)
		}
		for _, c := range list {
			ids = append(ids, c.ID)
		}
		if next == "" {
			return ids
		}
		if next != list[len(list)-1].ID {
			tb.Fatalf("cursor %q is not the last listed id %q", next, list[len(list)-1].ID)
		}
		f.After = next
	}
}

// histogramCount is the number of observations of a histogram.
func histogramCount(tb testing.TB, h prometheus.Histogram) uint64 {
	tb.Helper()
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		tb.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

func counterValue(tb testing.TB, c prometheus.Counter) float64 {
	tb.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		tb.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// fsyncs is how many WAL fsyncs Pebble has done.
func fsyncs(tb testing.TB, s *Store) uint64 {
	tb.Helper()
	h := s.DB().Metrics().LogWriter.FsyncLatency
	if h == nil {
		tb.Fatal("pebble exposes no WAL fsync histogram")
	}
	return histogramCount(tb, h)
}
