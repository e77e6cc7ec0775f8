package sim

// Media: the Cloud API's media endpoints, as Switchboard uses them. POST /{phone-number-id}/media stores a file
// (multipart: messaging_product, type, file) and answers {"id"}; GET /{media-id} answers {"url", "mime_type",
// "sha256", "file_size", "id", "messaging_product"}; GET of that url with the same Bearer token answers the bytes.
// Customers' media come in through SendCustomerMedia (or POST /sim/customers/media), which stores the file and
// posts the inbound webhook naming its id, so a test can download what a customer sent.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/ingest/whatsapp/meta"
)

// DefaultMaxMediaBytes is the default of Config.MaxMediaBytes.
const DefaultMaxMediaBytes = 256 << 20

// MaxMediaFileBytes is the largest file the media endpoint takes: Meta's largest limit, that of documents (100 MB).
const MaxMediaFileBytes = 100 << 20

// CodeMediaUpload is Meta's error for a media upload it cannot take (too large, of a type it does not support).
// HTTP 400.
const CodeMediaUpload = 131053

// mediaPathPrefix is where the simulator serves stored media's bytes: the url GET /{media-id} answers.
const mediaPathPrefix = "/sim/media/"

// StoredMedia is a file in the simulator's media store.
type StoredMedia struct {
	ID            string    `json:"id"`
	PhoneNumberID string    `json:"phone_number_id"`
	MIMEType      string    `json:"mime_type"`
	SHA256        string    `json:"sha256"`
	Filename      string    `json:"filename,omitempty"`
	Size          int64     `json:"file_size"`
	StoredAt      time.Time `json:"stored_at"`
	// Uploaded is true for a file posted to the media endpoint, false for a customer's.
	Uploaded bool   `json:"uploaded"`
	Data     []byte `json:"-"`
}

// mediaStore keeps files in memory up to max bytes in all, forgetting the oldest first.
type mediaStore struct {
	mu    sync.Mutex
	max   int64
	total int64
	items map[string]*StoredMedia
	order []string // ids, oldest first
	seq   uint64
}

func (m *mediaStore) put(f *StoredMedia) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.items == nil {
		m.items = map[string]*StoredMedia{}
	}
	for m.total+f.Size > m.max && len(m.order) > 0 {
		old := m.items[m.order[0]]
		m.order = m.order[1:]
		if old != nil {
			m.total -= old.Size
			delete(m.items, old.ID)
		}
	}
	m.items[f.ID] = f
	m.order = append(m.order, f.ID)
	m.total += f.Size
}

func (m *mediaStore) get(id string) (*StoredMedia, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.items[id]
	return f, ok
}

// newMediaID returns a numeric id, as Meta's are, unique to this simulator.
func (s *Sim) newMediaID() string {
	s.media.mu.Lock()
	s.media.seq++
	n := s.media.seq
	s.media.mu.Unlock()
	return strconv.FormatUint(s.nonce%1_000_000_000, 10) + fmt.Sprintf("%07d", n)
}

// Media returns a stored file (uploaded, or a customer's) by its media id.
func (s *Sim) Media(id string) (StoredMedia, bool) {
	f, ok := s.media.get(id)
	if !ok {
		return StoredMedia{}, false
	}
	return *f, true
}

// routeMedia serves the media endpoints; false when path is not one of them.
func (s *Sim) routeMedia(ctx *fasthttp.RequestCtx, path []byte) bool {
	p := string(path)
	switch {
	case strings.HasPrefix(p, mediaPathPrefix) && ctx.IsGet():
		s.c.requests.Add(1)
		s.serveMediaBytes(ctx, strings.TrimPrefix(p, mediaPathPrefix))
		return true
	case p == "/sim/customers/media":
		s.postCustomerMediaHTTP(ctx)
		return true
	}
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	if len(parts) > 1 && validVersion([]byte(parts[0])) {
		parts = parts[1:]
	}
	switch {
	case len(parts) == 2 && parts[1] == "media" && ctx.IsPost():
		s.c.requests.Add(1)
		s.upload(ctx, parts[0])
	case len(parts) == 1 && allDigits(parts[0]) && ctx.IsGet():
		s.c.requests.Add(1)
		s.mediaInfo(ctx, parts[0])
	default:
		return false
	}
	return true
}

// token checks the Bearer token of a request for phone number id phone ("" checks only that one is present),
// answering the error itself when it is wrong.
func (s *Sim) token(ctx *fasthttp.RequestCtx, phone string) bool {
	token, ok := bearer(ctx.Request.Header.Peek(fasthttp.HeaderAuthorization))
	if !ok {
		s.reject(ctx, &apiError{status: fasthttp.StatusUnauthorized, code: CodeAccessToken, message: title(CodeAccessToken),
			details: "An Authorization: Bearer <access token> header is required"})
		return false
	}
	if s.cfg.Tokens == nil || phone == "" {
		return true
	}
	want, known := s.cfg.Tokens[phone]
	if !known {
		s.reject(ctx, unknownObject([]byte(phone)))
		return false
	}
	if string(token) != want {
		s.reject(ctx, &apiError{status: fasthttp.StatusUnauthorized, code: CodeAccessToken,
			message: "Error validating access token", details: "The access token is not valid for this phone number id"})
		return false
	}
	return true
}

// upload answers POST /{phone-number-id}/media.
func (s *Sim) upload(ctx *fasthttp.RequestCtx, phone string) {
	if !allDigits(phone) {
		s.reject(ctx, unknownObject([]byte(phone)))
		return
	}
	if !s.token(ctx, phone) {
		return
	}
	_, params, err := mime.ParseMediaType(string(ctx.Request.Header.ContentType()))
	if err != nil || params["boundary"] == "" {
		s.reject(ctx, invalidParam("The body must be multipart/form-data"))
		return
	}
	mr := multipart.NewReader(bytes.NewReader(ctx.PostBody()), params["boundary"])
	var product, typ, filename, partType string
	var data []byte
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			s.reject(ctx, invalidParam("The multipart body could not be read: "+err.Error()))
			return
		}
		switch part.FormName() {
		case "messaging_product", "type":
			v, _ := io.ReadAll(io.LimitReader(part, 256))
			if part.FormName() == "type" {
				typ = string(v)
			} else {
				product = string(v)
			}
		case "file":
			filename, partType = part.FileName(), part.Header.Get("Content-Type")
			data, err = io.ReadAll(io.LimitReader(part, MaxMediaFileBytes+1))
			if err != nil {
				s.reject(ctx, invalidParam("The file could not be read: "+err.Error()))
				return
			}
			if len(data) > MaxMediaFileBytes {
				s.reject(ctx, &apiError{status: fasthttp.StatusBadRequest, code: CodeMediaUpload, message: "Media upload error",
					details: fmt.Sprintf("The file is larger than %d bytes", MaxMediaFileBytes)})
				return
			}
		}
		part.Close()
	}
	switch {
	case product != "whatsapp":
		s.reject(ctx, invalidParam("Param messaging_product must be whatsapp"))
		return
	case data == nil:
		s.reject(ctx, invalidParam("Param file is required"))
		return
	case typ == "":
		typ = partType
	}
	if typ == "" {
		s.reject(ctx, invalidParam("Param type is required"))
		return
	}
	f := s.storeMedia(phone, typ, filename, data, true)
	writeJSON(ctx, map[string]string{"id": f.ID})
}

func (s *Sim) storeMedia(phone, typ, filename string, data []byte, uploaded bool) *StoredMedia {
	sum := sha256.Sum256(data)
	f := &StoredMedia{ID: s.newMediaID(), PhoneNumberID: phone, MIMEType: typ, SHA256: hex.EncodeToString(sum[:]),
		Filename: filename, Size: int64(len(data)), StoredAt: s.clk.Now(), Uploaded: uploaded, Data: data}
	s.media.put(f)
	return f
}

// stored returns media id for a request bearing its phone number's token, answering the error itself otherwise.
func (s *Sim) stored(ctx *fasthttp.RequestCtx, id string) (*StoredMedia, bool) {
	f, ok := s.media.get(id)
	if !ok {
		if s.token(ctx, "") {
			s.reject(ctx, unknownObject([]byte(id)))
		}
		return nil, false
	}
	return f, s.token(ctx, f.PhoneNumberID)
}

// mediaInfo answers GET /{media-id}.
func (s *Sim) mediaInfo(ctx *fasthttp.RequestCtx, id string) {
	f, ok := s.stored(ctx, id)
	if !ok {
		return
	}
	writeJSON(ctx, map[string]any{"messaging_product": "whatsapp", "url": s.URL() + mediaPathPrefix + f.ID,
		"mime_type": f.MIMEType, "sha256": f.SHA256, "file_size": f.Size, "id": f.ID})
}

// serveMediaBytes answers the url of a media: its bytes, for the token of its phone number.
func (s *Sim) serveMediaBytes(ctx *fasthttp.RequestCtx, id string) {
	f, ok := s.stored(ctx, id)
	if !ok {
		return
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType(f.MIMEType)
	ctx.SetBody(f.Data)
}

// CustomerMedia is a customer's media message for SendCustomerMedia.
type CustomerMedia struct {
	// WebhookURL and AppSecret default to the simulator's.
	WebhookURL, AppSecret string
	// PhoneNumberID is the business number written to. Required.
	PhoneNumberID string
	// From is the customer's wa_id. Required.
	From        string
	ProfileName string
	// Type is image (the default), video, audio, document or sticker.
	Type string
	// MIMEType is the file's type, as Meta reports it. Required.
	MIMEType string
	Data     []byte
	// Filename names a document; Caption is an image's, a video's or a document's.
	Filename, Caption string
}

// SendCustomerMedia stores a customer's file in the media store and posts the signed inbound webhook of a media
// message naming its id (retried as Customers does). It returns the media id and the message's wamid.
func (s *Sim) SendCustomerMedia(ctx context.Context, m CustomerMedia) (mediaID, wamid string, err error) {
	cfg := CustomersConfig{WebhookURL: m.WebhookURL, AppSecret: m.AppSecret, PhoneNumberID: m.PhoneNumberID}
	cfg.setDefaults(s)
	if err := cfg.Validate(); err != nil {
		return "", "", err
	}
	if m.Type == "" {
		m.Type = "image"
	}
	switch {
	case !allDigits(m.From):
		return "", "", fmt.Errorf("%w: customer media: From %q must be digits", ErrInvalidConfig, m.From)
	case m.MIMEType == "":
		return "", "", fmt.Errorf("%w: customer media: MIMEType is required", ErrInvalidConfig)
	}
	switch m.Type {
	case "image", "video", "audio", "document", "sticker":
	default:
		return "", "", fmt.Errorf("%w: customer media: Type %q is not image, video, audio, document or sticker", ErrInvalidConfig, m.Type)
	}
	f := s.storeMedia(m.PhoneNumberID, m.MIMEType, m.Filename, bytes.Clone(m.Data), false)
	content := map[string]string{"id": f.ID, "mime_type": f.MIMEType, "sha256": f.SHA256}
	if m.Caption != "" {
		content["caption"] = m.Caption
	}
	if m.Filename != "" && m.Type == "document" {
		content["filename"] = m.Filename
	}
	raw, err := json.Marshal(content)
	if err != nil {
		return "", "", err
	}
	msg := meta.Message{From: m.From, ProfileName: m.ProfileName, ID: s.newWAMID(m.From), Timestamp: s.clk.Now().Unix(),
		Type: m.Type, Content: raw}
	if err := s.postCustomer(ctx, cfg, msg); err != nil {
		s.c.custFailed.Add(1)
		return f.ID, msg.ID, err
	}
	s.c.custPosted.Add(1)
	return f.ID, msg.ID, nil
}

// postCustomerMediaHTTP answers POST /sim/customers/media?phone_number_id=&from=&type=&filename=&caption=&name=
// whose body is the file (its Content-Type the file's type): SendCustomerMedia over HTTP, for demos and scripts.
// It answers {"media_id","wamid"}.
func (s *Sim) postCustomerMediaHTTP(ctx *fasthttp.RequestCtx) {
	if !ctx.IsPost() {
		ctx.Response.Header.Set(fasthttp.HeaderAllow, "POST")
		ctx.Error("POST\n", fasthttp.StatusMethodNotAllowed)
		return
	}
	q := ctx.QueryArgs()
	data := ctx.PostBody() // SendCustomerMedia copies it
	if len(data) > MaxMediaFileBytes {
		ctx.Error(fmt.Sprintf("the body must be a file of at most %d bytes\n", MaxMediaFileBytes), fasthttp.StatusBadRequest)
		return
	}
	m := CustomerMedia{PhoneNumberID: string(q.Peek("phone_number_id")), From: string(q.Peek("from")),
		ProfileName: string(q.Peek("name")), Type: string(q.Peek("type")), MIMEType: string(ctx.Request.Header.ContentType()),
		Data: data, Filename: string(q.Peek("filename")), Caption: string(q.Peek("caption"))}
	cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, wamid, err := s.SendCustomerMedia(cctx, m)
	if err != nil {
		ctx.Error(err.Error()+"\n", fasthttp.StatusBadRequest)
		return
	}
	writeJSON(ctx, map[string]string{"media_id": id, "wamid": wamid})
}

// uploadConfig lets a media upload's body reach MaxMediaFileBytes (and the multipart framing around it), and take
// up to 5 minutes; every other request keeps MaxBodyBytes and the server's timeouts.
func uploadConfig(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	p := h.RequestURI()
	if i := bytes.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	if string(h.Method()) == fasthttp.MethodPost && (bytes.HasSuffix(p, []byte("/media")) && !bytes.HasPrefix(p, []byte("/sim/")) ||
		string(p) == "/sim/customers/media") {
		return fasthttp.RequestConfig{MaxRequestBodySize: MaxMediaFileBytes + 1<<20, ReadTimeout: 5 * time.Minute}
	}
	return fasthttp.RequestConfig{}
}
