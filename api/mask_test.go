package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/segmentio/kafka-go"

	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/api"
	"github.com/switchboard-hq/switchboard/api/live"
)

func TestMaskPhone(t *testing.T) {
	for in, want := range map[string]string{
		"+15551234567":     "+1555•••4567",
		"15551234567":      "1555•••4567",
		"+447700900123":    "+4477•••0123",
		"+3545511234":      "+354•••1234", // 10 digits: at least three hidden
		"+37312345":        "+3•••2345",
		"1234":             "•••4",
		"+1 555 123 4567":  "+1555•••4567",
		"":                 "",
		"+123456789012345": "+1234•••2345",
	} {
		if got := api.MaskPhone(in); got != want {
			t.Errorf("MaskPhone(%q) = %q, want %q", in, got, want)
		}
	}
}

// The event stream of an operator of a tenant that hides numbers carries them masked; an admin's carries them.
func TestEventStreamMasksNumbers(t *testing.T) {
	cfg, err := tenant.Load("testdata/contacts_tenants.yaml")
	if err != nil {
		t.Fatal(err)
	}
	l := startLive(t, live.Config{}, func(c *api.Config) { c.Directory = tenant.NewDirectory(cfg) })
	op, admin := l.open(t, "", bearer(aliceToken)), l.open(t, "", bearer(bobToken))
	b, _ := json.Marshal(map[string]any{"id": "e1", "type": "conversation.created", "tenant_id": "acme",
		"conversation_id": "c0000000000000001", "at": now, "contact": map[string]string{"wa_id": "15551234567"},
		"phone": "+15551234567"})
	l.produce(t, kafka.Message{Key: []byte("acme"), Value: b})
	f := op.nextEvent(t)
	if strings.Contains(f.data, "15551234567") || !strings.Contains(f.data, `"wa_id":"1555•••4567"`) ||
		!strings.Contains(f.data, `"phone":"+1555•••4567"`) || f.eventID() != "e1" {
		t.Errorf("operator's frame %s, want the numbers masked", f.data)
	}
	if f := admin.nextEvent(t); !strings.Contains(f.data, `"wa_id":"15551234567"`) {
		t.Errorf("admin's frame %s, want the number", f.data)
	}
}
