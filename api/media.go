package api

// Attachments (README, "Attachments"): POST /v1/media takes a file as multipart/form-data, streamed to a temporary
// file (never held in memory whole), judges it by its content against WhatsApp's types and limits
// (media_types.go) and uploads it to the channel's media store on Meta, answering the media id a reply then sends.
// GET /v1/media/{id} serves a media a message of the caller's tenant carries, inbound or outbound, through the
// node's cache. A reply whose media is a link is fetched by the node (never from a private address unless the
// node allows it), judged like an upload, uploaded and sent by id: Meta never fetches an operator's link.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"os"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gabriel-vasile/mimetype"
	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// MediaPath is the path of uploads, whose request bodies the HTTP server must hand over as a stream
// (fasthttp's StreamRequestBody): they may be up to MaxMediaBytes, far above the other endpoints' limit.
const MediaPath = "/v1/media"

// MediaStreamsBody reports the requests whose body the API reads as a stream (ingest/server's Config.StreamsBody):
// POST MediaPath.
func MediaStreamsBody(method, path []byte) bool {
	return string(method) == fasthttp.MethodPost && string(path) == MediaPath
}

// Media moves files between the API and the channels' media stores (Meta's media endpoints). Implementations must
// be safe for concurrent use.
type Media interface {
	// Upload sends size bytes of body, of type mimeType, named filename, to the channel's media store and returns
	// the media id a message can send.
	Upload(ctx context.Context, ch tenant.Channel, body io.Reader, size int64, mimeType, filename string) (id string, err error)
	// Open returns a media of the channel's store to serve, with its size and type as the channel reports them. A
	// media the channel does not know (any more) is an error wrapping ErrNotFound. The caller closes Body. A media
	// that must be downloaded (not cached) is downloaded only if admit, called once before, returns true; else Open
	// returns an error wrapping ErrMediaBusy. admit is called on the caller's goroutine.
	Open(ctx context.Context, ch tenant.Channel, id string, admit func() bool) (MediaFile, error)
	// Forget drops what the node keeps of a media of the channel's store (its cache), as an erase requires.
	Forget(ch tenant.Channel, id string)
	// Fetch downloads an operator's link into w, at most max bytes. A link it must not fetch (not http or https,
	// or an address it refuses) is an error wrapping ErrLinkRefused; a file over max one wrapping ErrMediaTooLarge.
	Fetch(ctx context.Context, link string, w io.Writer, max int64) error
}

// MediaFile is a media to serve.
type MediaFile struct {
	Body io.ReadCloser
	Size int64
	// MIMEType is the type the channel reported.
	MIMEType string
}

// MediaReader finds which message carries a media id (the store's index of them).
type MediaReader interface {
	// MediaRef returns the conversation and sequence number of a message of the tenant whose content carries media
	// id, or an error wrapping ErrNotFound.
	MediaRef(tenant, id string) (conv string, seq uint64, err error)
}

// Errors a Media returns.
var (
	// ErrLinkRefused is wrapped by Media.Fetch's error for a link it will not fetch.
	ErrLinkRefused = errors.New("link refused")
	// ErrMediaTooLarge is wrapped by Media.Fetch's error for a file over its bound.
	ErrMediaTooLarge = errors.New("media too large")
	// ErrMediaBusy is wrapped by Media.Open's error for a download its admit refused.
	ErrMediaBusy = errors.New("media transfers busy")
)

// Error codes of attachments.
const (
	codeMediaTypeUnsupported = "media_type_unsupported"
	codeMediaTooLarge        = "media_too_large"
	codeMediaNotFound        = "media_not_found"
	codeInvalidUpload        = "invalid_upload"
	codeMediaLinkRefused     = "media_link_refused"
	codeMediaUnavailable     = "media_unavailable" // no media store on this node
	codeMediaUpstream        = "media_upstream_failed"
)

// Bounds of media handling.
const (
	// mediaSniffBytes is how much of a file's start the type is judged on (mimetype reads 3 KiB).
	mediaSniffBytes = 3072
	// uploadTimeout bounds reading an upload from the client and sending it on to Meta.
	uploadTimeout = 10 * time.Minute
	// fetchTimeout bounds fetching an operator's link.
	fetchTimeout = 2 * time.Minute
	// maxFieldBytes bounds the form fields beside the file.
	maxFieldBytes = 256
	// multipartSlack is what the multipart framing may add to a file of MaxMediaBytes.
	multipartSlack = 64 << 10
)

// uploadAnswer is the body of POST /v1/media.
type uploadAnswer struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	MIMEType string `json:"mime_type"`
	Size     int64  `json:"size"`
	Filename string `json:"filename"`
}

// serveMedia routes /v1/media and /v1/media/{id}; false when parts is not one of them.
func (a *API) serveMedia(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, parts []string) bool {
	switch {
	case len(parts) == 1 && parts[0] == "media" && ctx.IsPost():
		a.uploadMedia(ctx, op)
	case len(parts) == 2 && parts[0] == "media" && (ctx.IsGet() || ctx.IsHead()):
		a.getMedia(ctx, op, parts[1])
	case len(parts) >= 1 && parts[0] == "media":
		fail(ctx, codeMethodNotAllowed, string(ctx.Method())+" is not allowed on "+string(ctx.Path()))
	default:
		return false
	}
	return true
}

// uploadMedia handles POST /v1/media: multipart with the file under "file" and conversation_id or channel_id
// (neither: the tenant's only channel).
func (a *API) uploadMedia(ctx *fasthttp.RequestCtx, op tenant.OperatorRef) {
	if a.cfg.Media == nil {
		fail(ctx, codeMediaUnavailable, "this node has no media store")
		return
	}
	ct, params, err := mime.ParseMediaType(string(ctx.Request.Header.ContentType()))
	if err != nil || ct != "multipart/form-data" || params["boundary"] == "" {
		fail(ctx, codeInvalidUpload, "the body must be multipart/form-data with the file in a field named file")
		return
	}
	if !a.startTransfer(ctx) {
		return
	}
	defer a.endTransfer()
	if cl := ctx.Request.Header.ContentLength(); cl > MaxMediaBytes+multipartSlack {
		fail(ctx, codeMediaTooLarge, fmt.Sprintf("the upload is %s; WhatsApp takes at most %s (documents)",
			sizeText(int64(cl)), sizeText(MaxMediaBytes)))
		ctx.SetConnectionClose()
		return
	}
	if c := ctx.Conn(); c != nil {
		// The server's read timeout is for small bodies: an upload gets uploadTimeout from now.
		_ = c.SetReadDeadline(time.Now().Add(uploadTimeout))
	}
	var body io.Reader = ctx.RequestBodyStream()
	if body == nil {
		body = bytes.NewReader(ctx.PostBody())
	}
	up, ok := a.receiveUpload(ctx, body, params["boundary"])
	if up.file != nil {
		defer func() {
			up.file.Close()
			os.Remove(up.file.Name())
		}()
	}
	if !ok {
		ctx.SetConnectionClose() // what is left of the body is not read
		return
	}
	ch, ok := a.mediaChannel(ctx, op, up.conversation, up.channel)
	if !ok {
		return
	}
	c, ok := a.judge(ctx, up.file, up.size)
	if !ok {
		return
	}
	if _, err := up.file.Seek(0, io.SeekStart); err != nil {
		a.log.Error("rewind upload", "tenant", op.Tenant.ID, "err", err)
		fail(ctx, codeMediaUpstream, "the file could not be read back; retry")
		return
	}
	uctx, cancel := context.WithTimeout(context.Background(), uploadTimeout)
	defer cancel()
	id, err := a.cfg.Media.Upload(uctx, ch, up.file, up.size, c.mime, up.filename)
	if err != nil {
		a.log.Warn("upload media", "tenant", op.Tenant.ID, "channel", ch.ID, "err", err)
		fail(ctx, codeMediaUpstream, "WhatsApp did not take the file; retry later")
		return
	}
	a.writeJSON(ctx, fasthttp.StatusCreated, uploadAnswer{ID: id, Type: c.typ, MIMEType: c.mime, Size: up.size, Filename: up.filename})
}

// startTransfer takes a place among the MaxMediaTransfers; false when it answered 503.
func (a *API) startTransfer(ctx *fasthttp.RequestCtx) bool {
	select {
	case a.transfers <- struct{}{}:
		return true
	default:
		ctx.Response.Header.Set("Retry-After", "5")
		ctx.SetConnectionClose() // the body is not read
		fail(ctx, codeUnavailable, "too many uploads in progress on this node; retry shortly")
		return false
	}
}

func (a *API) endTransfer() { <-a.transfers }

// upload is what a multipart upload held.
type upload struct {
	conversation, channel, filename string
	file                            *os.File // the file's bytes, in a temporary file
	size                            int64
}

// receiveUpload reads the parts, writing the file to a temporary file; false when it answered an error.
func (a *API) receiveUpload(ctx *fasthttp.RequestCtx, body io.Reader, boundary string) (upload, bool) {
	mr := multipart.NewReader(body, boundary)
	var up upload
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			fail(ctx, codeInvalidUpload, "the multipart body could not be read: "+err.Error())
			return up, false
		}
		switch part.FormName() {
		case "conversation_id", "channel_id":
			v, err := io.ReadAll(io.LimitReader(part, maxFieldBytes))
			if err != nil {
				fail(ctx, codeInvalidUpload, "the multipart body could not be read: "+err.Error())
				return up, false
			}
			if part.FormName() == "conversation_id" {
				up.conversation = strings.TrimSpace(string(v))
			} else {
				up.channel = strings.TrimSpace(string(v))
			}
		case "file":
			if up.file != nil {
				fail(ctx, codeInvalidUpload, "one file per upload")
				return up, false
			}
			up.filename = cleanFilename(part.FileName())
			if up.file, err = os.CreateTemp(a.cfg.MediaTempDir, "upload-*"); err != nil {
				a.log.Error("create upload file", "dir", a.cfg.MediaTempDir, "err", err)
				fail(ctx, codeMediaUpstream, "the file could not be stored; retry later")
				return up, false
			}
			n, err := io.Copy(up.file, io.LimitReader(part, MaxMediaBytes+1))
			up.size = n
			if err != nil {
				fail(ctx, codeInvalidUpload, "the file could not be read: "+err.Error())
				return up, false
			}
			if n > MaxMediaBytes {
				fail(ctx, codeMediaTooLarge, fmt.Sprintf("the file is over %s, the most WhatsApp takes of any type",
					sizeText(MaxMediaBytes)))
				return up, false
			}
		}
		part.Close()
	}
	// What follows the closing boundary (an epilogue; a chunked body's last chunk) is read too, or the connection
	// would take it for the next request.
	if _, err := io.Copy(io.Discard, io.LimitReader(body, multipartSlack)); err != nil {
		fail(ctx, codeInvalidUpload, "the multipart body could not be read: "+err.Error())
		return up, false
	}
	if up.file == nil {
		fail(ctx, codeInvalidUpload, "the upload has no field named file")
		return up, false
	}
	if up.size == 0 {
		fail(ctx, codeInvalidUpload, "the file is empty")
		return up, false
	}
	return up, true
}

// judge reads the start of f and checks it; false when it answered the refusal.
func (a *API) judge(ctx *fasthttp.RequestCtx, f *os.File, size int64) (mediaCheck, bool) {
	head := make([]byte, min(size, mediaSniffBytes))
	if _, err := f.ReadAt(head, 0); err != nil && err != io.EOF {
		fail(ctx, codeMediaUpstream, "the file could not be read back; retry")
		return mediaCheck{}, false
	}
	c := classifyMedia(head, size)
	if c.code != "" {
		fail(ctx, c.code, c.msg)
		return c, false
	}
	return c, true
}

// mediaChannel is the channel an upload goes to: the conversation's, the one named, or the tenant's only one.
func (a *API) mediaChannel(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, convID, chID string) (tenant.Channel, bool) {
	if convID != "" {
		c, ok := a.load(ctx, op, convID)
		if !ok {
			return tenant.Channel{}, false
		}
		chID = c.ChannelID
	}
	chs := op.Tenant.Channels
	if chID == "" {
		if len(chs) == 1 {
			return chs[0], true
		}
		fail(ctx, codeInvalidUpload, "conversation_id or channel_id is required: the tenant has several channels")
		return tenant.Channel{}, false
	}
	for _, ch := range chs {
		if ch.ID == chID {
			return ch, true
		}
	}
	fail(ctx, codeInvalidUpload, "no channel "+quoteID(chID))
	return tenant.Channel{}, false
}

// validMediaID accepts what a channel's media id is: Meta's are numeric (as the simulator's), so 1 to 64 digits;
// anything else never reaches the store's index or Meta.
func validMediaID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// getMedia handles GET /v1/media/{id}: the media, if a message of the caller's tenant carries it.
func (a *API) getMedia(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, id string) {
	if !validMediaID(id) {
		fail(ctx, codeMediaNotFound, "no media "+quoteID(id))
		return
	}
	convID, seq, err := a.cfg.Reader.MediaRef(op.Tenant.ID, id)
	if errors.Is(err, ErrNotFound) {
		fail(ctx, codeMediaNotFound, "no media "+quoteID(id))
		return
	}
	if err != nil {
		a.storeFailed(ctx, op, err)
		return
	}
	c, err := a.cfg.Reader.Conversation(op.Tenant.ID, convID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			fail(ctx, codeMediaNotFound, "no media "+quoteID(id))
		} else {
			a.storeFailed(ctx, op, err)
		}
		return
	}
	var ch tenant.Channel
	found := false
	for _, x := range op.Tenant.Channels {
		if x.ID == c.ChannelID {
			ch, found = x, true
		}
	}
	if !found {
		fail(ctx, codeMediaNotFound, "media "+quoteID(id)+" belongs to a channel the tenant no longer has")
		return
	}
	var msg conversation.Message
	if msgs, err := a.cfg.Reader.Messages(op.Tenant.ID, convID, seq+1, 1); err == nil && len(msgs) == 1 {
		msg = msgs[0]
	}
	if a.cfg.Media == nil {
		fail(ctx, codeMediaUnavailable, "this node has no media store")
		return
	}
	octx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	defer cancel()
	// A download takes a transfer place, as an upload does: each holds up to MaxMediaBytes on disk while it runs.
	took := false
	f, err := a.cfg.Media.Open(octx, ch, id, func() bool {
		select {
		case a.transfers <- struct{}{}:
			took = true
			return true
		default:
			return false
		}
	})
	if took {
		a.endTransfer()
	}
	if errors.Is(err, ErrMediaBusy) {
		ctx.Response.Header.Set("Retry-After", "5")
		fail(ctx, codeUnavailable, "too many media transfers in progress on this node; retry shortly")
		return
	}
	if errors.Is(err, ErrNotFound) {
		fail(ctx, codeMediaNotFound, "WhatsApp no longer has media "+quoteID(id)+" (media expire after 30 days)")
		return
	}
	if err != nil {
		a.log.Warn("open media", "tenant", op.Tenant.ID, "conversation", convID, "err", err)
		fail(ctx, codeMediaUpstream, "the media could not be fetched from WhatsApp; retry later")
		return
	}
	a.writeMedia(ctx, f, id, msg)
}

// writeMedia streams f with headers that keep a browser from running it: its type as declared, never sniffed; a
// sandbox CSP; inline only for images, video and audio, which the console shows.
func (a *API) writeMedia(ctx *fasthttp.RequestCtx, f MediaFile, id string, msg conversation.Message) {
	typ := "application/octet-stream"
	if mt, _, err := mime.ParseMediaType(f.MIMEType); err == nil {
		typ = mt
	}
	var content struct {
		Filename string `json:"filename"`
	}
	_ = json.Unmarshal(msg.Content, &content)
	name := cleanFilename(content.Filename)
	if name == "" {
		name = "media-" + id
		if m := mimetype.Lookup(typ); m != nil {
			name += m.Extension()
		}
	}
	disposition := "attachment"
	if inlineType(typ) {
		disposition = "inline"
	}
	h := &ctx.Response.Header
	h.SetContentType(typ)
	h.Set("Content-Disposition", disposition+"; filename=\""+asciiName(name)+"\"; filename*=UTF-8''"+url.PathEscape(name))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	h.Set("Cache-Control", "private, max-age=86400")
	h.Set("Accept-Ranges", "bytes")
	ctx.SetStatusCode(fasthttp.StatusOK)
	if ctx.IsHead() {
		f.Body.Close()
		h.SetContentLength(int(f.Size))
		return
	}
	// One byte range, as a video player asks to seek; the body is a file of the cache, so it seeks.
	if rng := ctx.Request.Header.Peek("Range"); len(rng) > 0 {
		if rs, ok := f.Body.(io.ReadSeeker); ok {
			start, end, err := fasthttp.ParseByteRange(rng, int(f.Size))
			if err != nil {
				f.Body.Close()
				h.Set("Content-Range", fmt.Sprintf("bytes */%d", f.Size))
				ctx.SetStatusCode(fasthttp.StatusRequestedRangeNotSatisfiable)
				return
			}
			if _, err := rs.Seek(int64(start), io.SeekStart); err == nil {
				h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, f.Size))
				ctx.SetStatusCode(fasthttp.StatusPartialContent)
				n := end - start + 1
				ctx.SetBodyStream(struct {
					io.Reader
					io.Closer
				}{io.LimitReader(f.Body, int64(n)), f.Body}, n)
				return
			}
		}
	}
	ctx.SetBodyStream(f.Body, int(f.Size)) // fasthttp closes it once sent
}

// inlineType reports whether the console may show a type in the page: the images, video and audio WhatsApp carries.
func inlineType(t string) bool {
	switch t {
	case "image/jpeg", "image/png", "image/webp", "image/gif":
		return true
	}
	return strings.HasPrefix(t, "video/") || strings.HasPrefix(t, "audio/")
}

// cleanFilename keeps the last path element of a client's file name, without control characters, at most 200 bytes.
func cleanFilename(name string) string {
	name = path.Base(strings.ReplaceAll(name, "\\", "/"))
	if name == "." || name == "/" {
		return ""
	}
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return -1
		}
		return r
	}, name)
	for len(name) > 200 {
		_, n := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-n]
	}
	return name
}

// asciiName is a file name for the plain filename parameter: ASCII, without quotes.
func asciiName(name string) string {
	return strings.Map(func(r rune) rune {
		if r > 0x7e || r == '"' || r == '\\' {
			return '_'
		}
		return r
	}, name)
}

// resolveMediaLink turns a media reply that names a link into one that names a media id: the node fetches the link
// (Media.Fetch refuses private addresses unless allowed), judges the file as an upload, checks that it is of the
// reply's type and uploads it to the conversation's channel. false when it answered an error.
func (a *API) resolveMediaLink(ctx *fasthttp.RequestCtx, op tenant.OperatorRef, convID string, b *inbox.Outbound) bool {
	switch b.Type {
	case "image", "audio", "video", "document", "sticker":
	default:
		return true
	}
	var content map[string]json.RawMessage
	if json.Unmarshal(b.Content, &content) != nil {
		return true // the conversation's rules refuse it with their message
	}
	var link string
	if json.Unmarshal(content["link"], &link) != nil || link == "" {
		return true
	}
	if _, hasID := content["id"]; hasID {
		return true // both: the rules refuse it
	}
	if a.cfg.Media == nil {
		fail(ctx, codeMediaUnavailable, "this node has no media store: send media by id")
		return false
	}
	ch, ok := a.mediaChannel(ctx, op, convID, "")
	if !ok {
		return false
	}
	if !a.startTransfer(ctx) {
		return false
	}
	defer a.endTransfer()
	f, err := os.CreateTemp(a.cfg.MediaTempDir, "link-*")
	if err != nil {
		a.log.Error("create link file", "dir", a.cfg.MediaTempDir, "err", err)
		fail(ctx, codeMediaUpstream, "the file could not be stored; retry later")
		return false
	}
	defer func() {
		f.Close()
		os.Remove(f.Name())
	}()
	fctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	defer cancel()
	// The client learns the kind of failure, never its detail (a resolved address, a dial or TLS error): that would
	// map the node's network for whoever can send a reply. The detail is logged.
	switch err := a.cfg.Media.Fetch(fctx, link, f, MaxMediaBytes); {
	case errors.Is(err, ErrLinkRefused):
		a.log.Info("media link refused", "tenant", op.Tenant.ID, "conversation", convID, "err", err)
		fail(ctx, codeMediaLinkRefused, "the link is refused: only http and https links to public addresses are fetched")
		return false
	case errors.Is(err, ErrMediaTooLarge):
		fail(ctx, codeMediaTooLarge, "the linked file is over "+sizeText(MaxMediaBytes)+", the most WhatsApp takes")
		return false
	case err != nil:
		a.log.Info("media link fetch failed", "tenant", op.Tenant.ID, "conversation", convID, "err", err)
		fail(ctx, codeMediaLinkRefused, "the link could not be fetched")
		return false
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil || size == 0 {
		fail(ctx, codeMediaLinkRefused, "the link gave an empty file")
		return false
	}
	c, ok := a.judge(ctx, f, size)
	if !ok {
		return false
	}
	if c.typ != b.Type {
		fail(ctx, codeMediaTypeUnsupported, fmt.Sprintf("the linked file is %s, which WhatsApp sends as %s, not %s",
			c.mime, c.typ, b.Type))
		return false
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		fail(ctx, codeMediaUpstream, "the file could not be read back; retry")
		return false
	}
	var filename string
	_ = json.Unmarshal(content["filename"], &filename)
	if filename == "" {
		if u, err := url.Parse(link); err == nil {
			filename = cleanFilename(u.Path)
		}
	}
	uctx, ucancel := context.WithTimeout(context.Background(), uploadTimeout)
	defer ucancel()
	id, err := a.cfg.Media.Upload(uctx, ch, f, size, c.mime, filename)
	if err != nil {
		a.log.Warn("upload linked media", "tenant", op.Tenant.ID, "channel", ch.ID, "err", err)
		fail(ctx, codeMediaUpstream, "WhatsApp did not take the linked file; retry later")
		return false
	}
	delete(content, "link")
	content["id"], _ = json.Marshal(id)
	if b.Content, err = json.Marshal(content); err != nil {
		panic("BUG: encode media content: " + err.Error())
	}
	return true
}
