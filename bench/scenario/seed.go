package scenario

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/bench/load"
)

// seedBatch is how many conversations go in one synced Pebble batch.
const seedBatch = 2000

// seedClosed writes n closed conversations, each with one customer message, spread round robin over tenants, into
// the store under dataDir, through the store package the node itself writes with. Their customers are the ones
// the load generator writes as first (load.ContactWAID), so its new conversations reopen stored ones. Their
// applied position is before any offset, so the node applies new records to them.
func seedClosed(ctx context.Context, dataDir string, tenants []load.Tenant, n int) error {
	st, err := store.Open(store.Config{Dir: filepath.Join(dataDir, "store")})
	if err != nil {
		return fmt.Errorf("open the store to seed: %w", err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	done := func(err error) {
		if err != nil {
			mu.Lock()
			if firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}
		wg.Done()
	}
	at := time.Now().UTC().Add(-48 * time.Hour).Truncate(time.Second)
	b := st.NewBatch()
	for i := range n {
		ti := i % len(tenants)
		t := tenants[ti]
		waID := load.ContactWAID(ti, i/len(tenants))
		id := conversation.ID(t.ChannelID, waID)
		c := conversation.Conversation{ID: id, TenantID: t.ID, ChannelID: t.ChannelID,
			Contact: conversation.Contact{ID: conversation.ContactID(waID), WaID: waID, Name: "Customer " + waID},
			Status:  conversation.Closed, WindowExpiresAt: at.Add(24 * time.Hour), CreatedAt: at, UpdatedAt: at.Add(time.Hour),
			LastInboundAt: at, Messages: 1, Applied: conversation.Position{Offset: -1}, LastOperatorID: "op0",
			LastActivityAt: at.Add(time.Hour), CycleStartedAt: at, Version: 3}
		m := conversation.Message{ID: "wamid.seed-" + strconv.Itoa(i), ConversationID: id, Seq: 1, Direction: conversation.DirIn,
			Type: "text", Text: "hello", SentAt: at, CreatedAt: at}
		if err := b.PutConversation(&conversation.Conversation{}, &c); err != nil {
			b.Discard()
			st.Close()
			return err
		}
		if err := b.PutMessage(t.ID, &m); err != nil {
			b.Discard()
			st.Close()
			return err
		}
		if (i+1)%seedBatch == 0 || i == n-1 {
			if ctx.Err() != nil {
				b.Discard()
				wg.Wait()
				st.Close()
				return ctx.Err()
			}
			wg.Add(1)
			if err := st.Commit(b, done); err != nil {
				wg.Done()
				st.Close()
				return err
			}
			b = st.NewBatch()
		}
	}
	b.Discard()
	wg.Wait()
	if err := st.Close(); err != nil {
		return err
	}
	if firstErr != nil {
		return fmt.Errorf("seed %d conversations: %w", n, firstErr)
	}
	return nil
}
