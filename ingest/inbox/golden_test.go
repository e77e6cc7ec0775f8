package inbox

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
)

// updateGolden rewrites testdata/golden-binary. testdata/golden-json is never rewritten: it holds the records as the
// JSON encoder before the binary layout (commit 60bb413's Record.Encode) wrote them, which stand for what older
// nodes left on the topic.
var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/golden-binary from goldenRecords")

func ptr[T any](v T) *T { return &v }

// goldenRecords are records of every item kind and of the command fields each API call fills, as the producers
// build them. Their raw JSON values are compact and free of <, > and &, which JSON's encoder would escape.
func goldenRecords() map[string]Record {
	return map[string]Record{
		"message": {Tenant: "acme", IngestAt: 1700000000123, Items: []Item{{Kind: KindMessage, Channel: "acme-wa",
			Message: &Message{ID: "wamid.HBgLMTU1NTAwMDExMTEVAgASGCA5", From: "15550001111", ProfileName: "Maria",
				Type: "text", Timestamp: 1700000000, Text: "Hello, my order 1234 has not arrived yet",
				Content: json.RawMessage(`{"body":"Hello, my order 1234 has not arrived yet"}`)}}}},
		"message-media-reply": {Tenant: "acme", IngestAt: 1700000000124, Items: []Item{{Kind: KindMessage, Channel: "acme-wa",
			Message: &Message{ID: "wamid.2", From: "27820000001", Type: "image", Timestamp: 1700000001, Text: "caption é ✓",
				Content: json.RawMessage(`{"id":"m1","mime_type":"image/jpeg","caption":"caption é ✓"}`), ReplyTo: "wamid.1"}}}},
		"statuses": {Tenant: "acme", IngestAt: 1700000000125, Items: []Item{
			{Kind: KindStatus, Channel: "acme-wa", Status: &Status{ID: "wamid.out1", RecipientID: "15550001111", Status: "delivered", Timestamp: 1700000002}},
			{Kind: KindStatus, Channel: "acme-wa", Status: &Status{ID: "wamid.out2", RecipientID: "15550001111", Status: "failed",
				Timestamp: 1700000003, ErrorCode: 131047, ErrorTitle: "Re-engagement message"}},
		}},
		"timers": {Tenant: "acme", IngestAt: 1700000000126, Items: []Item{
			{Kind: KindTimer, Timer: &Timer{Kind: "auto_close", ConversationID: "c-1", Due: 1700000000000}},
			{Kind: KindTimer, Timer: &Timer{Kind: "snooze_wake", ConversationID: "c-2", Due: -1}},
		}},
		"deliveries": {Tenant: "acme", IngestAt: 1700000000127, Items: []Item{
			{Kind: KindDelivery, Channel: "acme-wa", Delivery: &Delivery{ConversationID: "c-1", Seq: 7, MessageID: "m-7", WAMID: "wamid.out7"}},
			{Kind: KindDelivery, Channel: "acme-wa", Delivery: &Delivery{ConversationID: "c-1", Seq: 1 << 40, MessageID: "m-8",
				ErrorCode: 131026, ErrorTitle: "Message undeliverable"}},
		}},
		"template-change": {Tenant: "acme", IngestAt: 1700000000128, Items: []Item{{Kind: KindTemplate, Channel: "acme-wa",
			Template: &TemplateChange{WABA: "waba-1", Field: "message_template_status_update",
				Value: json.RawMessage(`{"event":"APPROVED","message_template_id":12,"message_template_name":"order"}`)}}}},
		"command-send-template": {Tenant: "acme", IngestAt: 1700000000129, Items: []Item{{Kind: KindCommand, Channel: "acme-wa",
			Command: &Command{RequestID: "r-1", Type: "send", OperatorID: "op-1", ConversationID: "c-1", MessageID: "m-9",
				Message: &Outbound{Type: "template", Text: "Your order 1234 ships today", Template: &Template{Name: "order", Language: "en",
					Params: []string{"1234"}, ParamNames: []string{"order"},
					Buttons: []TemplateButton{{SubType: "url", Index: 0, Params: []string{"x1"}}},
					Header: &TemplateHeader{Type: "location", Location: &TemplateLocation{Latitude: ptr(0.0), Longitude: ptr(-46.6),
						Name: "Store", Address: "Rua 1"}}}}}}}},
		"command-send-media": {Tenant: "acme", IngestAt: 1700000000130, Items: []Item{{Kind: KindCommand, Channel: "acme-wa",
			Command: &Command{RequestID: "r-2", Type: "send", OperatorID: "op-1", ConversationID: "c-1", MessageID: "m-10",
				Message: &Outbound{Type: "image", Content: json.RawMessage(`{"id":"media-1","caption":"here"}`)}}}}},
		"command-routing": {Tenant: "acme", IngestAt: 1700000000131, Items: []Item{
			{Kind: KindCommand, Channel: "acme-wa", Command: &Command{RequestID: "r-3", Type: "transfer", OperatorID: "op-1",
				ConversationID: "c-1", TargetID: "op-2"}},
			{Kind: KindCommand, Channel: "acme-wa", Command: &Command{RequestID: "r-4", Type: "snooze", OperatorID: "op-1",
				ConversationID: "c-1", Until: 1700000500000}},
			{Kind: KindCommand, Channel: "acme-wa", Command: &Command{RequestID: "r-5", Type: "labels", OperatorID: "op-1",
				ConversationID: "c-1", AddLabels: []string{"vip", "billing"}, RemoveLabels: []string{"new"}}},
			{Kind: KindCommand, Channel: "acme-wa", Command: &Command{RequestID: "r-6", Type: "read", OperatorID: "op-1",
				ConversationID: "c-1", Seq: 12}},
			{Kind: KindCommand, Command: &Command{RequestID: "r-7", Type: "availability", OperatorID: "op-1", Availability: "online"}},
			{Kind: KindCommand, Command: &Command{RequestID: "r-8", Type: CmdUpdateOperator, OperatorID: "op-1", TargetID: "op-2",
				Capacity: ptr(0), Role: "operator", Skills: []string{"es"}}},
			{Kind: KindCommand, Channel: "acme-wa", Command: &Command{RequestID: "r-9", Type: "start", OperatorID: "op-1",
				WaID: "15550002222", MessageID: "m-11", Message: &Outbound{Type: "text", Text: "Hi"}, Contact: &ContactInput{Name: ptr("Ana")}}},
			{Kind: KindCommand, Channel: "acme-wa", Command: &Command{RequestID: "r-10", Type: "note", OperatorID: "op-1",
				ConversationID: "c-1", MessageID: "m-12", Note: "called back"}},
		}},
		"command-catalogue": {Tenant: "acme", IngestAt: 1700000000132, Items: []Item{
			{Kind: KindCommand, Command: &Command{RequestID: "r-11", Type: "contact_import", OperatorID: "op-1", ImportID: "imp-1",
				Contacts: []ContactInput{{Line: 2, Phone: "+15550003333", Name: ptr(""), Fields: map[string]json.RawMessage{
					"tier": json.RawMessage(`"gold"`), "since": json.RawMessage(`"2024-01-02"`), "n": json.RawMessage(`3`)}}}}},
			{Kind: KindCommand, Command: &Command{RequestID: "r-12", Type: "contact_update", OperatorID: "op-1", ContactID: "ct-1",
				Contact: &ContactInput{Fields: map[string]json.RawMessage{"tier": json.RawMessage(`null`)}}}},
			{Kind: KindCommand, Command: &Command{RequestID: "r-13", Type: "canned_create", OperatorID: "op-1",
				Canned: &CannedInput{ID: "cn-1", Title: "Hi", Category: "greet", Text: "Hello {{contact.name}}",
					Media: json.RawMessage(`{"type":"image","id":"media-2"}`)}}},
			{Kind: KindCommand, Command: &Command{RequestID: "r-14", Type: "template_sync", OperatorID: "op-1",
				Catalogue: &TemplateCatalogue{WABA: "waba-1", SyncedAt: 1700000000999,
					Templates: []json.RawMessage{json.RawMessage(`{"name":"order","language":"en","status":"APPROVED"}`)}}}},
			{Kind: KindCommand, Command: &Command{RequestID: "r-15", Type: CmdConfigSet, OperatorID: "op-1",
				Config: json.RawMessage(`{"settings":{"routing":"manual"}}`)}},
			{Kind: KindCommand, Command: &Command{RequestID: "r-16", Type: CmdAudit, OperatorID: "op-3",
				Audit: &AuditInput{Action: "access.denied", Target: "PATCH /v1/settings"}}},
		}},
		"empty": {Tenant: "acme", IngestAt: 1700000000133},
	}
}

// goldenNames are goldenRecords' names in order.
func goldenNames() []string {
	var names []string
	for name := range goldenRecords() {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// TestGoldenJSON decodes the records the JSON encoder wrote before the binary layout existed: a node reads what an
// older one left on the topic.
func TestGoldenJSON(t *testing.T) {
	recs := goldenRecords()
	for _, name := range goldenNames() {
		b, err := os.ReadFile(filepath.Join("testdata", "golden-json", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := recs[name]
		want.V = Version
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", name, got, want)
		}
		// EncodeJSON still writes them byte for byte.
		if again, err := want.EncodeJSON(nil); err != nil || string(again) != string(b) {
			t.Errorf("%s: EncodeJSON = %s (%v), want %s", name, again, err, b)
		}
	}
}

// TestGoldenBinary decodes records in binary layout 1 and checks that Encode still writes them byte for byte. A
// change of the layout appends fields (binary.go, "Evolution"): it adds a directory of its own records and keeps
// these, which stand for what nodes of layout 1 left on the topic.
func TestGoldenBinary(t *testing.T) {
	recs := goldenRecords()
	for _, name := range goldenNames() {
		path := filepath.Join("testdata", "golden-binary", name+".bin")
		want := recs[name]
		enc, err := want.Encode(nil)
		if err != nil {
			t.Fatal(err)
		}
		if *updateGolden {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, enc, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", name, got, want)
		}
		if string(enc) != string(b) {
			t.Errorf("%s: Encode = %x, want %x", name, enc, b)
		}
	}
}
