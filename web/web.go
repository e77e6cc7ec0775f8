// Package web is the operator console: a Preact single-page app bundled by esbuild (build.go, run by
// `go generate ./web` or `make web`) into dist/, which is committed and embedded in the binary, so neither building
// nor running Switchboard needs Node.
//
// Handler serves it: index.html for / and every client route (never cached, so a new binary's bundle is picked up
// at once), and the content-hashed assets under /assets/ cached for a year with a strong ETag and gzip.
package web

//go:generate go run build.go

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/valyala/fasthttp"
)

//go:embed all:dist
var dist embed.FS

// CSP is the Content-Security-Policy of every console response: scripts, styles and connections only from the
// node itself, no inline script, images also from data: URLs and blob: URLs (the preview of a file being attached),
// and no framing.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"

// asset is one embedded file ready to serve.
type asset struct {
	body, gz    []byte
	contentType string
	etag        string
}

// Handler serves the embedded console. It is immutable after New and safe for concurrent use.
type Handler struct {
	index  asset
	assets map[string]*asset // by path, e.g. /assets/main-ABCD1234.js
}

// New reads the embedded bundle and compresses it once.
func New() (*Handler, error) { return newHandler(dist) }

func newHandler(fsys fs.FS) (*Handler, error) {
	h := &Handler{assets: map[string]*asset{}}
	idx, err := fs.ReadFile(fsys, "dist/index.html")
	if err != nil {
		return nil, fmt.Errorf("console bundle: %w (run make web)", err)
	}
	h.index = newAsset(idx, "text/html; charset=utf-8")
	entries, err := fs.ReadDir(fsys, "dist/assets")
	if err != nil {
		return nil, fmt.Errorf("console bundle: %w (run make web)", err)
	}
	for _, e := range entries {
		b, err := fs.ReadFile(fsys, "dist/assets/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("console bundle: %w", err)
		}
		a := newAsset(b, contentType(e.Name()))
		h.assets["/assets/"+e.Name()] = &a
	}
	return h, nil
}

func newAsset(b []byte, ct string) asset {
	sum := sha256.Sum256(b)
	a := asset{body: b, contentType: ct, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(b)
	_ = zw.Close()
	if buf.Len() < len(b) {
		a.gz = buf.Bytes()
	}
	return a
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".txt":
		return "text/plain; charset=utf-8"
	}
	return "application/octet-stream"
}

// GzipSize is the gzipped size in bytes of the console's JavaScript, as served (the budget is 150 KB).
func (h *Handler) GzipSize() int {
	n := 0
	for p, a := range h.assets {
		if strings.HasSuffix(p, ".js") {
			n += len(a.gz)
		}
	}
	return n
}

// Serve answers GET and HEAD: an asset by its hashed path, a 404 for an unknown /assets/ path, and index.html for
// every other path, which the app routes on the client.
func (h *Handler) Serve(ctx *fasthttp.RequestCtx) {
	hdr := &ctx.Response.Header
	hdr.Set("Content-Security-Policy", CSP)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "same-origin")
	if !ctx.IsGet() && !ctx.IsHead() {
		hdr.Set("Allow", "GET, HEAD")
		ctx.Error("method not allowed\n", fasthttp.StatusMethodNotAllowed)
		return
	}
	p := string(ctx.Path())
	if strings.HasPrefix(p, "/assets/") {
		a := h.assets[p]
		if a == nil {
			ctx.Error("not found\n", fasthttp.StatusNotFound)
			return
		}
		hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
		h.write(ctx, a)
		return
	}
	hdr.Set("Cache-Control", "no-cache")
	h.write(ctx, &h.index)
}

func (h *Handler) write(ctx *fasthttp.RequestCtx, a *asset) {
	hdr := &ctx.Response.Header
	hdr.SetContentType(a.contentType)
	hdr.Set("ETag", a.etag)
	hdr.Set("Vary", "Accept-Encoding")
	if inm := ctx.Request.Header.Peek("If-None-Match"); len(inm) > 0 && etagMatch(string(inm), a.etag) {
		ctx.SetStatusCode(fasthttp.StatusNotModified)
		return
	}
	body := a.body
	if a.gz != nil && ctx.Request.Header.HasAcceptEncoding("gzip") {
		hdr.Set("Content-Encoding", "gzip")
		body = a.gz
	}
	if ctx.IsHead() {
		ctx.Response.SkipBody = true
		hdr.SetContentLength(len(body))
		return
	}
	ctx.SetBody(body)
}

// etagMatch reports whether an If-None-Match list names etag (or is *).
func etagMatch(list, etag string) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}
