package tenant

// Single sign-on with OpenID Connect (README "Single sign-on (OpenID Connect)"): a tenant's SSO configuration is
// the record sso/oidc of the configuration topic, changed by a config_set like every other item, and the rules an
// SSO sign-in follows — which role the IdP's groups give, which operator the ID token names — are pure functions
// here. The API verifies the ID token (api/oidc.go); a sign-in that creates an operator (just-in-time provisioning)
// or changes its role is a config_set too (SSOSignIn), so it is ordered, durable, audited and seen by every node.

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
)

// KindSSO is the kind of the SSO configuration record; its id is SSOID.
const KindSSO = "sso"

// SSOID is the id of the tenant's OpenID Connect configuration record.
const SSOID = "oidc"

// SSO defaults.
const (
	DefaultGroupsClaim   = "groups"
	DefaultOperatorClaim = "email"
	// MaxSSOGroups bounds the group → role rows of a tenant.
	MaxSSOGroups = 100
)

// DefaultSSOScopes are the scopes asked for when the configuration names none: openid is always asked for.
var DefaultSSOScopes = []string{"openid", "email", "profile"}

// SSO is a tenant's OpenID Connect configuration. It exists only at runtime (the configuration topic): the YAML
// file does not seed it.
type SSO struct {
	// Enabled offers "Sign in with single sign-on" and accepts its sign-ins. false (the default) refuses them, and
	// ends the sessions signed in by SSO on every node.
	Enabled bool `json:"enabled"`
	// Issuer is the IdP's issuer URL (https; http only on a loopback host, for a local IdP); its discovery document
	// is Issuer + "/.well-known/openid-configuration", and ID tokens must name it as iss.
	Issuer   string `json:"issuer"`
	ClientID string `json:"client_id"`
	// ClientSecret authenticates the node at the IdP's token endpoint. Write-only: the API never returns it and the
	// audit log shows only that it changed. "" for a public client (PKCE only).
	ClientSecret string `json:"client_secret,omitempty"`
	// Scopes are asked for besides openid. Default email, profile; add groups for an IdP that sends groups only
	// when asked (Okta, Keycloak with a groups scope).
	Scopes []string `json:"scopes"`
	// GroupsClaim is the ID token claim holding the user's groups (a list of strings, or one string). Default
	// "groups" (Microsoft Entra ID sends group object ids there; Keycloak's group mapper names it).
	GroupsClaim string `json:"groups_claim"`
	// Groups map IdP groups to roles: the highest role of the user's groups wins (admin > builder > operator); a
	// user in none of them is refused.
	Groups []GroupRole `json:"groups"`
	// OperatorClaim is the ID token claim naming the operator. Default "email". The operator id is derived from it
	// by SSOOperatorID.
	OperatorClaim string `json:"operator_claim"`
	// Provision creates an operator on its first sign-in (just-in-time provisioning) with the role its groups give
	// and Capacity. Default true. false refuses users who are not operators already.
	Provision bool `json:"provision"`
	// Capacity is the capacity of an operator created by Provision. Default 5.
	Capacity int `json:"capacity"`
	// AllowedDomains, when set, limit sign-in to users whose operator claim is an e-mail address in one of them
	// (lower case, exact domain), and shorten their operator ids to the address's local part (SSOOperatorID).
	AllowedDomains []string `json:"allowed_domains,omitempty"`
}

// GroupRole maps one IdP group to a role.
type GroupRole struct {
	Group string `json:"group"`
	Role  string `json:"role"`
}

// SSOChange changes the SSO configuration: nil keeps a field's current value (or its default, on the first change).
type SSOChange struct {
	Enabled        *bool        `json:"enabled,omitempty"`
	Issuer         *string      `json:"issuer,omitempty"`
	ClientID       *string      `json:"client_id,omitempty"`
	ClientSecret   *string      `json:"client_secret,omitempty"`
	Scopes         *[]string    `json:"scopes,omitempty"`
	GroupsClaim    *string      `json:"groups_claim,omitempty"`
	Groups         *[]GroupRole `json:"groups,omitempty"`
	OperatorClaim  *string      `json:"operator_claim,omitempty"`
	Provision      *bool        `json:"provision,omitempty"`
	Capacity       *int         `json:"capacity,omitempty"`
	AllowedDomains *[]string    `json:"allowed_domains,omitempty"`
}

// SSOSignIn is what a verified SSO sign-in changes: it creates the operator (Create, just-in-time provisioning) or
// sets its role to the one its groups give. The API makes it only after verifying the ID token; the rule checks it
// against the tenant's SSO configuration again (enabled, a role the groups give, provisioning on for a new operator).
type SSOSignIn struct {
	Operator string `json:"operator"`
	// Subject is the IdP account signing in (SSOSubjectOf: the issuer and the ID token's sub).
	Subject string `json:"subject"`
	Create  bool   `json:"create,omitempty"`
	Name    string `json:"name,omitempty"`
	Role    string `json:"role"`
}

// Clone is a deep copy of s (nil for nil).
func (s *SSO) Clone() *SSO {
	if s == nil {
		return nil
	}
	c := *s
	c.Scopes = slices.Clone(s.Scopes)
	c.Groups = slices.Clone(s.Groups)
	c.AllowedDomains = slices.Clone(s.AllowedDomains)
	return &c
}

// newSSO is the configuration before the first change: every default.
func newSSO() *SSO {
	return &SSO{Scopes: slices.Clone(DefaultSSOScopes[1:]), GroupsClaim: DefaultGroupsClaim,
		OperatorClaim: DefaultOperatorClaim, Provision: true, Capacity: DefaultCapacity}
}

// applySSO applies c to t's SSO configuration and validates the result.
func applySSO(t *Tenant, c *SSOChange) error {
	s := t.SSO.Clone()
	if s == nil {
		s = newSSO()
	}
	setIf(&s.Enabled, c.Enabled)
	if c.Issuer != nil {
		s.Issuer = strings.TrimSpace(*c.Issuer) // exactly: ID tokens name it (Auth0's end with "/")
	}
	if c.ClientID != nil {
		s.ClientID = strings.TrimSpace(*c.ClientID)
	}
	setIf(&s.ClientSecret, c.ClientSecret)
	if c.Scopes != nil {
		s.Scopes = slices.Clone(*c.Scopes)
	}
	if c.GroupsClaim != nil {
		s.GroupsClaim = strings.TrimSpace(*c.GroupsClaim)
	}
	if c.Groups != nil {
		s.Groups = slices.Clone(*c.Groups)
		for i := range s.Groups {
			s.Groups[i].Group = strings.TrimSpace(s.Groups[i].Group)
		}
	}
	if c.OperatorClaim != nil {
		s.OperatorClaim = strings.TrimSpace(*c.OperatorClaim)
	}
	setIf(&s.Provision, c.Provision)
	setIf(&s.Capacity, c.Capacity)
	if c.AllowedDomains != nil {
		s.AllowedDomains = make([]string, 0, len(*c.AllowedDomains))
		for _, d := range *c.AllowedDomains {
			s.AllowedDomains = append(s.AllowedDomains, strings.ToLower(strings.TrimPrefix(strings.TrimSpace(d), "@")))
		}
	}
	if field, msg := ValidateSSO(s); field != "" {
		return invalid("sso."+field, "%s", msg)
	}
	t.SSO = s
	return nil
}

// ValidateSSO reports the first problem of s as the field at fault and why ("" when s is valid). An enabled
// configuration needs an issuer, a client id and at least one group → role row; a disabled one may be incomplete
// (an admin fills it in before enabling it), but what it holds must be well formed.
func ValidateSSO(s *SSO) (field, msg string) {
	if s.Issuer != "" {
		if why := checkIssuer(s.Issuer); why != "" {
			return "issuer", why
		}
	}
	switch {
	case len(s.ClientID) > 256 || strings.ContainsAny(s.ClientID, " \t\r\n"):
		return "client_id", "must be at most 256 characters without spaces"
	case len(s.ClientSecret) > 1024:
		return "client_secret", "must be at most 1024 characters"
	case !claimName(s.GroupsClaim):
		return "groups_claim", fmt.Sprintf("%q must be a claim name (letters, digits, and . _ : / -, at most 128)", s.GroupsClaim)
	case !claimName(s.OperatorClaim):
		return "operator_claim", fmt.Sprintf("%q must be a claim name (letters, digits, and . _ : / -, at most 128)", s.OperatorClaim)
	case s.Capacity < 1 || s.Capacity > MaxCapacity:
		return "capacity", fmt.Sprintf("%d must be between 1 and %d", s.Capacity, MaxCapacity)
	case len(s.Groups) > MaxSSOGroups:
		return "groups", fmt.Sprintf("at most %d groups", MaxSSOGroups)
	case len(s.Scopes) > 20:
		return "scopes", "at most 20 scopes"
	}
	for i, sc := range s.Scopes {
		if sc == "" || len(sc) > 128 || strings.ContainsAny(sc, " \t\r\n\"\\") || slices.Contains(s.Scopes[:i], sc) {
			return fmt.Sprintf("scopes[%d]", i), fmt.Sprintf("%q is empty, repeated or not a scope name", sc)
		}
	}
	for i, g := range s.Groups {
		switch {
		case g.Group == "" || len(g.Group) > 256:
			return fmt.Sprintf("groups[%d].group", i), "a group name of 1 to 256 characters"
		case slices.ContainsFunc(s.Groups[:i], func(x GroupRole) bool { return x.Group == g.Group }):
			return fmt.Sprintf("groups[%d].group", i), fmt.Sprintf("%q is mapped twice", g.Group)
		case g.Role != RoleAdmin && g.Role != RoleBuilder && g.Role != RoleOperator:
			return fmt.Sprintf("groups[%d].role", i), fmt.Sprintf("%q must be admin, builder or operator", g.Role)
		}
	}
	for i, d := range s.AllowedDomains {
		if !domainName(d) || slices.Contains(s.AllowedDomains[:i], d) {
			return fmt.Sprintf("allowed_domains[%d]", i), fmt.Sprintf("%q is not a domain name (example.com) or is repeated", d)
		}
	}
	if s.Enabled {
		switch {
		case s.Issuer == "":
			return "issuer", "required to enable single sign-on"
		case s.ClientID == "":
			return "client_id", "required to enable single sign-on"
		case len(s.Groups) == 0:
			return "groups", "map at least one IdP group to a role to enable single sign-on: nobody could sign in"
		}
	}
	return "", ""
}

// checkIssuer says what is wrong with an issuer URL, or "".
func checkIssuer(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || len(raw) > 512:
		return "must be an absolute URL such as https://login.example.com/realms/acme"
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return "must not carry credentials, a query or a fragment"
	case u.Scheme == "https":
		return ""
	case u.Scheme == "http" && loopbackHost(u.Hostname()):
		return "" // a local IdP (development, tests)
	}
	return "must be https (http only for an IdP on this machine: localhost, 127.0.0.1, [::1])"
}

func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func claimName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._:/-", r)) {
			return false
		}
	}
	return true
}

func domainName(d string) bool {
	if len(d) < 3 || len(d) > 253 || !strings.Contains(d, ".") || strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") {
		return false
	}
	for _, r := range d {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return false
		}
	}
	return !strings.Contains(d, "..")
}

// roleRank orders roles: the highest wins.
func roleRank(role string) int {
	switch role {
	case RoleAdmin:
		return 3
	case RoleBuilder:
		return 2
	case RoleOperator:
		return 1
	}
	return 0
}

// SSORole is the role groups give under s: the highest role of the rows whose group the user is in (group names
// compare exactly: Entra ID sends object ids, Keycloak paths such as /support). ok is false when none matches.
func SSORole(s *SSO, groups []string) (role string, ok bool) {
	for _, g := range s.Groups {
		if slices.Contains(groups, g.Group) && roleRank(g.Role) > roleRank(role) {
			role = g.Role
		}
	}
	return role, role != ""
}

// Refusal codes of SSO sign-ins (the API answers them by redirecting to the console's sign-in page, which says
// what happened).
const (
	CodeSSODisabled   = "sso_disabled"
	CodeSSONoGroup    = "sso_no_matching_group"
	CodeSSONoOperator = "sso_unknown_operator"
	CodeSSODomain     = "sso_domain_not_allowed"
	CodeSSOClaim      = "sso_claim_missing"
	// CodeSSOConflict: the operator id is an operator single sign-on may not sign in: one it did not create (nor
	// an admin mark SSO), or one bound to another account of the IdP.
	CodeSSOConflict = "sso_operator_conflict"
)

// SSOSubjectOf is the IdP account of an ID token of s with subject sub, as Operator.SSOSubject holds it.
func SSOSubjectOf(s *SSO, sub string) string { return s.Issuer + " " + sub }

// SSOMayBind says why the IdP account subject (SSOSubjectOf) may not sign in as o, an existing operator, under s:
// single sign-on signs in only operators it created or an admin marked SSO (an operator of the YAML file, of an
// invite or of a password is someone else's id: the id rule folds case and punctuation, so another person's
// address can give it), and only the account such an operator is bound to. An operator bound under another
// issuer (the admin pointed SSO at another IdP) is bound again. nil when it may.
func SSOMayBind(s *SSO, o *Operator, subject string) *Refusal {
	switch {
	case !o.SSO:
		return &Refusal{Code: CodeSSOConflict, Message: "operator " + o.ID + " signs in by password or token, not by single sign-on"}
	case o.SSOSubject != "" && o.SSOSubject != subject && strings.HasPrefix(o.SSOSubject, s.Issuer+" "):
		return &Refusal{Code: CodeSSOConflict, Message: "operator " + o.ID + " belongs to another account of the IdP"}
	}
	return nil
}

// SSOOperatorID derives the operator id from the value of the operator claim (README, "Single sign-on"):
// lower-cased; when it is an e-mail address, it must be in one of the allowed domains (if any are set), and an
// address in an allowed domain is cut to its local part ("Jane.Doe@example.com" → "jane-doe"; without allowed
// domains the whole address is kept: "jane-doe-example-com"); then every run of characters outside [a-z0-9]
// becomes one "-", leading and trailing ones are dropped, and the result is cut to 64 characters. A refusal says
// why no id can be derived.
func SSOOperatorID(s *SSO, claim string) (string, *Refusal) {
	v := strings.ToLower(strings.TrimSpace(claim))
	if v == "" {
		return "", &Refusal{Code: CodeSSOClaim, Message: "the ID token has no " + s.OperatorClaim + " claim"}
	}
	if len(s.AllowedDomains) > 0 {
		local, domain, ok := strings.Cut(v, "@")
		if !ok || !slices.Contains(s.AllowedDomains, domain) {
			return "", &Refusal{Code: CodeSSODomain, Message: "sign-in is limited to addresses of " + strings.Join(s.AllowedDomains, ", ")}
		}
		v = local
	}
	var b strings.Builder
	dash := false
	for _, r := range v {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	id := strings.TrimRight(b.String()[:min(b.Len(), 64)], "-")
	if id == "" {
		return "", &Refusal{Code: CodeSSOClaim, Message: "the " + s.OperatorClaim + " claim gives no operator id"}
	}
	return id, nil
}

// applySSOSignIn applies a verified sign-in: it creates the operator or changes its role. It returns the operator's
// id.
func applySSOSignIn(t *Tenant, c *SSOSignIn) (string, error) {
	s := t.SSO
	switch {
	case s == nil || !s.Enabled:
		return "", &Refusal{Code: CodeSSODisabled, Message: "single sign-on is not enabled for this tenant"}
	case !slices.ContainsFunc(s.Groups, func(g GroupRole) bool { return g.Role == c.Role }):
		return "", &Refusal{Code: CodeSSONoGroup, Message: "no IdP group gives the role " + c.Role}
	case !idPattern.MatchString(c.Operator):
		return "", invalid("operator", "%q must match [a-z0-9-]{1,64}", c.Operator)
	case !strings.HasPrefix(c.Subject, s.Issuer+" ") || len(c.Subject) == len(s.Issuer)+1 || len(c.Subject) > len(s.Issuer)+1+255:
		// sub is at most 255 ASCII characters (OpenID Connect Core 2): kept on the operator's record.
		return "", invalid("subject", "the sign-in names no account of the issuer, or a sub over 255 characters")
	}
	i := slices.IndexFunc(t.Operators, func(o Operator) bool { return o.ID == c.Operator })
	switch {
	case i >= 0 && t.Operators[i].Disabled:
		return "", &Refusal{Code: CodeForbidden, Message: "operator " + c.Operator + " is disabled"}
	case i >= 0:
		if r := SSOMayBind(s, &t.Operators[i], c.Subject); r != nil {
			return "", r
		}
		t.Operators[i].Role, t.Operators[i].SSOSubject = c.Role, c.Subject
		return c.Operator, nil
	case !c.Create:
		return "", &Refusal{Code: CodeOperatorNotFound, Message: "no operator " + c.Operator}
	case !s.Provision:
		return "", &Refusal{Code: CodeSSONoOperator, Message: "operator " + c.Operator + " does not exist and just-in-time provisioning is off"}
	}
	name := strings.TrimSpace(c.Name)
	if len(name) > 200 {
		name = name[:200]
	}
	if name == "" {
		name = c.Operator
	}
	t.Operators = append(t.Operators, Operator{ID: c.Operator, Name: name, Role: c.Role, Capacity: s.Capacity, SSO: true, SSOSubject: c.Subject})
	return c.Operator, nil
}

// SSOSessionCredential is what a session signed in by SSO keeps as its credential: it names the tenant's issuer
// and client, so turning SSO off or pointing it at another IdP ends those sessions on every node.
func SSOSessionCredential(s *SSO) [32]byte {
	return HashToken("oidc:" + s.Issuer + "\x00" + s.ClientID)
}
