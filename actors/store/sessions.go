package store

// The API's sign-in sessions, node-local: stored by the SHA-256 of the cookie value, with an index by expiry so the
// expired and, over a bound, the oldest are removed in one ordered scan from the front.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// PutSession stores a session (value, opaque to the store) under the hash of its cookie until expires. It is synced
// before it returns.
func (s *Store) PutSession(hash [32]byte, value []byte, expires time.Time) error {
	b := s.db.NewBatch()
	defer b.Close()
	rec := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(value)), uint64(expires.UnixMilli()))
	if err := b.Set(sessionKey(hash), append(rec, value...), nil); err != nil {
		return err
	}
	if err := b.Set(sessionExpiryKey(expires, hash), nil, nil); err != nil {
		return err
	}
	if err := s.db.Apply(b, pebble.Sync); err != nil {
		return fmt.Errorf("store session: %w", err)
	}
	return nil
}

// Session returns a session's value and expiry, or an error wrapping ErrNotFound. It does not look at the clock.
func (s *Store) Session(hash [32]byte) (value []byte, expires time.Time, err error) {
	v, closer, err := s.db.Get(sessionKey(hash))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, time.Time{}, fmt.Errorf("session: %w", ErrNotFound)
	}
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("read session: %w", err)
	}
	defer closer.Close()
	if len(v) < 8 {
		return nil, time.Time{}, fmt.Errorf("BUG: session record of %d bytes", len(v))
	}
	return append([]byte(nil), v[8:]...), time.UnixMilli(int64(binary.BigEndian.Uint64(v))), nil
}

// DeleteSession removes a session; it reports whether there was one.
func (s *Store) DeleteSession(hash [32]byte) (bool, error) {
	_, expires, err := s.Session(hash)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.Delete(sessionKey(hash), nil); err != nil {
		return false, err
	}
	if err := b.Delete(sessionExpiryKey(expires, hash), nil); err != nil {
		return false, err
	}
	if err := s.db.Apply(b, pebble.Sync); err != nil {
		return false, fmt.Errorf("delete session: %w", err)
	}
	return true, nil
}

// TrimSessions removes, from the oldest expiry on, every session expired at now and then at least atLeast more;
// it returns how many it removed.
func (s *Store) TrimSessions(now time.Time, atLeast int) (int, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte(sessionExpiryPrefix),
		UpperBound: prefixEnd([]byte(sessionExpiryPrefix))})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	b := s.db.NewBatch()
	defer b.Close()
	removed := 0
	for it.First(); it.Valid(); it.Next() {
		ms, hash, err := parseSessionExpiryKey(it.Key())
		if err != nil {
			return 0, err
		}
		if ms > now.UnixMilli() && removed >= atLeast {
			break
		}
		if err := b.Delete(it.Key(), nil); err != nil {
			return 0, err
		}
		if err := b.Delete(sessionKey(hash), nil); err != nil {
			return 0, err
		}
		removed++
	}
	if err := it.Error(); err != nil {
		return 0, fmt.Errorf("scan sessions: %w", err)
	}
	if removed > 0 {
		if err := s.db.Apply(b, pebble.Sync); err != nil {
			return 0, fmt.Errorf("trim sessions: %w", err)
		}
	}
	return removed, nil
}

// SessionCount counts the stored sessions, expired ones not yet trimmed included.
func (s *Store) SessionCount() (int, error) {
	n := 0
	err := s.eachKey([]byte(sessionExpiryPrefix), func(_, _ []byte) error { n++; return nil })
	return n, err
}
