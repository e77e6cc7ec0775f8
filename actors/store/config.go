package store

// A tenant's configuration as its tenant actor applied it (t/<tenant>/b/config), and the configuration records the
// outbox relays to switchboard.config rather than switchboard.events.

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// configRecordMark starts the value of an outbox entry that goes to the configuration topic: events are JSON
// objects, which never start with it.
const configRecordMark = 0x01

// PutTenantConfig writes tenant's configuration, encoded by its writer (the tenant actor).
func (b *Batch) PutTenantConfig(tenant string, cfg []byte) error {
	if err := b.b.Set(tenantConfigKey(tenant), cfg, nil); err != nil {
		return fmt.Errorf("put configuration of %s: %w", tenant, err)
	}
	return nil
}

// TenantConfig returns what PutTenantConfig wrote for tenant, or ErrNotFound.
func (s *Store) TenantConfig(tenant string) ([]byte, error) {
	v, closer, err := s.db.Get(tenantConfigKey(tenant))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get configuration of %s: %w", tenant, err)
	}
	defer closer.Close()
	return append([]byte(nil), v...), nil
}

// PutConfigRecord queues a configuration record of tenant for the relay, which produces it to the configuration
// topic under key, in outbox order with the tenant's events.
func (b *Batch) PutConfigRecord(tenant, key string, record []byte) error {
	v := make([]byte, 0, 1+binary.MaxVarintLen64+len(key)+len(record))
	v = append(v, configRecordMark)
	v = binary.AppendUvarint(v, uint64(len(key)))
	v = append(append(v, key...), record...)
	return b.PutOutbox(tenant, v)
}

// ConfigRecord reports whether an outbox entry is a configuration record, and if so its key and value (sharing
// e.Value).
func (e *OutboxEntry) ConfigRecord() (key, record []byte, ok bool) {
	if len(e.Value) == 0 || e.Value[0] != configRecordMark {
		return nil, nil, false
	}
	n, w := binary.Uvarint(e.Value[1:])
	if w <= 0 || uint64(len(e.Value)-1-w) < n {
		return nil, nil, false
	}
	rest := e.Value[1+w:]
	return rest[:n], rest[n:], true
}
