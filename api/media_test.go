package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/api"
	"github.com/switchboard-hq/switchboard/cmd/switchboard/node"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/sim"
)

var (
	c1      = conversation.ID("acme-wa", "15550001111")
	c9      = conversation.ID("globex-wa", "15550009999")
	pngFile = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"), make([]byte, 200)...)
	pdfFile = []byte("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n")
	exeFile = append([]byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"), make([]byte, 300)...)
)

// mediaEnv is the API with the node's media adapter over the WhatsApp simulator, links allowed to loopback.
type mediaEnv struct {
	*env
	sim *sim.Sim
}

func startMedia(t *testing.T) mediaEnv { return startMediaWith(t, nil) }

// startMediaWith is startMedia with configure's changes to the API's configuration (after Media is set).
func startMediaWith(t *testing.T, configure func(*api.Config)) mediaEnv {
	t.Helper()
	s, err := sim.New(sim.Config{Logger: slog.New(slog.DiscardHandler),
		Tokens: map[string]string{"100200300": "acme-access", "900800700": "globex-access"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	m, err := node.NewMedia(node.MediaConfig{GraphURL: s.URL() + "/v21.0", CacheDir: t.TempDir() + "/cache",
		AllowPrivate: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	e := start(t, options{tenants: "testdata/media_tenants.yaml", streamed: true, configure: func(c *api.Config) {
		c.Media, c.MediaTempDir = m, tmp
		if configure != nil {
			configure(c)
		}
	}})
	return mediaEnv{env: e, sim: s}
}

// customerMedia has the simulator send a customer's image on acme's channel and stores the message carrying it in
// c1, at seq; it returns the media id.
func (e mediaEnv) customerMedia(t *testing.T, seq uint64) string {
	t.Helper()
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})) // takes the webhook
	defer rcv.Close()
	id, _, err := e.sim.SendCustomerMedia(context.Background(), sim.CustomerMedia{WebhookURL: rcv.URL, AppSecret: "x",
		PhoneNumberID: "100200300", From: "15550001111", MIMEType: "image/png", Data: pngFile})
	if err != nil {
		t.Fatal(err)
	}
	e.commit(t, func(b *store.Batch) error {
		m := conversation.Message{ConversationID: c1, Seq: seq, ID: fmt.Sprintf("wamid.m%d", seq), Direction: conversation.DirIn,
			Status: conversation.Received, Type: "image", Content: json.RawMessage(`{"id":"` + id + `","mime_type":"image/png"}`)}
		return b.PutMessage("acme", &m)
	})
	return id
}

// holdUpload starts an upload of pngFile whose body stops after 16 bytes, holding a transfer place; finish sends
// the rest and returns the upload's status.
func (e mediaEnv) holdUpload(t *testing.T) (finish func() int, ended func() bool) {
	t.Helper()
	pr, pw := io.Pipe()
	first := make(chan int, 1)
	mw := multipart.NewWriter(pw)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, e.url+"/v1/media", pr)
		req.Header.Set("Authorization", "Bearer "+aliceToken)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
		pr.CloseWithError(errors.New("answered")) // a held upload answered early stops blocking its writer
	}()
	f, _ := mw.CreateFormFile("file", "a.png")
	f.Write(pngFile[:16])
	code := -1
	return func() int {
			f.Write(pngFile[16:])
			mw.Close()
			pw.Close()
			if code < 0 {
				code = <-first
			}
			return code
		}, func() bool {
			if code >= 0 {
				return true
			}
			select {
			case code = <-first:
				return true
			default:
				return false
			}
		}
}

// holdPlace holds the node's only media transfer place with an upload whose body does not end, and returns once
// another upload (probe, which caches nothing) is refused for it. The held upload can itself lose the place to a
// probe (both ask at once): it is then answered 503 and a new one is held.
func (e mediaEnv) holdPlace(t *testing.T, probe func() response) (finish func() int) {
	t.Helper()
	finish, ended := e.holdUpload(t)
	eventually.NoError(t, 60*time.Second, 10*time.Millisecond, func() error {
		if ended() {
			finish() // answered 503: it lost the place to a probe
			finish, ended = e.holdUpload(t)
		}
		if r := probe(); r.status != http.StatusServiceUnavailable {
			return fmt.Errorf("a probing upload = %s", r)
		}
		if ended() {
			return errors.New("the held upload was answered")
		}
		return nil
	}, "an upload holding the only place")
	return finish
}

// forgetting records the media an erase makes the node forget.
type forgetting struct {
	*node.Media
	mu     sync.Mutex
	forgot []string
}

func (f *forgetting) Forget(ch tenant.Channel, id string) {
	f.mu.Lock()
	f.forgot = append(f.forgot, ch.ID+"/"+id)
	f.mu.Unlock()
	f.Media.Forget(ch, id)
}

// An erase makes the node's media cache forget the files of the contact's messages, once it succeeded.
func TestEraseForgetsMedia(t *testing.T) {
	var rec *forgetting
	e := startMediaWith(t, func(c *api.Config) {
		rec = &forgetting{Media: c.Media.(*node.Media)}
		c.Media = rec
	})
	e.putConvs(t, conv("acme", c1, conversation.Assigned, "alice"))
	e.putContacts(t, "acme", person("15550001111", "Ana", nil))
	img := e.customerMedia(t, 1)
	if r := e.do(t, http.MethodGet, "/v1/media/"+img, aliceToken, ""); r.status != 200 {
		t.Fatalf("GET media = %s", r)
	}
	e.prod.set(nil, func(cmd inbox.Command) (outcome.Result, bool) {
		return outcome.Result{Code: outcome.CodeInternal, Message: "internal error"}, true
	})
	path := "/v1/contacts/" + conversation.ContactID("15550001111") + "/erase"
	if r := e.do(t, http.MethodPost, path, bobToken, ""); r.status == 200 || len(rec.forgot) != 0 {
		t.Fatalf("a failed erase = %s, forgot %v: want nothing forgotten", r, rec.forgot)
	}
	e.prod.set(nil, func(cmd inbox.Command) (outcome.Result, bool) {
		return outcome.Result{Body: conversation.EraseOutcome{ConversationID: cmd.ConversationID, Existed: true, Erased: true}}, true
	})
	if r := e.do(t, http.MethodPost, path, bobToken, ""); r.status != 200 {
		t.Fatalf("erase = %s", r)
	}
	if want := []string{"acme-wa/" + img}; !slices.Equal(rec.forgot, want) {
		t.Errorf("forgot %v, want %v", rec.forgot, want)
	}
}

// Downloads into the cache take a transfer place, as uploads do: with every place taken a media not cached is
// answered 503 with Retry-After, and a cached one is still served.
func TestMediaDownloadsBounded(t *testing.T) {
	e := startMediaWith(t, func(c *api.Config) { c.MaxMediaTransfers = 1 })
	e.putConvs(t, conv("acme", c1, conversation.Assigned, "alice"))
	cached, missing := e.customerMedia(t, 1), e.customerMedia(t, 2)
	if r := e.do(t, http.MethodGet, "/v1/media/"+cached, aliceToken, ""); r.status != 200 {
		t.Fatalf("GET media = %s", r)
	}
	// An upload holds the only place: its body never ends while the downloads are asked for. It is probed with
	// uploads (they cache nothing): a download asked before would succeed and fill the cache, and the one below
	// would then be a hit.
	finish := e.holdPlace(t, func() response {
		return e.upload(t, aliceToken, "p.png", "image/png", pngFile, map[string]string{"channel_id": "acme-wa"})
	})
	r := e.do(t, http.MethodGet, "/v1/media/"+missing, aliceToken, "")
	wantError(t, "a download past the bound", r, http.StatusServiceUnavailable, "unavailable")
	if r.header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	if r := e.do(t, http.MethodGet, "/v1/media/"+cached, aliceToken, ""); r.status != 200 || !bytes.Equal(r.body, pngFile) {
		t.Errorf("a cached media with every place taken = %s", r)
	}
	if code := finish(); code != http.StatusCreated {
		t.Errorf("the upload = %d", code)
	}
	if r := e.do(t, http.MethodGet, "/v1/media/"+missing, aliceToken, ""); r.status != 200 {
		t.Errorf("the download after the upload ended = %s", r)
	}
}

// upload posts a multipart upload with the file under "file" and the given fields.
func (e mediaEnv) upload(t *testing.T, token, filename, contentType string, data []byte, fields map[string]string) response {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	h := make(map[string][]string)
	h["Content-Disposition"] = []string{fmt.Sprintf(`form-data; name="file"; filename=%q`, filename)}
	h["Content-Type"] = []string{contentType}
	pw, _ := mw.CreatePart(h)
	pw.Write(data)
	mw.Close()
	return e.send(t, http.MethodPost, "/v1/media", map[string]string{"Authorization": "Bearer " + token,
		"Content-Type": mw.FormDataContentType()}, b.String())
}

// An upload judged by its content goes to the channel's media store and is answered with its id; a renamed
// executable, a file over its type's limit, a request without a file and one that is not multipart are refused
// with the reason, and nothing reaches the store.
func TestUploadMedia(t *testing.T) {
	e := startMedia(t)
	r := e.upload(t, aliceToken, "receipt.png", "image/png", pngFile, map[string]string{"channel_id": "acme-wa"})
	if r.status != http.StatusCreated {
		t.Fatalf("upload = %s", r)
	}
	var got struct {
		ID, Type, Filename string
		MIMEType           string `json:"mime_type"`
		Size               int64
	}
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Type != "image" || got.MIMEType != "image/png" || got.Size != int64(len(pngFile)) || got.Filename != "receipt.png" {
		t.Errorf("answer = %s", r.body)
	}
	stored, ok := e.sim.Media(got.ID)
	if !ok || !bytes.Equal(stored.Data, pngFile) || stored.PhoneNumberID != "100200300" || stored.MIMEType != "image/png" {
		t.Errorf("simulator stored %+v (%v)", stored.ID, ok)
	}
	// A conversation names the channel too; globex's conversation is not acme's.
	e.putConvs(t, conv("acme", c1, conversation.Assigned, "alice"), conv("globex", c9, conversation.Assigned, "dave"))
	if r := e.upload(t, aliceToken, "doc.pdf", "application/pdf", pdfFile, map[string]string{"conversation_id": c1}); r.status != http.StatusCreated {
		t.Errorf("upload for a conversation = %s", r)
	}
	wantError(t, "another tenant's conversation", e.upload(t, aliceToken, "doc.pdf", "application/pdf", pdfFile,
		map[string]string{"conversation_id": c9}), http.StatusNotFound, conversation.CodeNotFound)
	wantError(t, "another tenant's channel", e.upload(t, aliceToken, "doc.pdf", "application/pdf", pdfFile,
		map[string]string{"channel_id": "globex-wa"}), http.StatusBadRequest, "invalid_upload")
	// Without a channel: the tenant's only one.
	if r := e.upload(t, aliceToken, "r.png", "image/png", pngFile, nil); r.status != http.StatusCreated {
		t.Errorf("upload without a channel = %s", r)
	}

	before := e.sim.Stats()
	exe := e.upload(t, aliceToken, "photo.png", "image/png", exeFile, nil)
	wantError(t, "an executable named .png", exe, http.StatusBadRequest, "media_type_unsupported")
	if !bytes.Contains(exe.body, []byte("WhatsApp does not take")) {
		t.Errorf("refusal does not say why: %s", exe.body)
	}
	big := append(append([]byte{}, pngFile...), make([]byte, api.MaxImageBytes)...)
	wantError(t, "an image over 5 MiB", e.upload(t, aliceToken, "big.png", "image/png", big, nil),
		http.StatusRequestEntityTooLarge, "media_too_large")
	wantError(t, "an empty file", e.upload(t, aliceToken, "e.png", "image/png", nil, nil), http.StatusBadRequest, "invalid_upload")
	wantError(t, "not multipart", e.do(t, http.MethodPost, "/v1/media", aliceToken, `{"file":"x"}`), http.StatusBadRequest, "invalid_upload")
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mw.WriteField("channel_id", "acme-wa")
	mw.Close()
	wantError(t, "no file", e.send(t, http.MethodPost, "/v1/media", map[string]string{"Authorization": "Bearer " + aliceToken,
		"Content-Type": mw.FormDataContentType()}, b.String()), http.StatusBadRequest, "invalid_upload")
	if after := e.sim.Stats(); after.Requests != before.Requests {
		t.Errorf("refused uploads reached the simulator: %d requests", after.Requests-before.Requests)
	}
	wantError(t, "no token", e.upload(t, "", "r.png", "image/png", pngFile, nil), http.StatusUnauthorized, "unauthorized")
}

// GET /v1/media/{id} serves a media a message of the caller's tenant carries, downloaded from the channel, with
// headers that keep the browser from running it; another tenant's, an unknown and an ill-formed id are 404.
func TestGetMedia(t *testing.T) {
	e := startMedia(t)
	ctx := context.Background()
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})) // takes the webhooks
	defer rcv.Close()
	imgID, _, err := e.sim.SendCustomerMedia(ctx, sim.CustomerMedia{WebhookURL: rcv.URL, AppSecret: "x", PhoneNumberID: "100200300",
		From: "15550001111", MIMEType: "image/png", Data: pngFile})
	if err != nil {
		t.Fatal(err)
	}
	docID, _, err := e.sim.SendCustomerMedia(ctx, sim.CustomerMedia{WebhookURL: rcv.URL, AppSecret: "x", PhoneNumberID: "100200300",
		From: "15550001111", Type: "document", MIMEType: "application/pdf", Data: pdfFile, Filename: "Facture été.pdf"})
	if err != nil {
		t.Fatal(err)
	}
	oddID, _, err := e.sim.SendCustomerMedia(ctx, sim.CustomerMedia{WebhookURL: rcv.URL, AppSecret: "x", PhoneNumberID: "100200300",
		From: "15550001111", Type: "document", MIMEType: "application/x-unheard-of", Data: []byte("?")})
	if err != nil {
		t.Fatal(err)
	}
	e.putConvs(t, conv("acme", c1, conversation.Assigned, "alice"))
	e.commit(t, func(b *store.Batch) error {
		for i, m := range []conversation.Message{
			{Type: "image", Content: json.RawMessage(`{"id":"` + imgID + `","mime_type":"image/png"}`)},
			{Type: "document", Content: json.RawMessage(`{"id":"` + docID + `","mime_type":"application/pdf","filename":"Facture été.pdf"}`)},
			{Type: "document", Content: json.RawMessage(`{"id":"` + oddID + `"}`)},
		} {
			m.ConversationID, m.Seq, m.ID, m.Direction, m.Status = c1, uint64(i+1), fmt.Sprintf("wamid.m%d", i), conversation.DirIn, conversation.Received
			if err := b.PutMessage("acme", &m); err != nil {
				return err
			}
		}
		return nil
	})
	for range 2 { // downloaded, then from the cache
		r := e.do(t, http.MethodGet, "/v1/media/"+imgID, aliceToken, "")
		if r.status != 200 || !bytes.Equal(r.body, pngFile) {
			t.Fatalf("GET image = %d, %d bytes", r.status, len(r.body))
		}
		for h, want := range map[string]string{"Content-Type": "image/png", "X-Content-Type-Options": "nosniff",
			"Content-Security-Policy": "sandbox; default-src 'none'",
			"Content-Disposition":     `inline; filename="media-` + imgID + `.png"; filename*=UTF-8''media-` + imgID + `.png`} {
			if got := r.header.Get(h); got != want {
				t.Errorf("image %s = %q, want %q", h, got, want)
			}
		}
	}
	r := e.do(t, http.MethodGet, "/v1/media/"+docID, bobToken, "")
	if r.status != 200 || !bytes.Equal(r.body, pdfFile) {
		t.Fatalf("GET document = %s", r)
	}
	if got, want := r.header.Get("Content-Disposition"), `attachment; filename="Facture _t_.pdf"; filename*=UTF-8''Facture%20%C3%A9t%C3%A9.pdf`; got != want {
		t.Errorf("document Content-Disposition = %q, want %q", got, want)
	}
	// A byte range, as a video player seeks; one out of the file is 416.
	part := e.send(t, http.MethodGet, "/v1/media/"+imgID, map[string]string{"Authorization": "Bearer " + aliceToken, "Range": "bytes=2-9"}, "")
	if part.status != http.StatusPartialContent || !bytes.Equal(part.body, pngFile[2:10]) ||
		part.header.Get("Content-Range") != fmt.Sprintf("bytes 2-9/%d", len(pngFile)) {
		t.Errorf("GET a range = %d %q %q", part.status, part.body, part.header.Get("Content-Range"))
	}
	if r := e.send(t, http.MethodGet, "/v1/media/"+imgID, map[string]string{"Authorization": "Bearer " + aliceToken,
		"Range": fmt.Sprintf("bytes=%d-", len(pngFile)+10)}, ""); r.status != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("GET a range past the end = %d", r.status)
	}
	// A type nobody knows, without a file name: an attachment named after the id.
	r = e.do(t, http.MethodGet, "/v1/media/"+oddID, aliceToken, "")
	if r.status != 200 || r.header.Get("Content-Disposition") != `attachment; filename="media-`+oddID+`"; filename*=UTF-8''media-`+oddID {
		t.Errorf("GET an unknown type = %s %q", r, r.header.Get("Content-Disposition"))
	}
	wantError(t, "another tenant's media", e.do(t, http.MethodGet, "/v1/media/"+imgID, daveToken, ""), http.StatusNotFound, "media_not_found")
	// A media uploaded but not yet sent is no message's: 404 too.
	up := e.upload(t, aliceToken, "r.png", "image/png", pngFile, nil)
	var u struct{ ID string }
	json.Unmarshal(up.body, &u)
	wantError(t, "an unsent upload", e.do(t, http.MethodGet, "/v1/media/"+u.ID, aliceToken, ""), http.StatusNotFound, "media_not_found")
	wantError(t, "an unknown id", e.do(t, http.MethodGet, "/v1/media/424242", aliceToken, ""), http.StatusNotFound, "media_not_found")
	wantError(t, "an ill-formed id", e.do(t, http.MethodGet, "/v1/media/%3Cscript%3E", aliceToken, ""), http.StatusNotFound, "media_not_found")
	wantError(t, "an id not of digits", e.do(t, http.MethodGet, "/v1/media/"+imgID+"a", aliceToken, ""), http.StatusNotFound, "media_not_found")
	wantError(t, "an id of 65 digits", e.do(t, http.MethodGet, "/v1/media/"+strings.Repeat("1", 65), aliceToken, ""), http.StatusNotFound, "media_not_found")
	for _, id := range []string{imgID, docID, oddID} {
		if strings.Trim(id, "0123456789") != "" {
			t.Errorf("the simulator's media id %q is not numeric, as Meta's are", id)
		}
	}
	wantError(t, "DELETE", e.do(t, http.MethodDelete, "/v1/media/"+imgID, aliceToken, ""), http.StatusMethodNotAllowed, "method_not_allowed")
}

// A reply naming a media link is fetched by the node, judged, uploaded to the conversation's channel and sent by
// id; a link to an executable, or to a file of another type than the reply's, is refused before any command.
func TestMediaLinkReply(t *testing.T) {
	e := startMedia(t)
	files := map[string][]byte{"/photo.png": pngFile, "/setup.png": exeFile, "/doc.pdf": pdfFile}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(files[r.URL.Path]) }))
	defer srv.Close()
	e.putConvs(t, conv("acme", c1, conversation.Assigned, "alice"))
	e.prod.set(nil, func(inbox.Command) (outcome.Result, bool) { return outcome.Result{Body: "ok"}, true })
	r := e.do(t, http.MethodPost, "/v1/conversations/"+c1+"/messages", aliceToken,
		`{"type":"image","image":{"link":"`+srv.URL+`/photo.png","caption":"here"}}`)
	if r.status != http.StatusCreated {
		t.Fatalf("reply with a link = %s", r)
	}
	recs := e.prod.records()
	msg := recs[len(recs)-1].Items[0].Command.Message
	var content map[string]string
	if err := json.Unmarshal(msg.Content, &content); err != nil {
		t.Fatal(err)
	}
	if content["link"] != "" || content["caption"] != "here" || content["id"] == "" {
		t.Fatalf("sent content = %s, want an id, the caption, no link", msg.Content)
	}
	if m, ok := e.sim.Media(content["id"]); !ok || !bytes.Equal(m.Data, pngFile) {
		t.Errorf("the linked file did not reach the channel's media store")
	}
	n := len(e.prod.records())
	wantError(t, "link to an executable", e.do(t, http.MethodPost, "/v1/conversations/"+c1+"/messages", aliceToken,
		`{"type":"image","image":{"link":"`+srv.URL+`/setup.png"}}`), http.StatusBadRequest, "media_type_unsupported")
	wantError(t, "link to a pdf as an image", e.do(t, http.MethodPost, "/v1/conversations/"+c1+"/messages", aliceToken,
		`{"type":"image","image":{"link":"`+srv.URL+`/doc.pdf"}}`), http.StatusBadRequest, "media_type_unsupported")
	wantError(t, "link to another scheme", e.do(t, http.MethodPost, "/v1/conversations/"+c1+"/messages", aliceToken,
		`{"type":"document","document":{"link":"file:///etc/passwd"}}`), http.StatusBadRequest, "media_link_refused")
	if len(e.prod.records()) != n {
		t.Errorf("a refused link produced a command")
	}
}

// A refused or failing media link is answered without its detail: no resolved address, no dial error.
func TestMediaLinkErrorsRevealNothing(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	addr := closed.Listener.Addr().String()
	closed.Close() // nothing listens there any more: the dial fails
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(pngFile) }))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(addr)
	for _, tc := range []struct {
		name, link, want string
		allowPrivate     bool
	}{
		{"a private address", srv.URL + "/photo.png", "the link is refused: only http and https links to public addresses are fetched", false},
		{"a name resolving to loopback", strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/p.png", "the link is refused: only http and https links to public addresses are fetched", false},
		{"a dial failure", "http://" + addr + "/photo.png", "the link could not be fetched", true},
	} {
		e := startMediaWith(t, func(c *api.Config) {
			m, err := node.NewMedia(node.MediaConfig{GraphURL: "http://127.0.0.1:1/v21.0", CacheDir: t.TempDir() + "/cache",
				AllowPrivate: tc.allowPrivate, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			c.Media = m
		})
		e.putConvs(t, conv("acme", c1, conversation.Assigned, "alice"))
		r := e.do(t, http.MethodPost, "/v1/conversations/"+c1+"/messages", aliceToken,
			`{"type":"image","image":{"link":"`+tc.link+`"}}`)
		wantError(t, tc.name, r, http.StatusBadRequest, "media_link_refused")
		var body struct{ Error struct{ Message string } }
		json.Unmarshal(r.body, &body)
		if body.Error.Message != tc.want {
			t.Errorf("%s: message %q, want %q", tc.name, body.Error.Message, tc.want)
		}
		for _, leak := range []string{"127.0.0.1", "::1", "loopback", "connection refused", "dial", port} {
			if strings.Contains(body.Error.Message, leak) {
				t.Errorf("%s: message %q reveals %q", tc.name, body.Error.Message, leak)
			}
		}
	}
}

// Uploads in progress are bounded: past MaxMediaTransfers one is answered 503 with Retry-After, before its body is
// read.
func TestUploadsBounded(t *testing.T) {
	s, err := sim.New(sim.Config{Logger: slog.New(slog.DiscardHandler), Latency: 0})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	m, err := node.NewMedia(node.MediaConfig{GraphURL: s.URL(), CacheDir: t.TempDir() + "/c", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	e := mediaEnv{env: start(t, options{tenants: "testdata/media_tenants.yaml", streamed: true, configure: func(c *api.Config) { c.Media, c.MaxMediaTransfers = m, 1 }})}
	// One upload holds the only place: its body never ends while the second arrives.
	var r response
	finish := e.holdPlace(t, func() response {
		r = e.upload(t, aliceToken, "b.png", "image/png", pngFile, nil)
		return r
	})
	wantError(t, "an upload past the bound", r, http.StatusServiceUnavailable, "unavailable")
	if r.header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	if code := finish(); code != http.StatusCreated {
		t.Errorf("the first upload = %d", code)
	}
	if r := e.upload(t, aliceToken, "c.png", "image/png", pngFile, nil); r.status != http.StatusCreated {
		t.Errorf("an upload after the first ended = %s", r)
	}
}
