// Package cluster is what lets any router node answer any tenant (README, "Several nodes"): the membership record
// each node publishes to switchboard.members, the owner table every node folds from it (partition → the node that
// owns it in the newest consumer group generation), and the signature of the internal calls by which a node
// forwards a tenant's API call to its owner.
//
// It is a leaf: no Kafka, no store (cmd/switchboard/node reads and writes the topic; api verifies and forwards
// through the interface it defines).
package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"time"
)

// Topic is the compacted topic of membership records, one partition, keyed by node id.
const Topic = "switchboard.members"

// Member is one node's membership record: what it owns since which generation, and where its API is.
type Member struct {
	// Node is the node's id (stable across restarts: its advertised URL unless set).
	Node string `json:"node"`
	// URL is the node's API base URL, e.g. http://10.0.0.5:8080 (no path).
	URL string `json:"url"`
	// Generation is the consumer group generation that assigned Partitions.
	Generation int32 `json:"generation"`
	// Partitions are the inbox partitions the node owns (restored and consuming) in Generation.
	Partitions []int `json:"partitions"`
	// At is when the record was written; a record older than the table's TTL is ignored.
	At time.Time `json:"at"`
}

// Encode is the record's value.
func (m Member) Encode() []byte {
	b, _ := json.Marshal(m) // cannot fail: plain fields
	return b
}

// DecodeMember parses a record value.
func DecodeMember(b []byte) (Member, error) {
	var m Member
	if err := json.Unmarshal(b, &m); err != nil {
		return Member{}, fmt.Errorf("membership record: %w", err)
	}
	if m.Node == "" {
		return Member{}, errors.New("membership record: no node id")
	}
	if m.URL != "" {
		u, err := url.Parse(m.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return Member{}, fmt.Errorf("membership record of %s: url %q is not http(s)://host[:port]", m.Node, m.URL)
		}
	}
	return m, nil
}

// Owner is where a partition is served.
type Owner struct {
	Node       string
	URL        string
	Generation int32
}

// Table folds membership records into partition → owner: the member claiming a partition in the highest
// generation wins; a member whose last record is older than TTL claims nothing. It is safe for concurrent use.
type Table struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.RWMutex
	members map[string]Member
	changed chan struct{} // closed and replaced on every Update
}

// NewTable returns an empty table; ttl 0 never expires members; now nil is time.Now.
func NewTable(ttl time.Duration, now func() time.Time) *Table {
	if now == nil {
		now = time.Now
	}
	return &Table{ttl: ttl, now: now, members: map[string]Member{}, changed: make(chan struct{})}
}

// Update applies a record: the member's newest record replaces its previous one (an older one, by At, is ignored).
func (t *Table) Update(m Member) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.members[m.Node]; ok && (m.Generation < old.Generation || m.At.Before(old.At)) {
		return
	}
	m.Partitions = slices.Clone(m.Partitions)
	t.members[m.Node] = m
	close(t.changed)
	t.changed = make(chan struct{})
}

// Remove forgets a member (its record was deleted: a tombstone).
func (t *Table) Remove(node string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.members, node)
	close(t.changed)
	t.changed = make(chan struct{})
}

// Changed is closed at the next Update or Remove.
func (t *Table) Changed() <-chan struct{} {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.changed
}

// Owner is partition p's owner: the live member claiming it in the highest generation (ties, which a consumer
// group never makes, go to the newer record). False when no live member claims p.
func (t *Table) Owner(p int) (Owner, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var best Member
	found := false
	now := t.now()
	for _, m := range t.members {
		if t.ttl > 0 && now.Sub(m.At) > t.ttl {
			continue
		}
		if !slices.Contains(m.Partitions, p) {
			continue
		}
		if !found || m.Generation > best.Generation || (m.Generation == best.Generation && m.At.After(best.At)) {
			best, found = m, true
		}
	}
	if !found {
		return Owner{}, false
	}
	return Owner{Node: best.Node, URL: best.URL, Generation: best.Generation}, true
}

// Members are the live members, sorted by node id.
func (t *Table) Members() []Member {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var out []Member
	now := t.now()
	for _, m := range t.members {
		if t.ttl > 0 && now.Sub(m.At) > t.ttl {
			continue
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Member) int {
		switch {
		case a.Node < b.Node:
			return -1
		case a.Node > b.Node:
			return 1
		}
		return 0
	})
	return out
}
