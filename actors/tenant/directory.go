package tenant

import (
	"slices"
	"strings"
)

// Directory answers the lookups the hot paths need: channel by phone number id, operator by token. It is built once
// from a validated Config and is read-only afterwards, so it is safe for concurrent use.
type Directory struct {
	tenants  map[string]*Tenant
	byPhone  map[string]ChannelRef
	byToken  map[[32]byte]OperatorRef
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
}

// NewDirectory indexes c. c must have passed Validate; a nil c gives an empty directory. It clears the operators'
// plaintext tokens in c: from then on only their hashes exist.
func NewDirectory(c *Config) *Directory {
	d := &Directory{
		tenants:  map[string]*Tenant{},
		byPhone:  map[string]ChannelRef{},
		byToken:  map[[32]byte]OperatorRef{},
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
		for j := range t.Operators {
			o := &t.Operators[j]
			d.byToken[HashToken(o.Token)] = OperatorRef{Tenant: t, Operator: o}
			o.Token = "" // only the hash is kept
		}
	}
	return d
}

// Tenant returns the tenant with the given id.
func (d *Directory) Tenant(id string) (*Tenant, bool) {
	t, ok := d.tenants[id]
	return t, ok
}

// Tenants returns every tenant, in config order is not guaranteed.
func (d *Directory) Tenants() []*Tenant {
	out := make([]*Tenant, 0, len(d.tenants))
	for _, t := range d.tenants {
		out = append(out, t)
	}
	return out
}

// ChannelByPhone returns the WhatsApp channel whose phone_number_id is id.
func (d *Directory) ChannelByPhone(id string) (ChannelRef, bool) {
	r, ok := d.byPhone[id]
	return r, ok
}

// WABA returns the WhatsApp Business Account with Meta id id: its tenant and channels.
func (d *Directory) WABA(id string) (WABARef, bool) {
	w, ok := d.byWABA[id]
	if !ok {
		return WABARef{}, false
	}
	return *w, true
}

// WABAs returns every configured WhatsApp Business Account, ordered by tenant and account id.
func (d *Directory) WABAs() []WABARef {
	out := make([]WABARef, 0, len(d.byWABA))
	for _, w := range d.byWABA {
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
	r, ok := d.byToken[HashToken(token)]
	return r, ok
}

// OperatorByTokenHash is OperatorByToken given the token's HashToken: a session keeps the hash of the token it was
// signed in with, never the token.
func (d *Directory) OperatorByTokenHash(h [32]byte) (OperatorRef, bool) {
	r, ok := d.byToken[h]
	return r, ok
}

// AppSecrets returns the distinct app secrets of all channels; a webhook signature must match one of them. The
// slice must not be modified.
func (d *Directory) AppSecrets() [][]byte { return d.secrets }

// VerifyTokenKnown reports whether token is the verify token of a configured channel.
func (d *Directory) VerifyTokenKnown(token string) bool { return token != "" && d.verifies[token] }
