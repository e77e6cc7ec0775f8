package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

func serve(t *testing.T, h *Handler, method, path string, hdr map[string]string) *fasthttp.Response {
	t.Helper()
	var ctx fasthttp.RequestCtx
	ctx.Request.Header.SetMethod(method)
	ctx.Request.SetRequestURI(path)
	for k, v := range hdr {
		ctx.Request.Header.Set(k, v)
	}
	h.Serve(&ctx)
	var r fasthttp.Response
	ctx.Response.CopyTo(&r)
	return &r
}

func newTestHandler(t *testing.T) *Handler {
	t.Helper()
	h, err := New()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// assetPath finds the hashed path of the bundle's JavaScript or CSS in index.html.
func assetPath(t *testing.T, h *Handler, ext string) string {
	t.Helper()
	m := regexp.MustCompile(`/assets/main-[A-Z0-9]+\` + ext).Find(h.index.body)
	if m == nil {
		t.Fatalf("index.html names no main-*%s:\n%s", ext, h.index.body)
	}
	if h.assets[string(m)] == nil {
		t.Fatalf("index.html names %s, which is not in dist/assets", m)
	}
	return string(m)
}

func TestIndexForEveryClientRoute(t *testing.T) {
	h := newTestHandler(t)
	for _, p := range []string{"/", "/mine", "/unassigned/c0123456789abcdefg", "/anything/else"} {
		r := serve(t, h, "GET", p, nil)
		if r.StatusCode() != 200 {
			t.Fatalf("GET %s: %d", p, r.StatusCode())
		}
		if ct := string(r.Header.ContentType()); ct != "text/html; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", p, ct)
		}
		if cc := string(r.Header.Peek("Cache-Control")); cc != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache", p, cc)
		}
		if !bytes.Contains(r.Body(), []byte(`<div id="app">`)) {
			t.Errorf("GET %s: not the console's page:\n%s", p, r.Body())
		}
		csp := string(r.Header.Peek("Content-Security-Policy"))
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "img-src 'self' data:"} {
			if !strings.Contains(csp, want) {
				t.Errorf("CSP %q lacks %q", csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") {
			t.Errorf("CSP allows inline code: %q", csp)
		}
		if v := string(r.Header.Peek("X-Content-Type-Options")); v != "nosniff" {
			t.Errorf("X-Content-Type-Options %q", v)
		}
	}
	// The page itself holds no inline script: the CSP would block it.
	if regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`).Match(h.index.body) {
		t.Errorf("index.html has an inline script:\n%s", h.index.body)
	}
}

func TestAssetsCachedCompressedAndTyped(t *testing.T) {
	h := newTestHandler(t)
	for ext, ct := range map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"} {
		p := assetPath(t, h, ext)
		plain := serve(t, h, "GET", p, nil)
		if plain.StatusCode() != 200 || string(plain.Header.ContentType()) != ct {
			t.Fatalf("GET %s: %d %q", p, plain.StatusCode(), plain.Header.ContentType())
		}
		if cc := string(plain.Header.Peek("Cache-Control")); cc != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s: Cache-Control %q", p, cc)
		}
		if len(plain.Header.Peek("Content-Encoding")) != 0 {
			t.Errorf("GET %s without Accept-Encoding came encoded", p)
		}
		etag := string(plain.Header.Peek("ETag"))
		if !regexp.MustCompile(`^"[A-Za-z0-9_-]{22}"$`).MatchString(etag) {
			t.Errorf("GET %s: ETag %q is not a strong content hash", p, etag)
		}
		gz := serve(t, h, "GET", p, map[string]string{"Accept-Encoding": "gzip, deflate, br"})
		if string(gz.Header.Peek("Content-Encoding")) != "gzip" || string(gz.Header.Peek("ETag")) != etag {
			t.Fatalf("GET %s with gzip: encoding %q etag %q", p, gz.Header.Peek("Content-Encoding"), gz.Header.Peek("ETag"))
		}
		zr, err := gzip.NewReader(bytes.NewReader(gz.Body()))
		if err != nil {
			t.Fatal(err)
		}
		unzipped, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(unzipped, plain.Body()) {
			t.Fatalf("GET %s: gzip body does not decode to the plain body (%v)", p, err)
		}
		if nm := serve(t, h, "GET", p, map[string]string{"If-None-Match": etag}); nm.StatusCode() != 304 || len(nm.Body()) != 0 {
			t.Errorf("GET %s If-None-Match: %d with %d bytes", p, nm.StatusCode(), len(nm.Body()))
		}
	}
	if r := serve(t, h, "GET", "/assets/main-NOPE.js", nil); r.StatusCode() != 404 {
		t.Errorf("unknown asset: %d, want 404", r.StatusCode())
	}
	if r := serve(t, h, "POST", "/", nil); r.StatusCode() != 405 {
		t.Errorf("POST /: %d, want 405", r.StatusCode())
	}
	if r := serve(t, h, "HEAD", assetPath(t, h, ".js"), nil); r.StatusCode() != 200 || len(r.Body()) != 0 {
		t.Errorf("HEAD: %d with %d bytes", r.StatusCode(), len(r.Body()))
	}
}

// TestJavaScriptBudget reports the gzipped size of the console's JavaScript and fails over the 150 KB.
func TestJavaScriptBudget(t *testing.T) {
	n := newTestHandler(t).GzipSize()
	t.Logf("console JavaScript: %d bytes gzipped", n)
	if n == 0 || n > 150*1024 {
		t.Fatalf("console JavaScript is %d bytes gzipped; the budget is 150 KB", n)
	}
}

// TestDistIsFresh rebuilds the console into a temporary directory and fails when web/dist differs: src/ or vendor/
// changed without `make web`.
func TestDistIsFresh(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the bundle")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to rebuild the console: %v", err)
	}
	out := t.TempDir()
	cmd := exec.Command(goBin, "run", "build.go", "-out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run build.go: %v\n%s", err, b)
	}
	built, committed := tree(t, os.DirFS(out)), tree(t, os.DirFS("dist"))
	for p, b := range built {
		c, ok := committed[p]
		switch {
		case !ok:
			t.Errorf("web/dist lacks %s: run make web and commit web/dist", p)
		case !bytes.Equal(b, c):
			t.Errorf("web/dist/%s is stale: run make web and commit web/dist", p)
		}
	}
	for p := range committed {
		if _, ok := built[p]; !ok {
			t.Errorf("web/dist/%s is no longer built: run make web and commit web/dist", p)
		}
	}
}

func tree(t *testing.T, fsys fs.FS) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, p)
		files[filepath.ToSlash(p)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
