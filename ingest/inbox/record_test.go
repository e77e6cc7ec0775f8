package inbox

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func TestRecordRoundTrip(t *testing.T) {
	r := Record{Tenant: "acme", IngestAt: 1700000000123, Items: []Item{
		{Kind: KindMessage, Channel: "acme-wa", Message: &Message{ID: "wamid.1", From: "27820000001", ProfileName: "Maria",
			Type: "image", Timestamp: 1700000000, Text: "caption", Content: json.RawMessage(`{"id":"m1"}`), ReplyTo: "wamid.0"}},
		{Kind: KindStatus, Channel: "acme-wa", Status: &Status{ID: "wamid.out", RecipientID: "27820000001", Status: "failed",
			Timestamp: 1700000001, ErrorCode: 131047, ErrorTitle: "Re-engagement message"}},
	}}
	b, err := r.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	r.V = Version
	if !reflect.DeepEqual(got, r) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, r)
	}
}

func TestDecodeRejects(t *testing.T) {
	for name, body := range map[string]string{
		"not json":          `{`,
		"unknown version":   `{"v":2,"tenant":"a","items":[]}`,
		"no tenant":         `{"v":1,"items":[]}`,
		"message no id":     `{"v":1,"tenant":"a","items":[{"kind":"message","channel":"c","message":{"from":"1"}}]}`,
		"message no sender": `{"v":1,"tenant":"a","items":[{"kind":"message","channel":"c","message":{"id":"w"}}]}`,
		"status no id":      `{"v":1,"tenant":"a","items":[{"kind":"status","channel":"c","status":{"recipient_id":"1"}}]}`,
		"unknown kind":      `{"v":1,"tenant":"a","items":[{"kind":"bogus","channel":"c"}]}`,
		"no channel":        `{"v":1,"tenant":"a","items":[{"kind":"message","message":{"id":"w","from":"1"}}]}`,
	} {
		if _, err := Decode([]byte(body)); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: err = %v, want ErrBadRecord", name, err)
		}
	}
}
