package tenant

// Configuration at runtime: the records of the switchboard.config topic, the changes an admin makes, and the pure
// rule that applies a change to a tenant's current configuration (docs/contract.md, "Configuration at runtime").

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/switchboard-hq/switchboard/actors/routing"
)

// ConfigTopic is the compacted topic of tenant configuration: one partition, so one total order; key
// "<tenant>/<kind>/<id>", value a Record.
const ConfigTopic = "switchboard.config"

// Kinds of configuration records.
const (
	KindSettings = "tenant"   // the tenant's Settings; id "settings"
	KindChannel  = "channel"  // a Channel; id the channel id
	KindOperator = "operator" // an Operator; id the operator id
	KindToken    = "token"    // an APIToken; id the token id
	KindInvite   = "invite"   // an Invite; id the hex SHA-256 of its secret
	// KindSSO (sso.go): the tenant's OpenID Connect configuration; id SSOID.
)

// SettingsID is the id of the settings record.
const SettingsID = "settings"

// Record is one item of a tenant's configuration as the topic holds it: the whole current item, so compaction,
// which keeps the latest record of each key, keeps the configuration. A removed item is a record with Deleted set
// (not a Kafka tombstone, so a node restoring from the topic sees the removal).
type Record struct {
	Tenant string `json:"tenant"`
	Kind   string `json:"kind"`
	ID     string `json:"id"`
	// Version is the tenant's configuration sequence when the record was written: every change of a tenant
	// increments it, and the tenant's Version is the highest of its records.
	Version uint64 `json:"version"`
	// At is when the change was made (the time of the command record that made it; for a seed, the node's clock).
	At      time.Time `json:"at"`
	Deleted bool      `json:"deleted,omitempty"`
	// Seed says the record comes from the YAML file of the node that seeded the tenant.
	Seed     bool      `json:"seed,omitempty"`
	Settings *Settings `json:"settings,omitempty"`
	Channel  *Channel  `json:"channel,omitempty"`
	Operator *Operator `json:"operator,omitempty"`
	Token    *APIToken `json:"token,omitempty"`
	Invite   *Invite   `json:"invite,omitempty"`
	SSO      *SSO      `json:"sso,omitempty"`
	// Label and Rules are the records of the labels catalogue and the routing rules (labels.go).
	Label *Label   `json:"label,omitempty"`
	Rules *RuleSet `json:"rules,omitempty"`
}

// Key is the record's key in the topic.
func (r *Record) Key() string { return RecordKey(r.Tenant, r.Kind, r.ID) }

// RecordKey is the topic key of a tenant's item.
func RecordKey(tenant, kind, id string) string { return tenant + "/" + kind + "/" + id }

// Records are the records of t's whole configuration at version v: its settings, then its channels and operators in
// order. Operators' plaintext tokens are replaced by their hashes first.
func Records(t *Tenant, v uint64, at time.Time) []Record {
	out := make([]Record, 0, 1+len(t.Channels)+len(t.Operators))
	s := t.Settings
	out = append(out, Record{Tenant: t.ID, Kind: KindSettings, ID: SettingsID, Version: v, At: at, Settings: &s})
	for i := range t.Channels {
		ch := t.Channels[i]
		out = append(out, Record{Tenant: t.ID, Kind: KindChannel, ID: ch.ID, Version: v, At: at, Channel: &ch})
	}
	for i := range t.Operators {
		o := t.Operators[i]
		o.hashToken()
		out = append(out, Record{Tenant: t.ID, Kind: KindOperator, ID: o.ID, Version: v, At: at, Operator: &o})
	}
	for i := range t.Tokens {
		k := t.Tokens[i]
		out = append(out, Record{Tenant: t.ID, Kind: KindToken, ID: k.ID, Version: v, At: at, Token: &k})
	}
	for i := range t.Invites {
		n := t.Invites[i]
		out = append(out, Record{Tenant: t.ID, Kind: KindInvite, ID: n.ID, Version: v, At: at, Invite: &n})
	}
	if t.SSO != nil {
		out = append(out, Record{Tenant: t.ID, Kind: KindSSO, ID: SSOID, Version: v, At: at, SSO: t.SSO.Clone()})
	}
	for i := range t.Labels {
		l := t.Labels[i]
		out = append(out, Record{Tenant: t.ID, Kind: KindLabel, ID: l.Name, Version: v, At: at, Label: &l})
	}
	if len(t.Rules) > 0 {
		out = append(out, Record{Tenant: t.ID, Kind: KindRules, ID: RulesID, Version: v, At: at,
			Rules: &RuleSet{Rules: cloneRules(t.Rules)}})
	}
	for _, id := range t.RemovedChannels {
		out = append(out, Record{Tenant: t.ID, Kind: KindChannel, ID: id, Version: v, At: at, Deleted: true})
	}
	return out
}

// Fold is the configuration the records of the topic give, read in topic order: for each tenant, the latest record of
// each key; a deleted record removes the item. Items keep the order they first appeared in. A tenant with no settings
// record is left out (it was never seeded whole). The result is not validated.
type Fold struct {
	tenants map[string]*folded
	order   []string
}

type folded struct {
	version  uint64
	settings *Record
	keys     []string
	items    map[string]*Record
}

// NewFold starts an empty fold.
func NewFold() *Fold { return &Fold{tenants: map[string]*folded{}} }

// Add folds one record in. A record older (by version) than the one the fold holds for its key is ignored: a seed
// written late by a node that started while another seeded and changed the tenant does not undo the change.
func (f *Fold) Add(r Record) {
	t := f.tenants[r.Tenant]
	if t == nil {
		t = &folded{items: map[string]*Record{}}
		f.tenants[r.Tenant] = t
		f.order = append(f.order, r.Tenant)
	}
	t.version = max(t.version, r.Version)
	if r.Kind == KindSettings {
		if t.settings == nil || t.settings.Version <= r.Version {
			t.settings = &r
		}
		return
	}
	k := r.Key()
	prev, ok := t.items[k]
	if !ok {
		t.keys = append(t.keys, k)
	} else if prev.Version > r.Version {
		return
	}
	t.items[k] = &r
}

// Has reports whether the topic holds a settings record of tenant id: whether it was seeded.
func (f *Fold) Has(id string) bool {
	t := f.tenants[id]
	return t != nil && t.settings != nil
}

// Version is the highest version of tenant id's records (0 for none).
func (f *Fold) Version(id string) uint64 {
	if t := f.tenants[id]; t != nil {
		return t.version
	}
	return 0
}

// At is when the latest record of tenant's item was written (zero if none).
func (f *Fold) At(tenant, kind, id string) time.Time {
	t := f.tenants[tenant]
	switch {
	case t == nil:
		return time.Time{}
	case kind == KindSettings:
		if t.settings != nil {
			return t.settings.At
		}
		return time.Time{}
	}
	if r := t.items[RecordKey(tenant, kind, id)]; r != nil {
		return r.At
	}
	return time.Time{}
}

// Tenant is tenant id as folded.
func (f *Fold) Tenant(id string) (*Tenant, bool) {
	ft := f.tenants[id]
	if ft == nil || ft.settings == nil || ft.settings.Settings == nil {
		return nil, false
	}
	t := &Tenant{ID: id, Settings: *ft.settings.Settings, Version: ft.version}
	t.Settings.TakeoverRoles = slices.Clone(t.Settings.TakeoverRoles)
	t.Settings.ContactFields = slices.Clone(t.Settings.ContactFields)
	for _, k := range ft.keys {
		r := ft.items[k]
		switch {
		case r.Deleted:
			if r.Kind == KindChannel {
				t.RemovedChannels = append(t.RemovedChannels, r.ID)
			}
		case r.Kind == KindChannel && r.Channel != nil:
			t.Channels = append(t.Channels, *r.Channel)
		case r.Kind == KindOperator && r.Operator != nil:
			o := *r.Operator
			o.Skills, o.Teams = slices.Clone(o.Skills), slices.Clone(o.Teams)
			t.Operators = append(t.Operators, o)
		case r.Kind == KindToken && r.Token != nil:
			k := *r.Token
			k.Scopes = slices.Clone(k.Scopes)
			t.Tokens = append(t.Tokens, k)
		case r.Kind == KindInvite && r.Invite != nil:
			t.Invites = append(t.Invites, *r.Invite)
		case r.Kind == KindSSO && r.SSO != nil:
			t.SSO = r.SSO.Clone()
		case r.Kind == KindLabel && r.Label != nil:
			t.Labels = append(t.Labels, *r.Label)
		case r.Kind == KindRules && r.Rules != nil:
			t.Rules = cloneRules(r.Rules.Rules)
		}
	}
	return t, true
}

// Config is every seeded tenant, ordered by id.
func (f *Fold) Config() *Config {
	ids := slices.Clone(f.order)
	sort.Strings(ids)
	c := &Config{}
	for _, id := range ids {
		if t, ok := f.Tenant(id); ok {
			c.Tenants = append(c.Tenants, *t)
		}
	}
	return c
}

// Clone is a deep copy of t.
func (t *Tenant) Clone() *Tenant {
	c := *t
	c.Settings.TakeoverRoles = slices.Clone(t.Settings.TakeoverRoles)
	c.Settings.ContactFields = slices.Clone(t.Settings.ContactFields)
	c.Channels = slices.Clone(t.Channels)
	c.Operators = slices.Clone(t.Operators)
	for i := range c.Operators {
		c.Operators[i].Skills = slices.Clone(c.Operators[i].Skills)
		c.Operators[i].Teams = slices.Clone(c.Operators[i].Teams)
	}
	c.Tokens = slices.Clone(t.Tokens)
	for i := range c.Tokens {
		c.Tokens[i].Scopes = slices.Clone(c.Tokens[i].Scopes)
	}
	c.Invites = slices.Clone(t.Invites)
	c.SSO = t.SSO.Clone()
	cloneCatalogue(&c)
	c.RemovedChannels = slices.Clone(t.RemovedChannels)
	return &c
}

// Change is an admin's change of a tenant's configuration, as the config_set command carries it: exactly one of
// Settings, Channel and Operator, naming only what changes (nil keeps the current value).
type Change struct {
	Settings *SettingsChange `json:"settings,omitempty"`
	Channel  *ChannelChange  `json:"channel,omitempty"`
	Operator *OperatorChange `json:"operator,omitempty"`
	// Token issues or revokes an API token (team.go).
	Token *TokenChange `json:"token,omitempty"`
	// Invite issues an invitation or accepts one (team.go).
	Invite *InviteChange `json:"invite,omitempty"`
	// SSO changes the single sign-on configuration; SSOSignIn applies a verified SSO sign-in (sso.go).
	SSO       *SSOChange `json:"sso,omitempty"`
	SSOSignIn *SSOSignIn `json:"sso_sign_in,omitempty"`
	// Label adds, changes or removes a label of the catalogue; Fields replaces the contact fields; Rules replaces
	// the routing rules (labels.go).
	Label  *LabelChange  `json:"label,omitempty"`
	Fields *FieldsChange `json:"fields,omitempty"`
	Rules  *RulesChange  `json:"rules,omitempty"`
}

// SettingsChange changes tenant settings. Contact fields are not changed here (their schema is part of issue 13's
// custom-field work).
type SettingsChange struct {
	AutoCloseAfter     *Duration `json:"auto_close_after,omitempty"`
	ReopenTo           *string   `json:"reopen_to,omitempty"`
	ReservationTimeout *Duration `json:"reservation_timeout,omitempty"`
	WindowWarning      *Duration `json:"window_warning,omitempty"`
	TakeoverRoles      *[]string `json:"takeover_roles,omitempty"`
	OfflineReleases    *bool     `json:"offline_releases,omitempty"`
	Routing            *string   `json:"routing,omitempty"`
	ReadReceipts       *bool     `json:"read_receipts,omitempty"`
	HidePhoneNumbers   *bool     `json:"hide_phone_numbers,omitempty"`
	// AuditRetention sets how long audit entries are kept (0: forever).
	AuditRetention *Retention `json:"audit_retention,omitempty"`
}

// ChannelChange adds a channel (Create) or changes one: enables or disables it, rotates its secrets.
type ChannelChange struct {
	ID     string `json:"id"`
	Create bool   `json:"create,omitempty"`
	// Type and PhoneNumberID are given on Create only.
	Type          string  `json:"type,omitempty"`
	PhoneNumberID string  `json:"phone_number_id,omitempty"`
	Name          *string `json:"name,omitempty"`
	AppSecret     *string `json:"app_secret,omitempty"`
	VerifyToken   *string `json:"verify_token,omitempty"`
	AccessToken   *string `json:"access_token,omitempty"`
	RateLimit     *int    `json:"rate_limit,omitempty"`
	WABAID        *string `json:"waba_id,omitempty"`
	Disabled      *bool   `json:"disabled,omitempty"`
	// Delete removes the channel (channels.go): its record on the topic says deleted, and every node forgets it.
	Delete bool `json:"delete,omitempty"`
}

// OperatorChange changes an operator's name, role, capacity, skills or teams, or gives it a new API token.
type OperatorChange struct {
	ID string `json:"id"`
	// TokenHash is the hex SHA-256 of a new API token (the API hashes the token it is given: the plaintext never
	// travels further); the old token stops working on every node as soon as each has the record.
	TokenHash *string   `json:"token_sha256,omitempty"`
	Name      *string   `json:"name,omitempty"`
	Role      *string   `json:"role,omitempty"`
	Capacity  *int      `json:"capacity,omitempty"`
	Skills    *[]string `json:"skills,omitempty"`
	Teams     *[]string `json:"teams,omitempty"`
	// PasswordHash is a new argon2id hash of the operator's password (the API hashes it; the password never
	// travels further).
	PasswordHash *string `json:"password_hash,omitempty"`
	// Disabled disables (true) or enables (false) the operator.
	Disabled *bool `json:"disabled,omitempty"`
	// SSO marks the operator as one single sign-on may sign in (sso.go: SSOMayBind), bound to the IdP account of
	// its next SSO sign-in; false unmarks it and forgets the account.
	SSO *bool `json:"sso,omitempty"`
	// Delete removes the operator (team.go: its tokens are revoked with it; the tenant actor releases its
	// conversations to the queue).
	Delete bool `json:"delete,omitempty"`
}

// Applied is the outcome of an applied change (the tenant actor publishes it): the tenant's configuration version
// after it, which the API waits for its own node's directory to reach before answering, and the records written.
type Applied struct {
	Version uint64
	Records []Record
}

// Codes of a Refusal of a change.
const (
	CodeInvalidSetting   = "invalid_setting"
	CodeLastAdmin        = "last_admin"
	CodeOperatorNotFound = "operator_not_found" // the same code as actors/operator's
	CodeChannelNotFound  = "channel_not_found"
	CodeChannelExists    = "channel_exists"
	CodeForbidden        = "forbidden"
)

// MayConfigure reports whether an operator of role may change the tenant's configuration: admins only, for now. It
// is the one place this is decided (the API checks it before producing a change, the tenant actor again when it
// applies one); issue 13's permission matrix will replace it.
func MayConfigure(role string) bool { return role == RoleAdmin }

// Refusal is why ApplyChange refused a change; nothing of it applied. Field names the setting at fault for
// invalid_setting.
type Refusal struct {
	Code    string
	Field   string
	Message string
}

// Text is the refusal's message for a caller: the field first when there is one ("settings.routing: …").
func (r *Refusal) Text() string {
	if r.Field != "" {
		return r.Field + ": " + r.Message
	}
	return r.Message
}

func (r *Refusal) Error() string {
	if r.Field != "" {
		return r.Code + ": " + r.Field + ": " + r.Message
	}
	return r.Code + ": " + r.Message
}

func invalid(field, format string, args ...any) *Refusal {
	return &Refusal{Code: CodeInvalidSetting, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ApplyChange applies ch to cur, the tenant's current configuration, at time at, and returns the new configuration
// (version cur.Version+1) and the records to publish: the items it changed, whole. It is pure: cur is not modified.
// A refused change returns a *Refusal and nothing else: invalid_setting naming the field (the same checks as the
// YAML file's, Config.Validate), not_found for an unknown channel or operator, conflict for a channel that exists,
// last_admin for a change that would leave a tenant that had an admin without one.
func ApplyChange(cur *Tenant, ch Change, at time.Time) (*Tenant, []Record, error) {
	next := cur.Clone()
	next.Version = cur.Version + 1
	var kind, id string
	var extra []Record
	switch n := ch.count(); {
	case n != 1:
		return nil, nil, invalid("", "a change names exactly one of settings, channel, operator, token and invite")
	case ch.Operator != nil && ch.Operator.Delete:
		more, err := deleteOperator(next, ch.Operator, at)
		if err != nil {
			return nil, nil, err
		}
		kind, id, extra = KindOperator, ch.Operator.ID, more
	case ch.Channel != nil && ch.Channel.Delete:
		if err := deleteChannel(next, ch.Channel); err != nil {
			return nil, nil, err
		}
		kind, id = KindChannel, ch.Channel.ID
	case ch.Token != nil:
		tid, err := applyToken(next, ch.Token, at)
		if err != nil {
			return nil, nil, err
		}
		kind, id = KindToken, tid
	case ch.Invite != nil:
		iid, more, err := applyInvite(next, ch.Invite, at)
		if err != nil {
			return nil, nil, err
		}
		kind, id, extra = KindInvite, iid, more
	case ch.SSO != nil:
		if err := applySSO(next, ch.SSO); err != nil {
			return nil, nil, err
		}
		kind, id = KindSSO, SSOID
	case ch.SSOSignIn != nil:
		oid, err := applySSOSignIn(next, ch.SSOSignIn)
		if err != nil {
			return nil, nil, err
		}
		kind, id = KindOperator, oid
	case ch.Label != nil:
		if err := applyLabel(next, ch.Label); err != nil {
			return nil, nil, err
		}
		kind, id = KindLabel, ch.Label.Name
	case ch.Fields != nil:
		next.Settings.ContactFields = slices.Clone(ch.Fields.Fields)
		kind, id = KindSettings, SettingsID
	case ch.Rules != nil:
		next.Rules = cloneRules(ch.Rules.Rules)
		if len(next.Rules) == 0 {
			next.Rules = nil
		}
		kind, id = KindRules, RulesID
	case ch.Settings != nil && ch.Channel == nil && ch.Operator == nil:
		applySettings(&next.Settings, ch.Settings)
		kind, id = KindSettings, SettingsID
	case ch.Channel != nil && ch.Settings == nil && ch.Operator == nil:
		if err := applyChannel(next, ch.Channel); err != nil {
			return nil, nil, err
		}
		kind, id = KindChannel, ch.Channel.ID
	case ch.Operator != nil && ch.Settings == nil && ch.Channel == nil:
		if err := applyOperator(next, ch.Operator); err != nil {
			return nil, nil, err
		}
		kind, id = KindOperator, ch.Operator.ID
	default:
		return nil, nil, invalid("", "a change names exactly one of settings, channel and operator")
	}
	if err := (&Config{Tenants: []Tenant{*next}}).Validate(); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			return nil, nil, invalid(strings.TrimPrefix(fe.Field, "tenants[0]."), "%s", fe.Message)
		}
		return nil, nil, invalid("", "%v", err)
	}
	if admins(cur) > 0 && admins(next) == 0 {
		return nil, nil, &Refusal{Code: CodeLastAdmin, Message: "the tenant must keep at least one enabled admin"}
	}
	rec := Record{Tenant: next.ID, Kind: kind, ID: id, Version: next.Version, At: at.UTC()}
	switch kind {
	case KindLabel:
		i := slices.IndexFunc(next.Labels, func(l Label) bool { return l.Name == id })
		if i < 0 { // removed
			rec.Deleted = true
			break
		}
		l := next.Labels[i]
		rec.Label = &l
	case KindRules:
		rs := cloneRules(next.Rules)
		if rs == nil {
			rs = []routing.Rule{}
		}
		rec.Rules = &RuleSet{Rules: rs}
	case KindToken:
		i := slices.IndexFunc(next.Tokens, func(k APIToken) bool { return k.ID == id })
		k := next.Tokens[i]
		rec.Token = &k
	case KindInvite:
		i := slices.IndexFunc(next.Invites, func(n Invite) bool { return n.ID == id })
		n := next.Invites[i]
		rec.Invite = &n
	case KindSSO:
		rec.SSO = next.SSO.Clone()
	case KindSettings:
		s := next.Settings
		rec.Settings = &s
	case KindChannel:
		i := slices.IndexFunc(next.Channels, func(c Channel) bool { return c.ID == id })
		if i < 0 { // removed
			rec.Deleted = true
			break
		}
		c := next.Channels[i]
		rec.Channel = &c
	case KindOperator:
		i := slices.IndexFunc(next.Operators, func(o Operator) bool { return o.ID == id })
		if i < 0 { // removed
			rec.Deleted = true
			break
		}
		o := next.Operators[i]
		rec.Operator = &o
	}
	recs := []Record{rec}
	for _, e := range extra {
		e.Tenant, e.Version, e.At = next.ID, next.Version, at.UTC()
		recs = append(recs, e)
	}
	return next, recs, nil
}

func admins(t *Tenant) int {
	n := 0
	for i := range t.Operators {
		if t.Operators[i].Role == RoleAdmin && !t.Operators[i].Disabled {
			n++
		}
	}
	return n
}

// setIf sets *dst to *v when v is not nil: a change names only what changes.
func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

func applySettings(s *Settings, c *SettingsChange) {
	setIf(&s.AutoCloseAfter, c.AutoCloseAfter)
	setIf(&s.ReopenTo, c.ReopenTo)
	setIf(&s.ReservationTimeout, c.ReservationTimeout)
	setIf(&s.WindowWarning, c.WindowWarning)
	if c.TakeoverRoles != nil {
		s.TakeoverRoles = slices.Clone(*c.TakeoverRoles)
	}
	setIf(&s.OfflineReleases, c.OfflineReleases)
	setIf(&s.Routing, c.Routing)
	setIf(&s.ReadReceipts, c.ReadReceipts)
	setIf(&s.HidePhoneNumbers, c.HidePhoneNumbers)
	if c.AuditRetention != nil {
		r := *c.AuditRetention
		s.AuditRetention = &r
	}
}

func applyChannel(t *Tenant, c *ChannelChange) error {
	i := slices.IndexFunc(t.Channels, func(x Channel) bool { return x.ID == c.ID })
	switch {
	case c.Create && i >= 0:
		return &Refusal{Code: CodeChannelExists, Message: "channel " + c.ID + " exists"}
	case c.Create:
		typ := c.Type
		if typ == "" {
			typ = "whatsapp"
		}
		t.Channels = append(t.Channels, Channel{ID: c.ID, Type: typ, PhoneNumberID: c.PhoneNumberID, RateLimit: 80})
		t.RemovedChannels = slices.DeleteFunc(t.RemovedChannels, func(id string) bool { return id == c.ID })
		i = len(t.Channels) - 1
	case i < 0:
		return &Refusal{Code: CodeChannelNotFound, Message: "no channel " + c.ID}
	case c.Type != "" || c.PhoneNumberID != "":
		return invalid("phone_number_id", "a channel's type and number are set when it is added; add another channel")
	}
	ch := &t.Channels[i]
	setIf(&ch.Name, c.Name)
	setIf(&ch.AppSecret, c.AppSecret)
	setIf(&ch.VerifyToken, c.VerifyToken)
	setIf(&ch.AccessToken, c.AccessToken)
	setIf(&ch.WABAID, c.WABAID)
	setIf(&ch.RateLimit, c.RateLimit)
	setIf(&ch.Disabled, c.Disabled)
	return nil
}

func applyOperator(t *Tenant, c *OperatorChange) error {
	i := slices.IndexFunc(t.Operators, func(x Operator) bool { return x.ID == c.ID })
	if i < 0 {
		return &Refusal{Code: CodeOperatorNotFound, Message: "no operator " + c.ID}
	}
	o := &t.Operators[i]
	setIf(&o.Name, c.Name)
	setIf(&o.Role, c.Role)
	if c.TokenHash != nil {
		if len(*c.TokenHash) != 64 || strings.Trim(*c.TokenHash, "0123456789abcdef") != "" {
			return invalid("token", "the token's hash is not a hex SHA-256")
		}
		o.Token, o.TokenHash = "", *c.TokenHash
	}
	if c.Capacity != nil {
		if *c.Capacity == 0 {
			return invalid("capacity", "must be at least 1 (0 is the YAML file's way of saying the default, %d)", DefaultCapacity)
		}
		o.Capacity = *c.Capacity
	}
	if c.Skills != nil {
		o.Skills = slices.Clone(*c.Skills)
	}
	if c.Teams != nil {
		o.Teams = slices.Clone(*c.Teams)
	}
	if c.PasswordHash != nil {
		if !strings.HasPrefix(*c.PasswordHash, "$argon2id$") {
			return invalid("password", "the password's hash is not an argon2id hash")
		}
		o.PasswordHash = *c.PasswordHash
	}
	setIf(&o.Disabled, c.Disabled)
	if c.SSO != nil {
		o.SSO, o.SSOSubject = *c.SSO, ""
	}
	return nil
}

// Difference is one field where a tenant's YAML and its configuration in the topic disagree.
type Difference struct {
	// Item names it: "settings", "channel acme-wa", "operator alice".
	Item  string
	Field string
	YAML  string
	Topic string
	// At is when the topic's record of the item was written.
	At time.Time
}

// Diff lists where yaml, a tenant as the YAML file gives it (with defaults), differs from topic, the same tenant as
// the configuration topic gives it, with topicAt the time of each item's record by key (zero when unknown). Secrets
// are compared, never shown ("(differs)"); tokens are compared by hash.
func Diff(yaml, topic *Tenant, at func(kind, id string) time.Time) []Difference {
	var out []Difference
	add := func(kind, id, field, y, t string) {
		if y == t {
			return
		}
		item := kind + " " + id
		if kind == KindSettings {
			item = "settings"
		}
		out = append(out, Difference{Item: item, Field: field, YAML: y, Topic: t, At: at(kind, id)})
	}
	secret := func(kind, id, field, y, t string) {
		if y != t {
			add(kind, id, field, "(a secret)", "(another secret)")
		}
	}
	ys, ts := yaml.Settings, topic.Settings
	for _, f := range []struct{ name, y, t string }{
		{"routing", ys.Routing, ts.Routing},
		{"reopen_to", ys.ReopenTo, ts.ReopenTo},
		{"auto_close_after", dur(ys.AutoCloseAfter), dur(ts.AutoCloseAfter)},
		{"reservation_timeout", dur(ys.ReservationTimeout), dur(ts.ReservationTimeout)},
		{"window_warning", dur(ys.WindowWarning), dur(ts.WindowWarning)},
		{"takeover_roles", strings.Join(ys.TakeoverRoles, ","), strings.Join(ts.TakeoverRoles, ",")},
		{"offline_releases", fmt.Sprint(ys.OfflineReleases), fmt.Sprint(ts.OfflineReleases)},
		{"read_receipts", fmt.Sprint(ys.ReadReceipts), fmt.Sprint(ts.ReadReceipts)},
		{"hide_phone_numbers", fmt.Sprint(ys.HidePhoneNumbers), fmt.Sprint(ts.HidePhoneNumbers)},
		{"audit_retention", ys.AuditKeep().String(), ts.AuditKeep().String()},
		{"contact_fields", fmt.Sprint(ys.ContactFields), fmt.Sprint(ts.ContactFields)},
	} {
		add(KindSettings, SettingsID, f.name, f.y, f.t)
	}
	diffCatalogue(yaml, topic, add)
	for i := range yaml.Channels {
		y := &yaml.Channels[i]
		j := slices.IndexFunc(topic.Channels, func(c Channel) bool { return c.ID == y.ID })
		if j < 0 {
			add(KindChannel, y.ID, "(channel)", "present", "absent")
			continue
		}
		t := &topic.Channels[j]
		add(KindChannel, y.ID, "phone_number_id", y.PhoneNumberID, t.PhoneNumberID)
		add(KindChannel, y.ID, "name", y.Name, t.Name)
		add(KindChannel, y.ID, "rate_limit", fmt.Sprint(y.RateLimit), fmt.Sprint(t.RateLimit))
		add(KindChannel, y.ID, "waba_id", y.WABAID, t.WABAID)
		add(KindChannel, y.ID, "disabled", fmt.Sprint(y.Disabled), fmt.Sprint(t.Disabled))
		secret(KindChannel, y.ID, "app_secret", y.AppSecret, t.AppSecret)
		secret(KindChannel, y.ID, "verify_token", y.VerifyToken, t.VerifyToken)
		secret(KindChannel, y.ID, "access_token", y.AccessToken, t.AccessToken)
	}
	for i := range yaml.Operators {
		y := yaml.Operators[i]
		y.hashToken()
		j := slices.IndexFunc(topic.Operators, func(o Operator) bool { return o.ID == y.ID })
		if j < 0 {
			add(KindOperator, y.ID, "(operator)", "present", "absent")
			continue
		}
		t := topic.Operators[j]
		t.hashToken()
		add(KindOperator, y.ID, "name", y.Name, t.Name)
		add(KindOperator, y.ID, "role", y.Role, t.Role)
		add(KindOperator, y.ID, "capacity", fmt.Sprint(y.Capacity), fmt.Sprint(t.Capacity))
		add(KindOperator, y.ID, "skills", strings.Join(y.Skills, ","), strings.Join(t.Skills, ","))
		add(KindOperator, y.ID, "teams", strings.Join(y.Teams, ","), strings.Join(t.Teams, ","))
		add(KindOperator, y.ID, "disabled", fmt.Sprint(y.Disabled), fmt.Sprint(t.Disabled))
		secret(KindOperator, y.ID, "token", y.TokenHash, t.TokenHash)
	}
	return out
}

func dur(d Duration) string { return time.Duration(d).String() }
