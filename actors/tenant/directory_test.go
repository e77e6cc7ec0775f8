package tenant

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// loadDirectory builds a Directory from testdata/valid.yaml and returns it with the config it indexes.
func loadDirectory(t *testing.T) (*Directory, *Config) {
	t.Helper()
	c, err := Load("testdata/valid.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return NewDirectory(c), c
}

func TestDirectoryChannelByPhone(t *testing.T) {
	d, c := loadDirectory(t)
	for _, tc := range []struct{ phone, tenant, channel string }{
		{"100200300", "acme", "acme-wa"},
		{"100200301", "acme", "acme-wa-2"},
		{"900800700", "globex-2", "globex-wa"},
	} {
		r, ok := d.ChannelByPhone(tc.phone)
		if !ok {
			t.Errorf("ChannelByPhone(%s): not found", tc.phone)
			continue
		}
		if r.Tenant.ID != tc.tenant || r.Channel.ID != tc.channel {
			t.Errorf("ChannelByPhone(%s) = %s/%s, want %s/%s", tc.phone, r.Tenant.ID, r.Channel.ID, tc.tenant, tc.channel)
		}
	}
	// The refs point into the config, not at copies: settings read through them are the tenant's.
	r, _ := d.ChannelByPhone("900800700")
	if r.Tenant != &c.Tenants[1] || r.Channel != &c.Tenants[1].Channels[0] {
		t.Error("ChannelByPhone returned pointers that are not into the indexed config")
	}
	for _, phone := range []string{"", "100200", "1002003000", "acme-wa"} {
		if r, ok := d.ChannelByPhone(phone); ok {
			t.Errorf("ChannelByPhone(%q) = %s, want not found", phone, r.Channel.ID)
		}
	}
}

func TestDirectoryOperatorByToken(t *testing.T) {
	d, _ := loadDirectory(t)
	for _, tc := range []struct{ token, tenant, operator string }{
		{"alice-token-0123456789", "acme", "alice"},
		{"bob-token-0123456789ab", "acme", "bob"},
		// Same operator id in another tenant: the token tells them apart.
		{"globex-alice-token-xyz", "globex-2", "alice"},
	} {
		r, ok := d.OperatorByToken(tc.token)
		if !ok {
			t.Errorf("OperatorByToken(%s): not found", tc.token)
			continue
		}
		if r.Tenant.ID != tc.tenant || r.Operator.ID != tc.operator {
			t.Errorf("OperatorByToken(%s) = %s/%s, want %s/%s", tc.token, r.Tenant.ID, r.Operator.ID, tc.tenant, tc.operator)
		}
	}
	for _, token := range []string{"", "alice-token-012345678", "alice-token-0123456789 ", "ALICE-TOKEN-0123456789"} {
		if r, ok := d.OperatorByToken(token); ok {
			t.Errorf("OperatorByToken(%q) = %s, want not found", token, r.Operator.ID)
		}
	}
}

func TestDirectoryClearsPlaintextTokens(t *testing.T) {
	c, err := Load("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var before int
	for _, tn := range c.Tenants {
		for _, o := range tn.Operators {
			if o.Token != "" {
				before++
			}
		}
	}
	if before != 3 {
		t.Fatalf("test bug: %d operators with tokens before NewDirectory, want 3", before)
	}
	d := NewDirectory(c)
	for _, tn := range c.Tenants {
		for _, o := range tn.Operators {
			if o.Token != "" {
				t.Errorf("operator %s/%s still holds its plaintext token", tn.ID, o.ID)
			}
		}
	}
	r, ok := d.OperatorByToken("bob-token-0123456789ab")
	if !ok {
		t.Fatal("lookup by token fails once plaintexts are cleared")
	}
	if r.Operator.Token != "" {
		t.Error("the operator returned by OperatorByToken holds its plaintext token")
	}
}

func TestDirectoryAppSecretsDistinct(t *testing.T) {
	d, _ := loadDirectory(t)
	var got []string
	for _, s := range d.AppSecrets() {
		got = append(got, string(s))
	}
	// acme's two channels share one secret: it must be offered once, so a signature check does not HMAC it twice.
	want := []string{"acme-secret", "globex-secret"}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("AppSecrets = %q, want %q", got, want)
	}
}

func TestDirectoryVerifyTokenKnown(t *testing.T) {
	d, _ := loadDirectory(t)
	for _, tc := range []struct {
		token string
		want  bool
	}{
		{"acme-verify", true},
		{"acme-verify-2", true},
		{"globex-verify", true},
		{"", false},
		{"acme-verify-3", false},
		{"acme-secret", false}, // a secret is not a verify token
	} {
		if got := d.VerifyTokenKnown(tc.token); got != tc.want {
			t.Errorf("VerifyTokenKnown(%q) = %v, want %v", tc.token, got, tc.want)
		}
	}
}

func TestDirectoryTenants(t *testing.T) {
	d, _ := loadDirectory(t)
	var ids []string
	for _, tn := range d.Tenants() {
		ids = append(ids, tn.ID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"acme", "globex-2"}) {
		t.Errorf("Tenants = %q", ids)
	}
	tn, ok := d.Tenant("globex-2")
	if !ok || tn.Settings.ReopenTo != "last_operator" {
		t.Errorf("Tenant(globex-2) = %+v, %v", tn, ok)
	}
	if _, ok := d.Tenant("globex"); ok {
		t.Error("Tenant(globex) found: only globex-2 is configured")
	}
}

func TestDirectoryNil(t *testing.T) {
	d := NewDirectory(nil)
	if _, ok := d.ChannelByPhone("100200300"); ok {
		t.Error("empty directory found a channel")
	}
	if _, ok := d.OperatorByToken(""); ok {
		t.Error("empty directory found an operator for the empty token")
	}
	if len(d.AppSecrets()) != 0 || len(d.Tenants()) != 0 || d.VerifyTokenKnown("") {
		t.Error("empty directory is not empty")
	}
}

// TestDirectoryConcurrentReads runs the hot-path lookups from many goroutines; with -race it checks the
// "safe for concurrent use" promise.
func TestDirectoryConcurrentReads(t *testing.T) {
	d, _ := loadDirectory(t)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 200 {
				if _, ok := d.ChannelByPhone("100200300"); !ok {
					t.Error("ChannelByPhone failed")
					return
				}
				if _, ok := d.OperatorByToken("alice-token-0123456789"); !ok {
					t.Error("OperatorByToken failed")
					return
				}
				_ = d.AppSecrets()
				_ = d.VerifyTokenKnown("acme-verify")
			}
		})
	}
	wg.Wait()
}

func TestDirectoryWABA(t *testing.T) {
	d, c := loadDirectory(t)
	w, ok := d.WABA("102290129340398")
	if !ok || w.Tenant != &c.Tenants[0] || len(w.Channels) != 2 || w.Channels[0].ID != "acme-wa" || w.Channels[1].ID != "acme-wa-2" {
		t.Fatalf("WABA = %+v, %v; want acme with both its channels", w, ok)
	}
	if _, ok := d.WABA("900800700"); ok {
		t.Error("a phone number id found as an account")
	}
	if all := d.WABAs(); len(all) != 1 || all[0].ID != "102290129340398" {
		t.Errorf("WABAs = %+v", all)
	}
	if len(NewDirectory(nil).WABAs()) != 0 {
		t.Error("an empty directory has accounts")
	}
}

// Replace swaps the whole configuration at once: lookups answer from the new one, the generation moves, and
// WaitVersion returns once the tenant has the version asked for.
func TestDirectoryReplaceAndWait(t *testing.T) {
	d, _ := loadDirectory(t)
	gen := d.Generation()
	c, err := Load("testdata/valid.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c.Tenants[0].Channels = c.Tenants[0].Channels[:1] // acme-wa-2 removed
	c.Tenants[0].Version = 9
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	waited := make(chan error, 1)
	go func() { waited <- d.WaitVersion(ctx, "acme", 9) }()
	d.Replace(c)
	if err := <-waited; err != nil {
		t.Fatalf("WaitVersion: %v", err)
	}
	if d.Generation() == gen {
		t.Error("the generation did not change")
	}
	if _, ok := d.ChannelByPhone("100200301"); ok {
		t.Error("a removed channel is still found")
	}
	if _, ok := d.OperatorByToken("alice-token-0123456789"); !ok {
		t.Error("tokens are not found after Replace")
	}
	short, cancelShort := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancelShort()
	if err := d.WaitVersion(short, "acme", 10); err == nil {
		t.Error("WaitVersion returned for a version the directory does not have")
	}
}
