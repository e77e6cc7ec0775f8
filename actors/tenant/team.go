package tenant

// The team (issue 13): invitations, API tokens with scopes, disabling and removing operators. Each is a record kind
// of the configuration topic (token/<id>, invite/<id>), changed by a config_set that ApplyChange applies; secrets
// never appear here, only their SHA-256 (hex), and passwords only as argon2id hashes.

import (
	"slices"
	"strings"
	"time"
)

// APIToken is an API token issued to an operator: a bearer token that acts as the operator within its scopes.
type APIToken struct {
	ID       string `json:"id"`
	Operator string `json:"operator"`
	Name     string `json:"name"`
	// Scopes limit what the token may do (Scopes below); never empty.
	Scopes []string `json:"scopes"`
	// Hash is the hex SHA-256 of the token (HashToken): the token itself is shown once and kept nowhere.
	Hash      string     `json:"sha256"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Invite is a one-time invitation to become operator Operator of the tenant.
type Invite struct {
	// ID is the hex SHA-256 of the invite link's secret: the link is shown once and kept nowhere.
	ID        string     `json:"id"`
	Operator  string     `json:"operator"`
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	Capacity  int        `json:"capacity"`
	ExpiresAt time.Time  `json:"expires_at"`
	UsedAt    *time.Time `json:"used_at,omitempty"`
	// By is the admin who invited.
	By string `json:"by,omitempty"`
}

// Valid reports whether the invite can still be accepted at time at.
func (n *Invite) Valid(at time.Time) bool { return n.UsedAt == nil && at.Before(n.ExpiresAt) }

// TokenChange issues a token (Create, with every field) or revokes one (Revoke, by ID).
type TokenChange struct {
	ID       string   `json:"id"`
	Create   bool     `json:"create,omitempty"`
	Revoke   bool     `json:"revoke,omitempty"`
	Operator string   `json:"operator,omitempty"`
	Name     string   `json:"name,omitempty"`
	Scopes   []string `json:"scopes,omitempty"`
	Hash     string   `json:"sha256,omitempty"`
}

// InviteChange issues an invite (Create) or accepts one (Accept: creates the operator with PasswordHash and marks
// the invite used). ID is the hex SHA-256 of the secret.
type InviteChange struct {
	ID           string    `json:"id"`
	Create       bool      `json:"create,omitempty"`
	Accept       bool      `json:"accept,omitempty"`
	Operator     string    `json:"operator,omitempty"`
	Name         string    `json:"name,omitempty"`
	Role         string    `json:"role,omitempty"`
	Capacity     int       `json:"capacity,omitempty"`
	ExpiresAt    time.Time `json:"expires_at,omitzero"`
	By           string    `json:"by,omitempty"`
	PasswordHash string    `json:"password_hash,omitempty"`
}

// Codes of refusals of team changes.
const (
	CodeInviteNotFound = "invite_not_found"
	CodeOperatorExists = "operator_exists"
	CodeTokenNotFound  = "token_not_found"
)

// API token scopes. A token holds one or more; ScopeAdmin allows everything its operator's role allows.
const (
	ScopeConversationsRead  = "conversations:read"
	ScopeConversationsWrite = "conversations:write"
	ScopeContactsRead       = "contacts:read"
	ScopeContactsWrite      = "contacts:write"
	ScopeAdmin              = "admin"
)

// Scopes are the scopes a token may have.
var Scopes = []string{ScopeConversationsRead, ScopeConversationsWrite, ScopeContactsRead, ScopeContactsWrite, ScopeAdmin}

// ScopeAllows reports whether a token with scopes may do what needs: nil scopes (a session, or the operator's own
// configured token) allow everything; "admin" allows everything; a write scope implies its read scope; need ""
// (a route no scope names: team, settings, channels…) needs "admin".
func ScopeAllows(scopes []string, need string) bool {
	if scopes == nil || slices.Contains(scopes, ScopeAdmin) {
		return true
	}
	if need == "" {
		return false
	}
	if slices.Contains(scopes, need) {
		return true
	}
	if r, ok := strings.CutSuffix(need, ":read"); ok {
		return slices.Contains(scopes, r+":write")
	}
	return false
}

// MaxTokensPerOperator bounds the live (unrevoked) tokens of one operator.
const MaxTokensPerOperator = 20

// count is how many parts a change names.
func (ch *Change) count() int {
	n := 0
	for _, set := range []bool{ch.Settings != nil, ch.Channel != nil, ch.Operator != nil, ch.Token != nil, ch.Invite != nil,
		ch.SSO != nil, ch.SSOSignIn != nil, ch.Label != nil, ch.Fields != nil, ch.Rules != nil} {
		if set {
			n++
		}
	}
	return n
}

// MayChange reports whether caller (an operator of cur; nil for nobody signed in) may make ch: an admin anything
// (MayConfigure); a builder the labels catalogue, the contact fields and the routing rules (labels.go); an operator
// its own name, its own password and its own tokens; anyone the acceptance of an invite (the invite's secret is the
// credential: ApplyChange checks it). The API checks it before producing a change and the tenant actor again when
// it applies one.
func MayChange(cur *Tenant, caller *Operator, ch Change) bool {
	if caller != nil && !caller.Disabled && MayConfigure(caller.Role) {
		return true
	}
	switch {
	case ch.Invite != nil && ch.Invite.Accept && ch.count() == 1:
		return true
	// An SSO sign-in is produced by the API only for an ID token it verified, for the operator it names (nobody is
	// signed in yet); the rule checks it against the tenant's SSO configuration (sso.go).
	case ch.SSOSignIn != nil && ch.count() == 1:
		return true
	case caller == nil || caller.Disabled || ch.count() != 1:
		return false
	case ch.Label != nil || ch.Fields != nil || ch.Rules != nil:
		// The labels catalogue, the contact fields and the routing rules are what the inbox works with, which
		// builders build (labels.go).
		return caller.Role == RoleBuilder
	case ch.Operator != nil:
		o := ch.Operator
		return o.ID == caller.ID && (o.PasswordHash != nil || o.Name != nil) && !o.Delete && o.Role == nil &&
			o.Capacity == nil && o.Skills == nil && o.Teams == nil && o.TokenHash == nil && o.Disabled == nil && o.SSO == nil
	case ch.Token != nil && ch.Token.Create:
		return ch.Token.Operator == caller.ID
	case ch.Token != nil && ch.Token.Revoke:
		i := slices.IndexFunc(cur.Tokens, func(k APIToken) bool { return k.ID == ch.Token.ID })
		return i >= 0 && cur.Tokens[i].Operator == caller.ID
	}
	return false
}

func isHexSHA256(s string) bool {
	return len(s) == 64 && strings.Trim(s, "0123456789abcdef") == ""
}

// applyToken issues or revokes a token in t; it returns the token's id.
func applyToken(t *Tenant, c *TokenChange, at time.Time) (string, error) {
	i := slices.IndexFunc(t.Tokens, func(k APIToken) bool { return k.ID == c.ID })
	switch {
	case c.Create == c.Revoke:
		return "", invalid("", "a token change either creates or revokes")
	case c.Revoke:
		if i < 0 {
			return "", &Refusal{Code: CodeTokenNotFound, Message: "no token " + c.ID}
		}
		if t.Tokens[i].RevokedAt == nil {
			t.Tokens[i].RevokedAt = new(at.UTC())
		}
		return c.ID, nil
	}
	switch {
	case i >= 0 || !idPattern.MatchString(c.ID):
		return "", invalid("id", "the token's id is taken or malformed")
	case !isHexSHA256(c.Hash):
		return "", invalid("token", "the token's hash is not a hex SHA-256")
	case slices.IndexFunc(t.Operators, func(o Operator) bool { return o.ID == c.Operator }) < 0:
		return "", &Refusal{Code: CodeOperatorNotFound, Message: "no operator " + c.Operator}
	case strings.TrimSpace(c.Name) == "" || len(c.Name) > 100:
		return "", invalid("name", "a token needs a name of 1 to 100 characters")
	case len(c.Scopes) == 0:
		return "", invalid("scopes", "a token needs at least one scope (%s)", strings.Join(Scopes, ", "))
	}
	for j, s := range c.Scopes {
		if !slices.Contains(Scopes, s) || slices.Contains(c.Scopes[:j], s) {
			return "", invalid("scopes", "%q is unknown or repeated (known: %s)", s, strings.Join(Scopes, ", "))
		}
	}
	live := 0
	for _, k := range t.Tokens {
		if k.Operator == c.Operator && k.RevokedAt == nil {
			live++
		}
	}
	if live >= MaxTokensPerOperator {
		return "", invalid("scopes", "an operator may hold at most %d tokens; revoke one first", MaxTokensPerOperator)
	}
	t.Tokens = append(t.Tokens, APIToken{ID: c.ID, Operator: c.Operator, Name: c.Name, Scopes: slices.Clone(c.Scopes),
		Hash: c.Hash, CreatedAt: at.UTC()})
	return c.ID, nil
}

// applyInvite issues or accepts an invite in t; it returns the invite's id and, on acceptance, the operator's record
// to publish with it.
func applyInvite(t *Tenant, c *InviteChange, at time.Time) (string, []Record, error) {
	if !isHexSHA256(c.ID) {
		return "", nil, &Refusal{Code: CodeInviteNotFound, Message: "the invite is unknown, expired or used"}
	}
	i := slices.IndexFunc(t.Invites, func(n Invite) bool { return n.ID == c.ID })
	exists := func(id string) bool {
		return slices.IndexFunc(t.Operators, func(o Operator) bool { return o.ID == id }) >= 0
	}
	switch {
	case c.Create == c.Accept:
		return "", nil, invalid("", "an invite change either creates or accepts")
	case c.Create:
		switch {
		case i >= 0:
			return "", nil, invalid("id", "the invite exists")
		case !idPattern.MatchString(c.Operator):
			return "", nil, invalid("id", "%q must match [a-z0-9-]{1,64}", c.Operator)
		case exists(c.Operator):
			return "", nil, &Refusal{Code: CodeOperatorExists, Message: "operator " + c.Operator + " exists"}
		case !c.ExpiresAt.After(at):
			return "", nil, invalid("expires_at", "must be in the future")
		}
		role, capacity := c.Role, c.Capacity
		if role == "" {
			role = RoleOperator
		}
		if capacity == 0 {
			capacity = DefaultCapacity
		}
		if role != RoleAdmin && role != RoleBuilder && role != RoleOperator {
			return "", nil, invalid("role", "%q must be admin, builder or operator", role)
		}
		if capacity < 0 || capacity > MaxCapacity {
			return "", nil, invalid("capacity", "%d must be between 1 and %d", capacity, MaxCapacity)
		}
		// Another pending invite for the same id is replaced: the latest link is the one that works (the replaced
		// one's record is published too, so no node accepts it any more).
		var replaced []Record
		for j := range t.Invites {
			if n := &t.Invites[j]; n.Operator == c.Operator && n.Valid(at) {
				n.UsedAt = new(at.UTC())
				replaced = append(replaced, Record{Kind: KindInvite, ID: n.ID, Invite: new(*n)})
			}
		}
		t.Invites = append(t.Invites, Invite{ID: c.ID, Operator: c.Operator, Name: c.Name, Role: role,
			Capacity: capacity, ExpiresAt: c.ExpiresAt.UTC(), By: c.By})
		return c.ID, replaced, nil
	}
	if i < 0 || !t.Invites[i].Valid(at) {
		return "", nil, &Refusal{Code: CodeInviteNotFound, Message: "the invite is unknown, expired or used"}
	}
	n := &t.Invites[i]
	if exists(n.Operator) {
		return "", nil, &Refusal{Code: CodeOperatorExists, Message: "operator " + n.Operator + " exists"}
	}
	if !strings.HasPrefix(c.PasswordHash, "$argon2id$") {
		return "", nil, invalid("password", "the password's hash is not an argon2id hash")
	}
	n.UsedAt = new(at.UTC())
	o := Operator{ID: n.Operator, Name: n.Name, Role: n.Role, Capacity: n.Capacity, PasswordHash: c.PasswordHash}
	t.Operators = append(t.Operators, o)
	return n.ID, []Record{{Kind: KindOperator, ID: o.ID, Operator: &o}}, nil
}

// deleteOperator removes an operator from t and revokes its tokens; it returns the revoked tokens' records, so an
// operator created later under the same id does not inherit them.
func deleteOperator(t *Tenant, c *OperatorChange, at time.Time) ([]Record, error) {
	i := slices.IndexFunc(t.Operators, func(x Operator) bool { return x.ID == c.ID })
	if i < 0 {
		return nil, &Refusal{Code: CodeOperatorNotFound, Message: "no operator " + c.ID}
	}
	t.Operators = slices.Delete(t.Operators, i, i+1)
	var out []Record
	for j := range t.Tokens {
		if k := &t.Tokens[j]; k.Operator == c.ID && k.RevokedAt == nil {
			k.RevokedAt = new(at.UTC())
			out = append(out, Record{Kind: KindToken, ID: k.ID, Token: new(*k)})
		}
	}
	return out, nil
}
