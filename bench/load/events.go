package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// EventsTopic is where the node publishes its events.
const EventsTopic = "switchboard.events"

var assignedType = []byte(`"type":"` + conversation.EventAssigned + `"`)

// eventReader reads every partition of switchboard.events from its end at the start, as an operator's live feed
// would, and calls onAssigned for each conversation.assigned event with the time it was read.
type eventReader struct {
	readers    []*kafka.Reader
	onAssigned func(tenant, conv, op string, read time.Time)
}

func newEventReader(ctx context.Context, brokers []string, onAssigned func(tenant, conv, op string, read time.Time)) (*eventReader, error) {
	conn, err := kafka.DialContext(ctx, "tcp", brokers[0])
	if err != nil {
		return nil, fmt.Errorf("load: dial %s: %w", brokers[0], err)
	}
	parts, err := conn.ReadPartitions(EventsTopic)
	conn.Close()
	if err != nil {
		return nil, fmt.Errorf("load: partitions of %s: %w", EventsTopic, err)
	}
	e := &eventReader{onAssigned: onAssigned}
	for _, p := range parts {
		// The end offset now, not kafka.LastOffset: that is resolved only when the reader first fetches, after
		// the first assignments may already be written.
		end, err := endOffset(ctx, brokers[0], p.ID)
		if err != nil {
			e.close()
			return nil, err
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: EventsTopic, Partition: p.ID,
			MinBytes: 1, MaxBytes: 8 << 20, MaxWait: inbox.FetchWait(20 * time.Millisecond), QueueCapacity: 1024})
		if err := r.SetOffset(end); err != nil {
			e.close()
			return nil, fmt.Errorf("load: position on %s/%d: %w", EventsTopic, p.ID, err)
		}
		e.readers = append(e.readers, r)
	}
	return e, nil
}

// endOffset is the offset the next record of partition will get.
func endOffset(ctx context.Context, broker string, partition int) (int64, error) {
	conn, err := kafka.DialLeader(ctx, "tcp", broker, EventsTopic, partition)
	if err != nil {
		return 0, fmt.Errorf("load: dial the leader of %s/%d: %w", EventsTopic, partition, err)
	}
	defer conn.Close()
	off, err := conn.ReadLastOffset()
	if err != nil {
		return 0, fmt.Errorf("load: end offset of %s/%d: %w", EventsTopic, partition, err)
	}
	return off, nil
}

func (e *eventReader) close() {
	for _, r := range e.readers {
		r.Close()
	}
}

// run reads until ctx ends.
func (e *eventReader) run(ctx context.Context) {
	defer e.close()
	var wg sync.WaitGroup
	for _, r := range e.readers {
		wg.Go(func() {
			var ev struct {
				TenantID       string `json:"tenant_id"`
				ConversationID string `json:"conversation_id"`
				OperatorID     string `json:"operator_id"`
			}
			for {
				m, err := r.ReadMessage(ctx)
				if err != nil {
					if ctx.Err() != nil || errors.Is(err, context.Canceled) {
						return
					}
					time.Sleep(100 * time.Millisecond)
					continue
				}
				if !bytes.Contains(m.Value, assignedType) {
					continue
				}
				now := time.Now()
				ev.TenantID, ev.ConversationID, ev.OperatorID = "", "", ""
				if json.Unmarshal(m.Value, &ev) == nil {
					e.onAssigned(ev.TenantID, ev.ConversationID, ev.OperatorID, now)
				}
			}
		})
	}
	wg.Wait()
}
