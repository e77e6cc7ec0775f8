// Package meta builds what Meta's WhatsApp Cloud API sends to a webhook: signed payloads of inbound messages and
// statuses. The demo command, the tests, the load generator and the Cloud API simulator use it to play Meta.
//
// It imports only the standard library.
package meta

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// SignatureHeader is the header that carries the payload's HMAC.
const SignatureHeader = "X-Hub-Signature-256"

// Sign returns the X-Hub-Signature-256 value of body under appSecret: "sha256=" and the hex HMAC-SHA256.
func Sign(appSecret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Message is one inbound message to put in a payload.
type Message struct {
	From        string // customer wa_id
	ProfileName string
	ID          string // wamid
	Timestamp   int64  // Unix seconds
	Type        string // default "text"
	// Text is the body of a text message.
	Text string
	// Content is the object under the type's key for other types (e.g. {"id":"…","mime_type":"image/jpeg"}).
	Content json.RawMessage
}

// Status is one status to put in a payload.
type Status struct {
	ID          string // wamid of the outbound message
	RecipientID string
	Status      string // sent, delivered, read, failed
	Timestamp   int64
	ErrorCode   int
	ErrorTitle  string
}

// Change is what one phone number reports in one change of an entry.
type Change struct {
	PhoneNumberID string
	Messages      []Message
	Statuses      []Status
}

// Payload returns the webhook body for changes, one entry per change, as Meta sends it.
func Payload(changes ...Change) []byte {
	type obj = map[string]any
	entries := make([]obj, 0, len(changes))
	for _, c := range changes {
		value := obj{
			"messaging_product": "whatsapp",
			"metadata":          obj{"display_phone_number": "15550000000", "phone_number_id": c.PhoneNumberID},
		}
		var contacts, msgs, sts []obj
		for _, m := range c.Messages {
			typ := m.Type
			if typ == "" {
				typ = "text"
			}
			mo := obj{"from": m.From, "id": m.ID, "timestamp": strconv.FormatInt(m.Timestamp, 10), "type": typ}
			switch {
			case typ == "text":
				mo["text"] = obj{"body": m.Text}
			case m.Content != nil:
				mo[typ] = m.Content
			}
			msgs = append(msgs, mo)
			contacts = append(contacts, obj{"profile": obj{"name": m.ProfileName}, "wa_id": m.From})
		}
		for _, s := range c.Statuses {
			so := obj{"id": s.ID, "recipient_id": s.RecipientID, "status": s.Status,
				"timestamp": strconv.FormatInt(s.Timestamp, 10)}
			if s.ErrorCode != 0 {
				so["errors"] = []obj{{"code": s.ErrorCode, "title": s.ErrorTitle}}
			}
			sts = append(sts, so)
		}
		if msgs != nil {
			value["contacts"] = contacts
			value["messages"] = msgs
		}
		if sts != nil {
			value["statuses"] = sts
		}
		entries = append(entries, obj{"id": "waba-" + c.PhoneNumberID,
			"changes": []obj{{"field": "messages", "value": value}}})
	}
	b, err := json.Marshal(obj{"object": "whatsapp_business_account", "entry": entries})
	if err != nil {
		panic("BUG: marshal webhook payload: " + err.Error())
	}
	return b
}

// Post sends a signed payload to a webhook URL with client and returns the status code and body.
func Post(ctx context.Context, client *http.Client, url, appSecret string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, Sign(appSecret, body))
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("post webhook: %w", err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	return resp.StatusCode, rb, err
}
