package whatsapp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// The test config: acme and globex are served by one BSP app (one app secret), initech has its own Meta app.
const (
	bspSecret     = "bsp-app-secret-5f0c2a9d81e3"
	initechSecret = "initech-app-secret-77b1e4c0"
	acmeVerify    = "acme-verify-token-0123"
)

const testConfig = `
tenants:
  - id: acme
    channels:
      - id: acme-wa
        type: whatsapp
        phone_number_id: "100200300"
        app_secret: ` + bspSecret + `
        verify_token: ` + acmeVerify + `
        access_token: acme-access-token
        waba_id: "200300400500"
      - id: acme-wa-2
        type: whatsapp
        phone_number_id: "100200301"
        app_secret: ` + bspSecret + `
        verify_token: acme-verify-token-4567
        access_token: acme-access-token-2
        waba_id: "200300400500"
    operators:
      - id: alice
        name: Alice
        role: admin
        token: alice-token-0123456789
  - id: globex
    channels:
      - id: globex-wa
        type: whatsapp
        phone_number_id: "900800700"
        app_secret: ` + bspSecret + `
        verify_token: globex-verify-token-9876
        access_token: globex-access-token
  - id: initech
    channels:
      - id: initech-wa
        type: whatsapp
        phone_number_id: "700600500"
        app_secret: ` + initechSecret + `
        verify_token: initech-verify-token-5555
        access_token: initech-access-token
        waba_id: "700600500400"
`

func testDirectory(t testing.TB) *tenant.Directory {
	t.Helper()
	cfg, err := tenant.Parse([]byte(testConfig))
	if err != nil {
		t.Fatalf("test config: %v", err)
	}
	return tenant.NewDirectory(cfg)
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var ingestAt = time.Date(2025, 6, 8, 21, 0, 0, 123e6, time.UTC)

// firstMessage decodes a testdata payload generically, independently of Parse, and returns its first message.
func firstMessage(t *testing.T, payload []byte) map[string]any {
	t.Helper()
	var env struct {
		Entry []struct {
			Changes []struct {
				Value struct {
					Messages []map[string]any `json:"messages"`
				} `json:"value"`
			} `json:"changes"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(payload, &env); err != nil {
		t.Fatal(err)
	}
	return env.Entry[0].Changes[0].Value.Messages[0]
}

func TestParseMessageTypes(t *testing.T) {
	dir := testDirectory(t)
	const sheena = "Sheena Nelson"
	tests := []struct {
		file string
		want inbox.Message // ID, From and Content are checked against the payload itself
		// contentKey names the key of the message object that Content must equal; "" means the whole message.
		contentKey string
	}{
		{"text.json", inbox.Message{Type: "text", Timestamp: 1749416383, ProfileName: sheena,
			Text: "Does it come in another color?"}, "text"},
		{"text_reply.json", inbox.Message{Type: "text", Timestamp: 1749416400, ProfileName: sheena,
			Text: "Yes, that one é 👍", ReplyTo: "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3OTk5NDFBQzY3MTVFRDc4RTkA"}, "text"},
		{"image.json", inbox.Message{Type: "image", Timestamp: 1749416500, ProfileName: sheena,
			Text: "This is the broken one"}, "image"},
		{"audio.json", inbox.Message{Type: "audio", Timestamp: 1749416600, ProfileName: sheena}, "audio"},
		{"video.json", inbox.Message{Type: "video", Timestamp: 1749416700, ProfileName: sheena,
			Text: "It makes this noise"}, "video"},
		{"document.json", inbox.Message{Type: "document", Timestamp: 1749416800, ProfileName: sheena,
			Text: "Invoice for order 4471"}, "document"},
		{"sticker.json", inbox.Message{Type: "sticker", Timestamp: 1749416900, ProfileName: sheena}, "sticker"},
		{"location.json", inbox.Message{Type: "location", Timestamp: 1749417000, ProfileName: sheena}, "location"},
		{"contacts.json", inbox.Message{Type: "contacts", Timestamp: 1749417100, ProfileName: sheena}, "contacts"},
		{"button.json", inbox.Message{Type: "button", Timestamp: 1749417200, ProfileName: sheena,
			Text: "Stop promotions", ReplyTo: "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJCNDgzNzU5RkNCMjdBQUZGQkIA"}, "button"},
		{"interactive_button.json", inbox.Message{Type: "interactive", Timestamp: 1749417300, ProfileName: sheena,
			Text: "Change", ReplyTo: "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJCODNGNDU0RkE1QkQ5NDVGQTIA"}, "interactive"},
		{"interactive_list.json", inbox.Message{Type: "interactive", Timestamp: 1749417400, ProfileName: sheena,
			Text: "Express shipping", ReplyTo: "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJBQTg2RkJDNTAzNUU2NjA5NDMA"}, "interactive"},
		{"reaction.json", inbox.Message{Type: "reaction", Timestamp: 1749417500, ProfileName: sheena,
			Text: "👍", ReplyTo: "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"}, "reaction"},
		{"system.json", inbox.Message{Type: "system", Timestamp: 1749417600, ProfileName: sheena,
			Text: "Sheena Nelson changed their phone number to a new number 16505559999"}, "system"},
		// Types this package does not interpret keep their type and everything Meta sent.
		{"order.json", inbox.Message{Type: "order", Timestamp: 1749417800, ProfileName: sheena}, "order"},
		{"unsupported.json", inbox.Message{Type: "unsupported", Timestamp: 1749417700, ProfileName: sheena}, ""},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.file, ".json"), func(t *testing.T) {
			body := readTestdata(t, tt.file)
			src := firstMessage(t, body)
			wantContent := any(src)
			if tt.contentKey != "" {
				wantContent = src[tt.contentKey]
				if wantContent == nil {
					t.Fatalf("BUG in test: %s has no %q object", tt.file, tt.contentKey)
				}
			}
			want := tt.want
			want.ID, want.From = src["id"].(string), src["from"].(string)

			recs, err := Parse(body, dir, ingestAt)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			// The records must not share memory with the request body, which fasthttp reuses.
			for i := range body {
				body[i] = 'x'
			}
			if len(recs) != 1 {
				t.Fatalf("got %d records, want 1", len(recs))
			}
			r := recs[0]
			if r.V != inbox.Version || r.Tenant != "acme" || r.IngestAt != ingestAt.UnixMilli() || len(r.Items) != 1 {
				t.Fatalf("record = v%d tenant %q ingest_at %d with %d items, want v%d acme %d with 1 item",
					r.V, r.Tenant, r.IngestAt, len(r.Items), inbox.Version, ingestAt.UnixMilli())
			}
			it := r.Items[0]
			if it.Kind != inbox.KindMessage || it.Channel != "acme-wa" || it.Message == nil || it.Status != nil {
				t.Fatalf("item = %+v, want a message on acme-wa", it)
			}
			got := *it.Message
			var gotContent any
			if err := json.Unmarshal(got.Content, &gotContent); err != nil {
				t.Fatalf("Content %q is not JSON: %v", got.Content, err)
			}
			if !reflect.DeepEqual(gotContent, wantContent) {
				t.Errorf("Content = %s\nwant %v", got.Content, wantContent)
			}
			got.Content = nil
			if !reflect.DeepEqual(got, want) {
				t.Errorf("message =\n %+v\nwant\n %+v", got, want)
			}
		})
	}
}

func TestParseStatuses(t *testing.T) {
	recs, err := Parse(readTestdata(t, "statuses.json"), testDirectory(t), ingestAt)
	if err != nil {
		t.Fatal(err)
	}
	const out, failedOut = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA", "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJGRkY2QjNCNTQ1RDY4MjRGMTgA"
	want := []inbox.Status{
		{ID: out, RecipientID: "16505551234", Status: "sent", Timestamp: 1749418000},
		{ID: out, RecipientID: "16505551234", Status: "delivered", Timestamp: 1749418002},
		{ID: out, RecipientID: "16505551234", Status: "read", Timestamp: 1749418010},
		{ID: failedOut, RecipientID: "16505557777", Status: "failed", Timestamp: 1749418020,
			ErrorCode: 131047, ErrorTitle: "Re-engagement message"},
	}
	if len(recs) != 1 || recs[0].Tenant != "acme" {
		t.Fatalf("got %d records (%+v), want 1 for acme", len(recs), recs)
	}
	var got []inbox.Status
	for _, it := range recs[0].Items {
		if it.Kind != inbox.KindStatus || it.Status == nil || it.Message != nil || it.Channel != "acme-wa" {
			t.Fatalf("item %+v is not a status on acme-wa", it)
		}
		got = append(got, *it.Status)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("statuses =\n %+v\nwant\n %+v", got, want)
	}
}

// trace renders records one line per item, so a multi-record expectation reads as a list.
func trace(recs []inbox.Record) []string {
	var lines []string
	for _, r := range recs {
		for _, it := range r.Items {
			switch {
			case it.Message != nil:
				m := it.Message
				lines = append(lines, fmt.Sprintf("%s %s msg %s %s from=%s profile=%q text=%q reply_to=%s",
					r.Tenant, it.Channel, m.ID, m.Type, m.From, m.ProfileName, m.Text, m.ReplyTo))
			case it.Status != nil:
				s := it.Status
				lines = append(lines, fmt.Sprintf("%s %s status %s %s to=%s", r.Tenant, it.Channel, s.ID, s.Status, s.RecipientID))
			}
		}
	}
	return lines
}

func TestParseGroupsByTenant(t *testing.T) {
	multi := string(readTestdata(t, "multi.json"))
	for name, body := range map[string]string{
		"as sent": multi,
		// A change of another field whose value does not have a messages value's shape takes the slow path.
		"odd other change": mustReplace(t, multi, `"event": "VERIFIED_ACCOUNT"`, `"messages": 7, "metadata": []`),
	} {
		t.Run(name, func(t *testing.T) { testParseGroupsByTenant(t, []byte(body)) })
	}
}

func testParseGroupsByTenant(t *testing.T, body []byte) {
	recs, err := Parse(body, testDirectory(t), ingestAt)
	if err != nil {
		t.Fatal(err)
	}
	// acme's items come from entries 1 and 3 and two of its channels, in payload order; the account_update change
	// is ignored; globex gets its own record.
	want := []string{
		`acme acme-wa msg wamid.multi.acme.1 text from=447700900123 profile="Omar Haddad" text="Hello from Omar" reply_to=`,
		`acme acme-wa msg wamid.multi.acme.2 text from=16505551234 profile="Sheena Nelson" text="Hello from Sheena" reply_to=`,
		`acme acme-wa msg wamid.multi.acme.3 text from=4915112345678 profile="" text="No profile for me" reply_to=`,
		`acme acme-wa-2 status wamid.multi.acme.out.1 delivered to=16505551234`,
		`acme acme-wa msg wamid.multi.acme.4 reaction from=16505551234 profile="Sheena Nelson" text="❤️" reply_to=wamid.multi.acme.out.1`,
		`globex globex-wa msg wamid.multi.globex.1 text from=4915199998888 profile="Jonas Weber" text="Guten Tag" reply_to=`,
		`globex globex-wa msg wamid.multi.globex.2 image from=4915199998888 profile="Jonas Weber" text="Rechnung" reply_to=`,
	}
	if got := trace(recs); !reflect.DeepEqual(got, want) {
		t.Errorf("items =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(recs) != 2 || recs[0].Tenant != "acme" || recs[1].Tenant != "globex" {
		t.Fatalf("want exactly the records acme, globex; got %d", len(recs))
	}
	// What ingest produces, the router must accept.
	for _, r := range recs {
		wire, err := r.Encode(nil)
		if err != nil {
			t.Fatal(err)
		}
		back, err := inbox.Decode(wire)
		if err != nil {
			t.Fatalf("router would reject the %s record: %v", r.Tenant, err)
		}
		if !reflect.DeepEqual(trace([]inbox.Record{back}), trace([]inbox.Record{r})) || back.IngestAt != ingestAt.UnixMilli() {
			t.Errorf("%s record changed on the wire: %s", r.Tenant, wire)
		}
	}
}

func TestParseNoRecords(t *testing.T) {
	tests := map[string]string{
		"no entries":              `{"object":"whatsapp_business_account","entry":[]}`,
		"no changes":              `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[]}]}`,
		"template status update":  string(readTestdata(t, "template_status_update.json")),
		"other field, odd value":  `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"value":[1,2],"field":"history"}]}]}`,
		"only value-level errors": changeJSON(`"errors":[{"code":131000,"title":"Something went wrong"}]`),
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			recs, err := Parse([]byte(body), testDirectory(t), ingestAt)
			if err != nil || len(recs) != 0 {
				t.Errorf("Parse = %d records, %v; want none and no error", len(recs), err)
			}
		})
	}
}

// changeJSON is a payload with one messages change for acme-wa whose value holds the given members.
func changeJSON(members string) string {
	return `{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{` +
		`"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111","phone_number_id":"100200300"},` +
		members + `},"field":"messages"}]}]}`
}

// msgJSON is a text message with the given members added; a member given twice makes the later one win.
func msgJSON(members string) string {
	m := `{"from":"16505551234","id":"wamid.ok","timestamp":"1749416383","type":"text","text":{"body":"hi"}`
	if members != "" {
		m += "," + members
	}
	return m + "}"
}

// mustReplace replaces the one occurrence of old in s, so a test cannot silently run on an unchanged payload.
func mustReplace(t *testing.T, s, old, new string) string {
	t.Helper()
	if strings.Count(s, old) != 1 {
		t.Fatalf("BUG in test: %q occurs %d times, want once", old, strings.Count(s, old))
	}
	return strings.Replace(s, old, new, 1)
}

func TestParseRejects(t *testing.T) {
	good := msgJSON("")
	tests := []struct {
		name string
		body string
		want error
	}{
		{"empty body", ``, ErrMalformed},
		{"not JSON", `{"object":"whatsapp_business_account","entry":[`, ErrMalformed},
		{"JSON array", `[]`, ErrMalformed},
		{"wrong object", `{"object":"page","entry":[]}`, ErrMalformed},
		{"no object", `{"entry":[]}`, ErrMalformed},
		{"entry without id", `{"object":"whatsapp_business_account","entry":[{"changes":[]}]}`, ErrMalformed},
		{"value not an object", `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"value":"x","field":"messages"}]}]}`, ErrMalformed},
		{"no value", `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages"}]}]}`, ErrMalformed},
		{"no phone_number_id", `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"value":{"messages":[` + good + `]},"field":"messages"}]}]}`, ErrMalformed},
		{"message without id", changeJSON(`"messages":[` + msgJSON(`"id":""`) + `]`), ErrMalformed},
		{"message without from", changeJSON(`"messages":[{"id":"wamid.x","timestamp":"1749416383","type":"text","text":{"body":"hi"}}]`), ErrMalformed},
		{"message without timestamp", changeJSON(`"messages":[{"id":"wamid.x","from":"1","type":"text","text":{"body":"hi"}}]`), ErrMalformed},
		{"message timestamp not a number", changeJSON(`"messages":[` + msgJSON(`"timestamp":"17494x6383"`) + `]`), ErrMalformed},
		{"message timestamp zero", changeJSON(`"messages":[` + msgJSON(`"timestamp":"0"`) + `]`), ErrMalformed},
		{"message timestamp negative", changeJSON(`"messages":[` + msgJSON(`"timestamp":"-5"`) + `]`), ErrMalformed},
		{"message timestamp as JSON number", changeJSON(`"messages":[` + msgJSON(`"timestamp":1749416383`) + `]`), ErrMalformed},
		{"message without type", changeJSON(`"messages":[{"id":"wamid.x","from":"1","timestamp":"1749416383"}]`), ErrMalformed},
		{"text body not a string", changeJSON(`"messages":[` + msgJSON(`"text":{"body":7}`) + `]`), ErrMalformed},
		{"status without id", changeJSON(`"statuses":[{"status":"read","timestamp":"1749416383","recipient_id":"1"}]`), ErrMalformed},
		{"status without recipient", changeJSON(`"statuses":[{"id":"wamid.o","status":"read","timestamp":"1749416383"}]`), ErrMalformed},
		{"status without timestamp", changeJSON(`"statuses":[{"id":"wamid.o","status":"read","recipient_id":"1"}]`), ErrMalformed},
		{"status not a token", changeJSON(`"statuses":[{"id":"wamid.o","status":"Deleted!","timestamp":"1749416383","recipient_id":"1"}]`), ErrMalformed},
		{"status empty", changeJSON(`"statuses":[{"id":"wamid.o","timestamp":"1749416383","recipient_id":"1"}]`), ErrMalformed},
		{"unknown channel", mustReplace(t, changeJSON(`"messages":[`+good+`]`), "100200300", "555000111"), ErrUnknownChannel},
		{"unknown channel without items", mustReplace(t, changeJSON(`"statuses":[]`), "100200300", "555000111"), ErrUnknownChannel},
		// All or nothing: good parts before the bad one do not come out.
		{"one bad message among good ones", changeJSON(`"messages":[` + good + `,` + good + `,` + msgJSON(`"from":""`) + `]`), ErrMalformed},
		{"bad status after good messages", changeJSON(`"messages":[` + good + `],"statuses":[{"id":"wamid.o","status":"","timestamp":"1749416383","recipient_id":"1"}]`), ErrMalformed},
		{"bad entry after a good one", mustReplace(t, string(readTestdata(t, "multi.json")), `"1749419006"`, `"soon"`), ErrMalformed},
		{"unknown channel after good entries", mustReplace(t, string(readTestdata(t, "multi.json")), `"900800700"`, `"900800799"`), ErrUnknownChannel},
	}
	dir := testDirectory(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := Parse([]byte(tt.body), dir, ingestAt)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse error = %v, want %v", err, tt.want)
			}
			other := ErrUnknownChannel
			if tt.want == ErrUnknownChannel {
				other = ErrMalformed
			}
			if errors.Is(err, other) {
				t.Errorf("error %v is also %v", err, other)
			}
			if recs != nil {
				t.Errorf("got %d records with the error, want none", len(recs))
			}
		})
	}
}

// TestParseTextVariants covers Text and ReplyTo rules that the samples do not: reaction removal, an interactive
// reply of a kind without a title, a media message without caption.
func TestParseTextVariants(t *testing.T) {
	tests := []struct {
		name, msg       string
		text, replyTo   string
		contentContains string
	}{
		{"reaction removed", `{"from":"1","id":"w1","timestamp":"9","type":"reaction","reaction":{"message_id":"wamid.out"}}`, "", "wamid.out", `"message_id":"wamid.out"`},
		{"reaction in a context", `{"context":{"id":"wamid.ctx"},"from":"1","id":"w1","timestamp":"9","type":"reaction","reaction":{"message_id":"wamid.out","emoji":"😀"}}`, "😀", "wamid.out", `"emoji"`},
		{"flow reply", `{"from":"1","id":"w1","timestamp":"9","type":"interactive","interactive":{"type":"nfm_reply","nfm_reply":{"name":"flow","body":"Sent","response_json":"{}"}}}`, "", "", `"nfm_reply"`},
		{"image without caption", `{"from":"1","id":"w1","timestamp":"9","type":"image","image":{"id":"m1","mime_type":"image/png"}}`, "", "", `"mime_type":"image/png"`},
		{"known type without its object", `{"from":"1","id":"w1","timestamp":"9","type":"image"}`, "", "", `"type":"image"`},
		{"future type", `{"from":"1","id":"w1","timestamp":"9","type":"poll","poll":{"question":"Q?","options":["a","b"]}}`, "", "", `{"question":"Q?","options":["a","b"]}`},
	}
	dir := testDirectory(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := Parse([]byte(changeJSON(`"messages":[`+tt.msg+`]`)), dir, ingestAt)
			if err != nil {
				t.Fatal(err)
			}
			m := recs[0].Items[0].Message
			if m.Text != tt.text || m.ReplyTo != tt.replyTo || !bytes.Contains(m.Content, []byte(tt.contentContains)) {
				t.Errorf("got text %q reply_to %q content %s; want %q, %q, content containing %s",
					m.Text, m.ReplyTo, m.Content, tt.text, tt.replyTo, tt.contentContains)
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	dir := testDirectory(b)
	for _, file := range []string{"text.json", "statuses.json", "multi.json"} {
		// Meta sends compact JSON; the testdata is indented for reading.
		var compact bytes.Buffer
		if err := json.Compact(&compact, readTestdata(b, file)); err != nil {
			b.Fatal(err)
		}
		body := compact.Bytes()
		b.Run(strings.TrimSuffix(file, ".json"), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := Parse(body, dir, ingestAt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// A status value Meta may add later is carried, not refused: refusing it would keep the payload's messages out.
func TestParseCarriesUnknownStatus(t *testing.T) {
	body := changeJSON(`"statuses":[{"id":"wamid.o","status":"deleted","timestamp":"1749416383","recipient_id":"1"}]`)
	recs, err := Parse([]byte(body), testDirectory(t), time.Unix(1749416400, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || len(recs[0].Items) != 1 || recs[0].Items[0].Status.Status != "deleted" {
		t.Fatalf("records = %+v, want one status item with status deleted", recs)
	}
}
