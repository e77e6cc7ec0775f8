package router

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/audit"
	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/tenant"
)

// TestConfigEntries: the entries of a configuration change, from the records it wrote and the configuration before.
func TestConfigEntries(t *testing.T) {
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	cur := &tenant.Tenant{ID: "acme", Version: 3, Settings: tenant.Settings{Routing: "auto", ReopenTo: "queue"},
		Channels: []tenant.Channel{{ID: "wa", Type: "whatsapp", PhoneNumberID: "1", AppSecret: "secret-s1", VerifyToken: "v",
			AccessToken: "secret-a1"}},
		Operators: []tenant.Operator{{ID: "bob", Name: "Bob", Role: "operator", Capacity: 5}}}
	rec := func(kind, id string, fill func(*tenant.Record)) tenant.Record {
		r := tenant.Record{Tenant: "acme", Kind: kind, ID: id, Version: 4, At: at}
		fill(&r)
		return r
	}
	settings := cur.Settings
	settings.Routing = "manual"
	same := cur.Settings
	rotated := cur.Channels[0]
	rotated.AccessToken, rotated.Disabled = "secret-a2", true
	added := tenant.Channel{ID: "wa2", Type: "whatsapp", PhoneNumberID: "2", AppSecret: "secret-x", VerifyToken: "secret-y"}
	bob := cur.Operators[0]
	bob.TokenHash, bob.Capacity = "hash-ab12", 7
	recs := []tenant.Record{
		rec(tenant.KindSettings, tenant.SettingsID, func(r *tenant.Record) { r.Settings = &settings }),
		rec(tenant.KindChannel, "wa", func(r *tenant.Record) { r.Channel = &rotated }),
		rec(tenant.KindChannel, "wa2", func(r *tenant.Record) { r.Channel = &added }),
		rec(tenant.KindOperator, "bob", func(r *tenant.Record) { r.Operator = &bob }),
		rec(tenant.KindOperator, "bob", func(r *tenant.Record) { r.Deleted = true }),
		rec(tenant.KindSettings, tenant.SettingsID, func(r *tenant.Record) { r.Settings = &same }),
	}
	base := audit.Entry{TenantID: "acme", At: at, ActorID: "alice", ActorRole: "admin", RequestID: "r1"}
	es, err := configEntries(cur, recs, base, conversation.Position{Offset: 42, Index: 1})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		line := fmt.Sprintf("%s %s %s", e.ID, e.Action, e.Target)
		for _, c := range e.Changes {
			line += fmt.Sprintf(" %s:%s->%s", c.Field, c.From, c.To)
		}
		if e.ActorID != "alice" || e.ActorRole != "admin" || e.RequestID != "r1" || !e.At.Equal(at) || e.TenantID != "acme" {
			t.Errorf("entry %s lost the caller: %+v", e.ID, e)
		}
		got = append(got, line)
	}
	want := []string{
		`42-1-0 settings.changed settings routing:"auto"->"manual"`,
		`42-1-1 channel.changed channel/wa access_token:null->"(changed)" disabled:null->true`,
		`42-1-2 channel.added channel/wa2 app_secret:null->"(changed)" id:null->"wa2" phone_number_id:null->"2" type:null->"whatsapp" verify_token:null->"(changed)"`,
		`42-1-3 operator.changed operator/bob capacity:5->7 token_sha256:null->"(changed)"`,
		`42-1-4 operator.removed operator/bob capacity:5->null id:"bob"->null name:"Bob"->null role:"operator"->null`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("entries:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// No secret's value, nor its hash, is anywhere in an entry.
	b, _ := json.Marshal(es)
	for _, secret := range []string{"secret-", "hash-ab12"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("entries hold %s: %s", secret, b)
		}
	}
}
