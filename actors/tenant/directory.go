package tenant

import (
	"context"
	"encoding/hex"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Directory answers the lookups the hot paths need: channel by phone number id, operator by token. It holds an
// immutable snapshot of the configuration that Replace swaps atomically (the node's configuration watcher does, as
// records of the switchboard.config topic arrive), so every method answers from one consistent snapshot, and what a
// method returned (a *Tenant, a ref) must be treated as read-only: it belongs to that snapshot. It is safe for
// concurrent use.
type Directory struct {
	cur atomic.Pointer[snapshot]
	// mu guards changed, which Replace closes and renews: WaitVersion waits on it.
	mu      sync.Mutex
	changed chan struct{}
}

// snapshot is one configuration, indexed; never modified once built.
type snapshot struct {
	// gen counts the snapshots of a Directory, so a user can tell that its cache of one is stale (Generation).
	gen     uint64
	tenants map[string]*Tenant
	byPhone map[string]ChannelRef
	byToken map[[32]byte]OperatorRef
	// byInvite holds the invites that can still be accepted (by id: their secret's SHA-256); expiry is checked on
	// lookup.
	byInvite map[[32]byte]InviteRef
	secrets  [][]byte
	verifies map[string]bool
	byWABA   map[string]*WABARef
	wabas    []WABARef
}

// WABARef is a WhatsApp Business Account with its tenant and the tenant's channels on it, in config order.
type WABARef struct {
	ID       string
	Tenant   *Tenant
	Channels []*Channel
}

// ChannelRef is a channel together with the tenant that owns it.
type ChannelRef struct {
	Tenant  *Tenant
	Channel *Channel
}

// OperatorRef is an operator together with its tenant.
type OperatorRef struct {
	Tenant   *Tenant
	Operator *Operator
	// Token is the API token (team.go) the caller authenticated with; nil for a session or the operator's own
	// configured token, which carry every permission of its role.
	Token *APIToken
}

// Scopes are the scopes the caller's credential carries: nil for all (tenant.ScopeAllows).
func (r OperatorRef) Scopes() []string {
	if r.Token == nil {
		return nil
	}
	return r.Token.Scopes
}

// InviteRef is an invite together with its tenant.
type InviteRef struct {
	Tenant *Tenant
	Invite *Invite
}

// NewDirectory indexes c. c must have passed Validate; a nil c gives an empty directory. It clears the operators'
// plaintext tokens in c: from then on only their hashes (Operator.TokenHash) exist.
func NewDirectory(c *Config) *Directory {
	d := &Directory{changed: make(chan struct{})}
	d.cur.Store(index(c, 1))
	return d
}

// Replace makes c the directory's configuration: every later call answers from it. c must have passed Validate and
// must not be modified afterwards. Like NewDirectory, it clears c's plaintext tokens.
func (d *Directory) Replace(c *Config) {
	d.mu.Lock()
	d.cur.Store(index(c, d.cur.Load().gen+1))
	close(d.changed)
	d.changed = make(chan struct{})
	d.mu.Unlock()
}

// Generation numbers the directory's configurations: it changes whenever Replace does, so a user that derives
// something from the configuration (the webhook handler's MACs) knows when to derive it again.
func (d *Directory) Generation() uint64 { return d.cur.Load().gen }

// WaitVersion waits until the configuration of tenant id is at version v or later (Tenant.Version), or ctx ends.
func (d *Directory) WaitVersion(ctx context.Context, id string, v uint64) error {
	for {
		d.mu.Lock()
		ch := d.changed
		d.mu.Unlock()
		if t, ok := d.Tenant(id); ok && t.Version >= v {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// index builds the snapshot of c.
func index(c *Config, gen uint64) *snapshot {
	d := &snapshot{
		gen:      gen,
		tenants:  map[string]*Tenant{},
		byPhone:  map[string]ChannelRef{},
		byToken:  map[[32]byte]OperatorRef{},
		byInvite: map[[32]byte]InviteRef{},
		verifies: map[string]bool{},
		byWABA:   map[string]*WABARef{},
	}
	if c == nil {
		return d
	}
	seen := map[string]bool{}
	for i := range c.Tenants {
		t := &c.Tenants[i]
		d.tenants[t.ID] = t
		for j := range t.Channels {
			ch := &t.Channels[j]
			d.byPhone[ch.PhoneNumberID] = ChannelRef{Tenant: t, Channel: ch}
			if !seen[ch.AppSecret] {
				seen[ch.AppSecret] = true
				d.secrets = append(d.secrets, []byte(ch.AppSecret))
			}
			d.verifies[ch.VerifyToken] = true
			if ch.WABAID != "" {
				w := d.byWABA[ch.WABAID]
				if w == nil {
					w = &WABARef{ID: ch.WABAID, Tenant: t}
					d.byWABA[ch.WABAID] = w
				}
				w.Channels = append(w.Channels, ch)
			}
		}
		ops := map[string]*Operator{}
		for j := range t.Operators {
			o := &t.Operators[j]
			o.hashToken()
			ops[o.ID] = o
			var h [32]byte
			if o.Disabled {
				continue // a disabled operator cannot call the API, on any node that has the record
			}
			if n, err := hex.Decode(h[:], []byte(o.TokenHash)); err != nil || n != len(h) {
				continue // an operator without a token cannot call the API
			}
			d.byToken[h] = OperatorRef{Tenant: t, Operator: o}
		}
		for j := range t.Tokens {
			k := &t.Tokens[j]
			o := ops[k.Operator]
			var h [32]byte
			if k.RevokedAt != nil || o == nil || o.Disabled {
				continue
			}
			if n, err := hex.Decode(h[:], []byte(k.Hash)); err != nil || n != len(h) {
				continue
			}
			d.byToken[h] = OperatorRef{Tenant: t, Operator: o, Token: k}
		}
		for j := range t.Invites {
			n := &t.Invites[j]
			var h [32]byte
			if n.UsedAt != nil {
				continue
			}
			if k, err := hex.Decode(h[:], []byte(n.ID)); err != nil || k != len(h) {
				continue
			}
			d.byInvite[h] = InviteRef{Tenant: t, Invite: n}
		}
	}
	return d
}

// ForgetTokens replaces the operators' plaintext tokens in c by their hashes (Operator.TokenHash). A nil c is fine.
func (c *Config) ForgetTokens() {
	if c == nil {
		return
	}
	for i := range c.Tenants {
		for j := range c.Tenants[i].Operators {
			c.Tenants[i].Operators[j].hashToken()
		}
	}
}

// Tenant returns the tenant with the given id.
func (d *Directory) Tenant(id string) (*Tenant, bool) {
	t, ok := d.cur.Load().tenants[id]
	return t, ok
}

// Tenants returns every tenant, in no particular order.
func (d *Directory) Tenants() []*Tenant {
	s := d.cur.Load()
	out := make([]*Tenant, 0, len(s.tenants))
	for _, t := range s.tenants {
		out = append(out, t)
	}
	return out
}

// ChannelByPhone returns the WhatsApp channel whose phone_number_id is id.
func (d *Directory) ChannelByPhone(id string) (ChannelRef, bool) {
	r, ok := d.cur.Load().byPhone[id]
	return r, ok
}

// WABA returns the WhatsApp Business Account with Meta id id: its tenant and channels.
func (d *Directory) WABA(id string) (WABARef, bool) {
	w, ok := d.cur.Load().byWABA[id]
	if !ok {
		return WABARef{}, false
	}
	return *w, true
}

// WABAs returns every configured WhatsApp Business Account, ordered by tenant and account id.
func (d *Directory) WABAs() []WABARef {
	s := d.cur.Load()
	out := make([]WABARef, 0, len(s.byWABA))
	for _, w := range s.byWABA {
		out = append(out, *w)
	}
	slices.SortFunc(out, func(a, b WABARef) int {
		if c := strings.Compare(a.Tenant.ID, b.Tenant.ID); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// OperatorByToken returns the operator whose API token is token.
func (d *Directory) OperatorByToken(token string) (OperatorRef, bool) {
	r, ok := d.cur.Load().byToken[HashToken(token)]
	return r, ok
}

// InviteBySecret returns the invite whose link's secret is secret, if it can still be accepted at time at.
func (d *Directory) InviteBySecret(secret string, at time.Time) (InviteRef, bool) {
	r, ok := d.cur.Load().byInvite[HashToken(secret)]
	if !ok || !r.Invite.Valid(at) {
		return InviteRef{}, false
	}
	return r, true
}

// OperatorByTokenHash is OperatorByToken given the token's HashToken: a session keeps the hash of the token it was
// signed in with, never the token.
func (d *Directory) OperatorByTokenHash(h [32]byte) (OperatorRef, bool) {
	r, ok := d.cur.Load().byToken[h]
	return r, ok
}

// AppSecrets returns the distinct app secrets of all channels; a webhook signature must match one of them. The
// slice must not be modified.
func (d *Directory) AppSecrets() [][]byte { return d.cur.Load().secrets }

// VerifyTokenKnown reports whether token is the verify token of a configured channel.
func (d *Directory) VerifyTokenKnown(token string) bool {
	return token != "" && d.cur.Load().verifies[token]
}
