// Package tenant holds the directory of tenants, their channels and operators as read from the YAML config file
// (docs/contract.md, "Config file"), with the validation that stops a node from starting on a wrong config.
//
// It imports the standard library, gopkg.in/yaml.v3 and the routing rules' types (actors/routing, standard library
// only).
package tenant

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/switchboard-hq/switchboard/actors/routing"
)

// Config is the whole config file.
type Config struct {
	Tenants []Tenant `yaml:"tenants" json:"tenants"`
}

// Tenant is one organisation with its own channels, operators and settings.
type Tenant struct {
	// ID is [a-z0-9-]{1,64}; it keys the tenant's records on Kafka and prefixes its state in Pebble.
	ID        string     `yaml:"id" json:"id"`
	Settings  Settings   `yaml:"settings" json:"settings"`
	Channels  []Channel  `yaml:"channels" json:"channels"`
	Operators []Operator `yaml:"operators" json:"operators"`
	// Labels are the tenant's labels catalogue (labels.go); none by default: then any label may be used.
	Labels []Label `yaml:"labels" json:"labels,omitempty"`
	// Rules are the tenant's routing rules, in order (labels.go, routing.Evaluate); none by default.
	Rules []routing.Rule `yaml:"routing_rules" json:"routing_rules,omitempty"`
	// Tokens are the API tokens issued to operators (team.go); only the configuration topic holds them.
	Tokens []APIToken `yaml:"-" json:"tokens,omitempty"`
	// Invites are the one-time invitation links issued to future operators (team.go); topic only.
	Invites []Invite `yaml:"-" json:"invites,omitempty"`
	// SSO is the tenant's single sign-on configuration (sso.go); only the configuration topic holds it. nil: none.
	SSO *SSO `yaml:"-" json:"sso,omitempty"`
	// RemovedChannels are the ids of the channels removed at runtime (channels.go), kept so that what a customer's
	// conversations on them hold is still found (erasing a contact, the contact's conversations); topic only.
	RemovedChannels []string `yaml:"-" json:"removed_channels,omitempty"`
	// Version is the tenant's configuration sequence: the version of the last record of the switchboard.config
	// topic that changed it (record.go). 0 for a tenant read from YAML and not yet in the topic.
	Version uint64 `yaml:"-" json:"version"`
}

// Settings are a tenant's routing and lifecycle policies.
type Settings struct {
	// AutoCloseAfter closes a conversation with no activity for this long. 0 (the default) never closes.
	AutoCloseAfter Duration `yaml:"auto_close_after" json:"auto_close_after"`
	// ReopenTo says where a customer message sends a closed or snoozed conversation: "queue" (the default) or
	// "last_operator".
	ReopenTo string `yaml:"reopen_to" json:"reopen_to"`
	// ReservationTimeout sends an assigned conversation back to the queue when its operator has not replied this
	// long after the assignment. 0 (the default) turns it off.
	ReservationTimeout Duration `yaml:"reservation_timeout" json:"reservation_timeout"`
	// WindowWarning emits a window.closing event this long before a conversation's 24-hour window closes. 0 (the
	// default) turns it off; it must be less than 24h.
	WindowWarning Duration `yaml:"window_warning" json:"window_warning"`
	// TakeoverRoles are the roles that may take a conversation another operator holds. Empty means admin and
	// builder.
	TakeoverRoles []string `yaml:"takeover_roles" json:"takeover_roles"`
	// OfflineReleases sends an operator's conversations back to the queue when it goes offline. false (the
	// default) lets the operator keep them.
	OfflineReleases bool `yaml:"offline_releases" json:"offline_releases"`
	// Routing is "auto" (the default): the dispatcher offers waiting conversations to online operators with free
	// capacity; or "manual": it offers nothing, conversations wait in Unassigned until an operator takes (attends)
	// one, online or not, within its capacity.
	Routing string `yaml:"routing" json:"routing"`
	// ReadReceipts marks the customer's messages read on WhatsApp when an operator reads them (Meta's mark-as-read
	// call, sent by the channel's sender). false (the default) sends no read receipts.
	ReadReceipts bool `yaml:"read_receipts" json:"read_receipts"`
	// HidePhoneNumbers masks contacts' phone numbers for the operator role in the API, the event stream and the
	// console ("+1555•••4567": the first four digits and the last four), and limits their searches by digits to a
	// number's last four. false (the default) shows them. It hides the number on screen and in the API's number
	// fields only: contact and conversation ids are hashes of the number and WhatsApp message ids carry it, so an
	// operator with the API and some effort can recover it (keyed ids are planned).
	HidePhoneNumbers bool `yaml:"hide_phone_numbers" json:"hide_phone_numbers"`
	// ContactFields are the custom fields of the tenant's contacts, in the order the console shows them. None by
	// default.
	ContactFields []ContactField `yaml:"contact_fields" json:"contact_fields"`
	// AuditRetention is how long the tenant's audit log entries are kept (README, "Audit log"): nil means
	// DefaultAuditRetention, 0 keeps them forever; otherwise at least a day. AuditKeep gives the effective value.
	AuditRetention *Retention `yaml:"audit_retention" json:"audit_retention,omitempty"`
}

// Retention is a Duration written "0s" when zero: in a record (and so in the audit log's changes), "keep forever"
// must not read like an absent value, which means the default.
type Retention Duration

// MarshalJSON writes the retention as a Go duration string, "0s" for zero.
func (r Retention) MarshalJSON() ([]byte, error) {
	if r == 0 {
		return []byte(`"0s"`), nil
	}
	return Duration(r).MarshalJSON()
}

// UnmarshalJSON reads a Go duration string or 0.
func (r *Retention) UnmarshalJSON(b []byte) error { return (*Duration)(r).UnmarshalJSON(b) }

// UnmarshalYAML reads a Go duration string or 0.
func (r *Retention) UnmarshalYAML(n *yaml.Node) error { return (*Duration)(r).UnmarshalYAML(n) }

// DefaultAuditRetention is how long audit log entries are kept when a tenant's settings do not say: 400 days, a
// year and a month's margin for a yearly review.
const DefaultAuditRetention = 400 * 24 * time.Hour

// AuditKeep is how long the tenant's audit log entries are kept; 0 is forever.
func (s *Settings) AuditKeep() time.Duration {
	if s.AuditRetention == nil {
		return DefaultAuditRetention
	}
	return time.Duration(*s.AuditRetention)
}

// ValidAuditRetention checks an audit log retention: 0 (forever) or at least a day.
func ValidAuditRetention(d time.Duration) error {
	if d != 0 && d < 24*time.Hour {
		return errors.New("must be 0 (keep forever) or at least 24h")
	}
	return nil
}

// ContactField is one custom field of a tenant's contacts (actors/contact.Field has the same fields and converts
// from it).
type ContactField struct {
	// Key names the field in the API and in CSV headers: [a-z][a-z0-9_]{0,31}, not a contact's own column (id,
	// phone, wa_id, name, blocked, created_at, updated_at).
	Key string `yaml:"key" json:"key"`
	// Label is how the console shows it; the key when empty.
	Label string `yaml:"label" json:"label,omitempty"`
	// Type is text, number, date (YYYY-MM-DD), boolean or choice.
	Type string `yaml:"type" json:"type"`
	// Required fields must have a value on every contact. false by default.
	Required bool `yaml:"required" json:"required,omitempty"`
	// Choices are the allowed values of a choice field (and only of one).
	Choices []string `yaml:"choices" json:"choices,omitempty"`
}

// Contact field types of ContactField.Type.
const (
	FieldText    = "text"
	FieldNumber  = "number"
	FieldDate    = "date"
	FieldBoolean = "boolean"
	FieldChoice  = "choice"
)

var (
	fieldKeyPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
	// contactColumns cannot be custom field keys: they are a contact's own columns (in the API and CSV files).
	contactColumns = []string{"id", "phone", "wa_id", "name", "blocked", "created_at", "updated_at"}
	fieldKeys      = []string{"key", "label", "type", "required", "choices"}
)

// UnmarshalYAML refuses unknown keys in a contact field (the file decoder's KnownFields does not reach below a
// custom unmarshaler).
func (f *ContactField) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i].Value; !slices.Contains(fieldKeys, k) {
				return fmt.Errorf("contact_fields: line %d: field %q not found (known: %s)", n.Content[i].Line, k, strings.Join(fieldKeys, ", "))
			}
		}
	}
	type plain ContactField
	return n.Decode((*plain)(f))
}

// validate reports what is wrong with a field definition, or nil.
func (f *ContactField) validate() (field string, err error) {
	switch {
	case !fieldKeyPattern.MatchString(f.Key):
		return "key", fmt.Errorf("%q must match [a-z][a-z0-9_]{0,31}", f.Key)
	case slices.Contains(contactColumns, f.Key):
		return "key", fmt.Errorf("%q is a contact's own column (%s)", f.Key, strings.Join(contactColumns, ", "))
	}
	switch f.Type {
	case FieldText, FieldNumber, FieldDate, FieldBoolean:
		if len(f.Choices) > 0 {
			return "choices", fmt.Errorf("only a choice field has choices, not a %s field", f.Type)
		}
	case FieldChoice:
		if len(f.Choices) == 0 {
			return "choices", errors.New("a choice field needs choices")
		}
		for i, c := range f.Choices {
			if strings.TrimSpace(c) == "" || slices.Contains(f.Choices[:i], c) {
				return fmt.Sprintf("choices[%d]", i), fmt.Errorf("%q is empty or repeated", c)
			}
		}
	default:
		return "type", fmt.Errorf("%q must be text, number, date, boolean or choice", f.Type)
	}
	return "", nil
}

// Routing modes of Settings.Routing.
const (
	RoutingAuto   = "auto"
	RoutingManual = "manual"
)

// Channel is one customer-facing number or endpoint of a tenant.
type Channel struct {
	ID   string `yaml:"id" json:"id"`
	Type string `yaml:"type" json:"type"` // "whatsapp"
	// PhoneNumberID is Meta's id of the WhatsApp number; webhooks name it in metadata.phone_number_id.
	PhoneNumberID string `yaml:"phone_number_id" json:"phone_number_id"`
	// Name is how the console shows the number, such as its display number ("+44 20 7946 0000") or "Support UK";
	// at most 64 characters. "" (the default) shows the id.
	Name string `yaml:"name" json:"name,omitempty"`
	// AppSecret verifies X-Hub-Signature-256 on webhooks.
	AppSecret string `yaml:"app_secret" json:"app_secret"`
	// VerifyToken answers Meta's GET subscription check.
	VerifyToken string `yaml:"verify_token" json:"verify_token"`
	// AccessToken is the Bearer token for the Cloud API send endpoint.
	AccessToken string `yaml:"access_token" json:"access_token"`
	// RateLimit is the outbound messages per second allowed on this number. 0 means Meta's default, 80.
	RateLimit int `yaml:"rate_limit" json:"rate_limit"`
	// WABAID is Meta's id of the WhatsApp Business Account the number belongs to (digits): its message template
	// catalogue is synced from the Graph API with AccessToken, and its template webhooks name it as entry.id.
	// Several channels of one tenant may share an account; two tenants may not. "" (the default) gives the channel
	// no catalogue: its template messages are sent unchecked.
	WABAID string `yaml:"waba_id" json:"waba_id,omitempty"`
	// Disabled turns two-way chat off on the channel: its inbound messages are acknowledged to Meta and dropped
	// (counted), so no conversation starts or continues there. false (the default) is enabled.
	Disabled bool `yaml:"disabled" json:"disabled,omitempty"`
}

// Operator is a human agent who answers conversations.
type Operator struct {
	ID   string `yaml:"id" json:"id"`
	Name string `yaml:"name" json:"name"`
	// Role is admin, builder or operator (the default).
	Role string `yaml:"role" json:"role"`
	// Capacity is the most open conversations the operator holds at once. 0 means the default, 5.
	Capacity int `yaml:"capacity" json:"capacity"`
	// Token is the API bearer token as the YAML file gives it. NewDirectory replaces it by TokenHash: it is never
	// kept, logged or written to the configuration topic.
	Token string `yaml:"token" json:"-"`
	// TokenHash is the hex SHA-256 of the token: what the configuration topic and the directory hold.
	TokenHash string   `yaml:"-" json:"token_sha256,omitempty"`
	Skills    []string `yaml:"skills" json:"skills"`
	// Teams the operator belongs to; none by default.
	Teams []string `yaml:"teams" json:"teams,omitempty"`
	// PasswordHash is the argon2id hash (PHC string) of the operator's password, set when it accepts an invite or
	// changes its password; "" means no password sign-in. Never the password.
	PasswordHash string `yaml:"-" json:"password_hash,omitempty"`
	// Disabled operators cannot sign in or call the API: every node's directory refuses their tokens and sessions.
	Disabled bool `yaml:"disabled" json:"disabled,omitempty"`
	// SSO says the operator was created by a single sign-on (sso.go): it signs in through the tenant's IdP and
	// needs neither token nor password.
	SSO bool `yaml:"-" json:"sso,omitempty"`
	// SSOSubject is the IdP account the operator is bound to: "<issuer> <sub>" of its first single sign-on after
	// it was created by SSO or marked SSO by an admin (sso.go). Another account of that issuer whose claim gives the
	// same operator id is refused.
	SSOSubject string `yaml:"-" json:"sso_subject,omitempty"`
}

// hashToken replaces a plaintext Token by its TokenHash.
func (o *Operator) hashToken() {
	if o.Token != "" {
		h := HashToken(o.Token)
		o.TokenHash = hex.EncodeToString(h[:])
		o.Token = ""
	}
}

// Roles an operator can have.
const (
	RoleAdmin    = "admin"
	RoleBuilder  = "builder"
	RoleOperator = "operator"
)

// DefaultCapacity is an operator's capacity when the config gives none.
const DefaultCapacity = 5

// Duration is a time.Duration read from YAML as a Go duration string ("24h", "90s") or 0.
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler: a Go duration string ("24h", "90s") or 0.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a Go duration such as 24h or 90s, not a list or mapping", n.Line)
	}
	if n.Value == "0" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: not a Go duration (e.g. 24h, 90s): %q", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a Go duration string ("24h0m0s"), or 0.
func (d Duration) MarshalJSON() ([]byte, error) {
	if d == 0 {
		return []byte("0"), nil
	}
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a Go duration string ("24h", "90s") or 0.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "0" || string(b) == `"0"` {
		*d = 0
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("want a Go duration such as \"24h\" or \"90s\", or 0")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("not a Go duration (e.g. 24h, 90s): %q", s)
	}
	*d = Duration(v)
	return nil
}

// settingsFields are the keys a settings block may have.
var settingsFields = []string{"auto_close_after", "reopen_to", "reservation_timeout", "window_warning", "takeover_roles", "offline_releases", "routing", "read_receipts", "hide_phone_numbers", "contact_fields",
	"audit_retention"}

// UnmarshalYAML decodes settings so that an error in a field names it.
func (s *Settings) UnmarshalYAML(n *yaml.Node) error {
	type plain Settings
	var raw struct {
		AutoCloseAfter     yaml.Node      `yaml:"auto_close_after"`
		ReopenTo           string         `yaml:"reopen_to"`
		ReservationTimeout yaml.Node      `yaml:"reservation_timeout"`
		WindowWarning      yaml.Node      `yaml:"window_warning"`
		TakeoverRoles      []string       `yaml:"takeover_roles"`
		OfflineReleases    bool           `yaml:"offline_releases"`
		Routing            string         `yaml:"routing"`
		ReadReceipts       bool           `yaml:"read_receipts"`
		HidePhoneNumbers   bool           `yaml:"hide_phone_numbers"`
		ContactFields      []ContactField `yaml:"contact_fields"`
		AuditRetention     yaml.Node      `yaml:"audit_retention"`
	}
	// n.Decode does not inherit the file decoder's KnownFields, so unknown keys are refused here.
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i].Value; !slices.Contains(settingsFields, k) {
				return fmt.Errorf("settings: line %d: field %q not found (known: %s)", n.Content[i].Line, k, strings.Join(settingsFields, ", "))
			}
		}
	}
	if err := n.Decode(&raw); err != nil {
		return fmt.Errorf("settings: %w", err)
	}
	p := plain{ReopenTo: raw.ReopenTo, TakeoverRoles: raw.TakeoverRoles, OfflineReleases: raw.OfflineReleases,
		Routing: raw.Routing, ReadReceipts: raw.ReadReceipts, HidePhoneNumbers: raw.HidePhoneNumbers,
		ContactFields: raw.ContactFields}
	for _, d := range []struct {
		name string
		node *yaml.Node
		dst  *Duration
	}{{"auto_close_after", &raw.AutoCloseAfter, &p.AutoCloseAfter}, {"reservation_timeout", &raw.ReservationTimeout, &p.ReservationTimeout}, {"window_warning", &raw.WindowWarning, &p.WindowWarning}} {
		if d.node.Kind == 0 {
			continue
		}
		if err := d.dst.UnmarshalYAML(d.node); err != nil {
			return fmt.Errorf("settings.%s: %w", d.name, err)
		}
	}
	if raw.AuditRetention.Kind != 0 {
		p.AuditRetention = new(Retention)
		if err := p.AuditRetention.UnmarshalYAML(&raw.AuditRetention); err != nil {
			return fmt.Errorf("settings.audit_retention: %w", err)
		}
	}
	*s = Settings(p)
	return nil
}

// ErrInvalid is wrapped by every validation error of a config file.
var ErrInvalid = errors.New("invalid config")

// FieldError is a validation error naming the field by its path (tenants[0].channels[1].app_secret). It wraps
// ErrInvalid.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%v: %s: %s", ErrInvalid, e.Field, e.Message) }

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// MaxCapacity is the largest capacity an operator may have (actors/operator has the same bound).
const MaxCapacity = 10000

var idPattern = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)

// Load reads and validates a config file.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes and validates a config document. Unknown fields are errors, so a typo does not pass silently.
func Parse(b []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	c.setDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) setDefaults() {
	for i := range c.Tenants {
		t := &c.Tenants[i]
		if t.Settings.ReopenTo == "" {
			t.Settings.ReopenTo = "queue"
		}
		if t.Settings.Routing == "" {
			t.Settings.Routing = RoutingAuto
		}
		setLabelDefaults(t)
		for j := range t.Channels {
			if t.Channels[j].RateLimit == 0 {
				t.Channels[j].RateLimit = 80
			}
		}
		for j := range t.Operators {
			o := &t.Operators[j]
			if o.Role == "" {
				o.Role = RoleOperator
			}
			if o.Capacity == 0 {
				o.Capacity = DefaultCapacity
			}
		}
	}
}

// Validate reports the first problem found, naming the field by its path (tenants[0].channels[1].app_secret).
func (c *Config) Validate() error {
	bad := func(field, format string, args ...any) error {
		return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
	}
	tenants := map[string]bool{}
	channels := map[string]string{}
	phones := map[string]string{}
	tokens := map[string]string{}
	wabas := map[string]string{}
	wabaSecrets := map[string]string{}
	for i, t := range c.Tenants {
		tp := fmt.Sprintf("tenants[%d]", i)
		if !idPattern.MatchString(t.ID) {
			return bad(tp+".id", "%q must match [a-z0-9-]{1,64}", t.ID)
		}
		if tenants[t.ID] {
			return bad(tp+".id", "duplicate tenant %q", t.ID)
		}
		tenants[t.ID] = true
		if t.Settings.AutoCloseAfter < 0 {
			return bad(tp+".settings.auto_close_after", "must not be negative")
		}
		if t.Settings.ReservationTimeout < 0 {
			return bad(tp+".settings.reservation_timeout", "must not be negative")
		}
		if t.Settings.WindowWarning < 0 || time.Duration(t.Settings.WindowWarning) >= 24*time.Hour {
			return bad(tp+".settings.window_warning", "must be between 0 and 24h")
		}
		if r := t.Settings.AuditRetention; r != nil {
			if err := ValidAuditRetention(time.Duration(*r)); err != nil {
				return bad(tp+".settings.audit_retention", "%v", err)
			}
		}
		for j, r := range t.Settings.TakeoverRoles {
			if r != RoleAdmin && r != RoleBuilder && r != RoleOperator {
				return bad(fmt.Sprintf("%s.settings.takeover_roles[%d]", tp, j), "%q must be admin, builder or operator", r)
			}
		}
		if t.Settings.ReopenTo != "queue" && t.Settings.ReopenTo != "last_operator" {
			return bad(tp+".settings.reopen_to", "%q must be queue or last_operator", t.Settings.ReopenTo)
		}
		if t.Settings.Routing != RoutingAuto && t.Settings.Routing != RoutingManual {
			return bad(tp+".settings.routing", "%q must be auto or manual", t.Settings.Routing)
		}
		fieldSeen := map[string]bool{}
		for j := range t.Settings.ContactFields {
			f := &t.Settings.ContactFields[j]
			fp := fmt.Sprintf("%s.settings.contact_fields[%d]", tp, j)
			if name, err := f.validate(); err != nil {
				return bad(fp+"."+name, "%v", err)
			}
			if fieldSeen[f.Key] {
				return bad(fp+".key", "duplicate field %q", f.Key)
			}
			fieldSeen[f.Key] = true
		}
		for j, ch := range t.Channels {
			cp := fmt.Sprintf("%s.channels[%d]", tp, j)
			if !idPattern.MatchString(ch.ID) {
				return bad(cp+".id", "%q must match [a-z0-9-]{1,64}", ch.ID)
			}
			if prev, dup := channels[ch.ID]; dup {
				return bad(cp+".id", "channel %q already defined in tenant %q", ch.ID, prev)
			}
			channels[ch.ID] = t.ID
			if utf8.RuneCountInString(ch.Name) > 64 || strings.ContainsFunc(ch.Name, unicode.IsControl) {
				return bad(cp+".name", "must be at most 64 characters, without control characters")
			}
			if ch.Type != "whatsapp" {
				return bad(cp+".type", "%q is not a supported channel type (whatsapp)", ch.Type)
			}
			if ch.PhoneNumberID == "" {
				return bad(cp+".phone_number_id", "required for a whatsapp channel")
			}
			if prev, dup := phones[ch.PhoneNumberID]; dup {
				return bad(cp+".phone_number_id", "%q already used by channel %q", ch.PhoneNumberID, prev)
			}
			phones[ch.PhoneNumberID] = ch.ID
			if ch.AppSecret == "" {
				return bad(cp+".app_secret", "required: webhooks cannot be verified without it")
			}
			if ch.VerifyToken == "" {
				return bad(cp+".verify_token", "required for Meta's subscription check")
			}
			if ch.WABAID != "" {
				if !digits(ch.WABAID) || len(ch.WABAID) > 32 {
					return bad(cp+".waba_id", "%q must be Meta's numeric WhatsApp Business Account id", ch.WABAID)
				}
				if prev, dup := wabas[ch.WABAID]; dup && prev != t.ID {
					return bad(cp+".waba_id", "%q already belongs to tenant %q", ch.WABAID, prev)
				}
				wabas[ch.WABAID] = t.ID
				// Meta signs an account's template webhooks with the app subscribed to it: one secret per account.
				if prev, dup := wabaSecrets[ch.WABAID]; dup && prev != ch.AppSecret {
					return bad(cp+".app_secret", "differs from the app_secret of another channel of waba_id %q", ch.WABAID)
				}
				wabaSecrets[ch.WABAID] = ch.AppSecret
			}
			if ch.RateLimit < 1 || ch.RateLimit > 1000 {
				return bad(cp+".rate_limit", "%d must be between 1 and 1000 messages per second", ch.RateLimit)
			}
		}
		ops := map[string]bool{}
		for j, o := range t.Operators {
			op := fmt.Sprintf("%s.operators[%d]", tp, j)
			if !idPattern.MatchString(o.ID) {
				return bad(op+".id", "%q must match [a-z0-9-]{1,64}", o.ID)
			}
			if ops[o.ID] {
				return bad(op+".id", "duplicate operator %q in tenant %q", o.ID, t.ID)
			}
			ops[o.ID] = true
			switch o.Role {
			case RoleAdmin, RoleBuilder, RoleOperator:
			default:
				return bad(op+".role", "%q must be admin, builder or operator", o.Role)
			}
			if o.Capacity < 0 {
				return bad(op+".capacity", "%d must not be negative", o.Capacity)
			}
			if o.Capacity > MaxCapacity {
				return bad(op+".capacity", "%d must not be above %d", o.Capacity, MaxCapacity)
			}
			if o.Token == "" && o.TokenHash == "" && o.PasswordHash == "" && !o.SSO {
				return bad(op+".token", "required: the operator could not call the API")
			}
			if o.Token != "" && len(o.Token) < 16 {
				return bad(op+".token", "must be at least 16 characters")
			}
			tok := o.TokenHash
			if o.Token != "" {
				h := HashToken(o.Token)
				tok = hex.EncodeToString(h[:])
			}
			if prev, dup := tokens[tok]; dup {
				return bad(op+".token", "same token as operator %q", prev)
			}
			tokens[tok] = t.ID + "/" + o.ID
		}
		if err := validateCatalogue(&t, tp); err != nil {
			return err
		}
	}
	return nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// HashToken is how operator tokens are kept: the hex-free raw SHA-256 digest.
func HashToken(token string) [32]byte { return sha256.Sum256([]byte(token)) }
