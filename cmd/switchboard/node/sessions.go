package node

// The API's sessions in the node's Pebble store, so a restart does not sign operators out.

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/api"
)

// StoreSessions keeps api sessions in st: at most max (0 means 100,000; over it the oldest is removed), each until
// its expiry by now (nil: time.Now). Writes are synced. It is safe for concurrent use.
func StoreSessions(st *store.Store, max int, now func() time.Time) (api.Sessions, error) {
	if max <= 0 {
		max = 100_000
	}
	if now == nil {
		now = time.Now
	}
	n, err := st.SessionCount()
	if err != nil {
		return nil, fmt.Errorf("count sessions: %w", err)
	}
	return &storeSessions{st: st, max: max, now: now, count: n}, nil
}

type storeSessions struct {
	st  *store.Store
	max int
	now func() time.Time

	mu    sync.Mutex // orders Put's count and trim
	count int
}

// sessionRecord is what the store keeps of a session; the expiry is the store's own.
type sessionRecord struct {
	Tenant   string `json:"tenant"`
	Operator string `json:"operator"`
	CSRF     string `json:"csrf"`
	// Credential is the hash of the token signed in with, hex; "" in records written before it existed.
	Credential string `json:"credential,omitempty"`
}

func (s *storeSessions) Put(k api.SessionKey, sess api.Session) error {
	rec := sessionRecord{Tenant: sess.Tenant, Operator: sess.Operator, CSRF: sess.CSRF}
	if sess.Credential != ([32]byte{}) {
		rec.Credential = hex.EncodeToString(sess.Credential[:])
	}
	v, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.st.PutSession(k, v, sess.ExpiresAt); err != nil {
		return err
	}
	s.count++
	removed, err := s.st.TrimSessions(s.now(), max(0, s.count-s.max))
	s.count -= removed
	return err
}

func (s *storeSessions) Get(k api.SessionKey) (api.Session, bool, error) {
	v, expires, err := s.st.Session(k)
	if errors.Is(err, store.ErrNotFound) {
		return api.Session{}, false, nil
	}
	if err != nil {
		return api.Session{}, false, err
	}
	if !expires.After(s.now()) {
		return api.Session{}, false, nil // removed by a later trim
	}
	var r sessionRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return api.Session{}, false, fmt.Errorf("decode session: %w", err)
	}
	sess := api.Session{Tenant: r.Tenant, Operator: r.Operator, CSRF: r.CSRF, ExpiresAt: expires.UTC()}
	if r.Credential != "" {
		if b, err := hex.DecodeString(r.Credential); err == nil && len(b) == len(sess.Credential) {
			copy(sess.Credential[:], b)
		} else {
			return api.Session{}, false, fmt.Errorf("decode session credential: %q is not a SHA-256 in hex", r.Credential)
		}
	}
	return sess, true, nil
}

func (s *storeSessions) Delete(k api.SessionKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	existed, err := s.st.DeleteSession(k)
	if existed {
		s.count--
	}
	return err
}
