package node

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/api"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/sim"
)

func newTestMedia(t *testing.T, graphURL string, allowPrivate bool, cacheBytes int64) *Media {
	t.Helper()
	m, err := NewMedia(MediaConfig{GraphURL: graphURL, CacheDir: t.TempDir() + "/cache", CacheBytes: cacheBytes,
		AllowPrivate: allowPrivate, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Without AllowPrivate a link to loopback is refused at dial time, by address or by a name resolving to it, and so
// is one that redirects to a refused address; other schemes are refused before any dial. With it, the link is
// fetched, within its bound.
func TestFetchLinks(t *testing.T) {
	var hits atomic.Int64
	file := bytes.Repeat([]byte("%PDF-1.4 "), 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write(file)
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	guarded := newTestMedia(t, "http://graph.invalid", false, 1<<20)
	for _, link := range []string{srv.URL + "/a.pdf", "http://localhost:" + port + "/a.pdf", "http://[::ffff:127.0.0.1]:" + port + "/a.pdf"} {
		err := guarded.Fetch(context.Background(), link, io.Discard, 1<<20)
		if !errors.Is(err, api.ErrLinkRefused) {
			t.Errorf("Fetch(%s) without AllowPrivate = %v, want ErrLinkRefused", link, err)
		}
	}
	for _, link := range []string{"file:///etc/passwd", "ftp://example.com/a", "gopher://x", "not a url"} {
		if err := guarded.Fetch(context.Background(), link, io.Discard, 1<<20); !errors.Is(err, api.ErrLinkRefused) {
			t.Errorf("Fetch(%s) = %v, want ErrLinkRefused", link, err)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("the loopback server was reached %d times", hits.Load())
	}

	open := newTestMedia(t, "http://graph.invalid", true, 1<<20)
	var got bytes.Buffer
	if err := open.Fetch(context.Background(), srv.URL+"/a.pdf", &got, 1<<20); err != nil || !bytes.Equal(got.Bytes(), file) {
		t.Fatalf("Fetch with AllowPrivate = %v, %d bytes", err, got.Len())
	}
	if err := open.Fetch(context.Background(), srv.URL+"/a.pdf", io.Discard, int64(len(file))-1); !errors.Is(err, api.ErrMediaTooLarge) {
		t.Errorf("Fetch over the bound = %v, want ErrMediaTooLarge", err)
	}
}

// The dialer checks every connection a link makes, a redirect's too: a first hop allowed and a redirect to an
// address refused is refused. (127.0.0.2 stands for the refused address: a test has no public one.)
func TestFetchRedirectChecked(t *testing.T) {
	var reached atomic.Int64
	target, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2 here: %v", err)
	}
	hidden := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Add(1) })}
	go hidden.Serve(target)
	defer hidden.Close()
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://"+target.Addr().String()+"/secret", http.StatusFound)
	}))
	defer front.Close()
	m := newTestMedia(t, "http://graph.invalid", true, 1<<20)
	m.links = linkClient(func(ip net.IP) string {
		if ip.Equal(net.ParseIP("127.0.0.2")) {
			return "refused-for-the-test"
		}
		return ""
	})
	err = m.Fetch(context.Background(), front.URL+"/a", io.Discard, 1<<20)
	if !errors.Is(err, api.ErrLinkRefused) || !strings.Contains(err.Error(), "127.0.0.2") {
		t.Errorf("redirect to a refused address = %v, want ErrLinkRefused naming it", err)
	}
	if reached.Load() != 0 {
		t.Errorf("the refused address was reached")
	}
	// A redirect to another scheme.
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
	}))
	defer other.Close()
	if err := m.Fetch(context.Background(), other.URL, io.Discard, 1<<20); !errors.Is(err, api.ErrLinkRefused) {
		t.Errorf("redirect to file: = %v, want ErrLinkRefused", err)
	}
}

// The cache keeps at most its bound, evicting the least recently served; a file larger than the whole cache is
// served and not kept; concurrent opens of one media download it once.
func TestMediaCacheBound(t *testing.T) {
	c, err := newMediaCache(t.TempDir()+"/c", 25, newMediaMetrics())
	if err != nil {
		t.Fatal(err)
	}
	downloads := map[string]int{}
	var mu sync.Mutex
	open := func(key string, size int) cachedFile {
		t.Helper()
		f, err := c.open(key, nil, func(w io.Writer) (string, error) {
			mu.Lock()
			downloads[key]++
			mu.Unlock()
			_, err := w.Write(bytes.Repeat([]byte(key[:1]), size))
			return "text/plain", err
		})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(f.file)
		f.file.Close()
		if len(b) != size || int(f.size) != size || f.mime != "text/plain" {
			t.Fatalf("open %s = %d bytes (size %d, %s), want %d", key, len(b), f.size, f.mime, size)
		}
		return f
	}
	open("a", 10)
	open("b", 10)
	if f := open("a", 10); !f.hit { // a is now the most recent
		t.Error("a second open of a is not a hit")
	}
	open("c", 10) // 30 > 25: b, the least recent, goes
	if c.size() > 25 {
		t.Errorf("cache holds %d bytes, over its bound of 25", c.size())
	}
	if f := open("a", 10); !f.hit {
		t.Error("a was evicted instead of b")
	}
	if f := open("b", 10); f.hit || downloads["b"] != 2 {
		t.Errorf("b: hit %v after its eviction, downloads %d", f.hit, downloads["b"])
	}
	if f := open("huge", 40); f.hit {
		t.Error("a file over the bound was a hit")
	}
	if f := open("huge", 40); f.hit || downloads["huge"] != 2 {
		t.Errorf("a file over the bound was kept (downloads %d)", downloads["huge"])
	}
	entries, _ := os.ReadDir(c.dir)
	var onDisk int64
	for _, e := range entries {
		info, _ := e.Info()
		onDisk += info.Size()
	}
	if onDisk > 25 || onDisk != c.size() {
		t.Errorf("%d bytes on disk, index says %d, bound 25", onDisk, c.size())
	}

	// Concurrent opens of one media: one download.
	var wg sync.WaitGroup
	release := make(chan struct{})
	var started atomic.Int64
	for i := 0; i < 8; i++ {
		wg.Go(func() {
			f, err := c.open("d", nil, func(w io.Writer) (string, error) {
				started.Add(1)
				<-release
				_, err := w.Write([]byte("dddd"))
				return "text/plain", err
			})
			if err == nil {
				f.file.Close()
			}
		})
	}
	for started.Load() == 0 {
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	if started.Load() != 1 {
		t.Errorf("%d downloads of one media opened 8 times at once, want 1", started.Load())
	}
}

// Through the simulator: an upload is served back from Meta on the first open and from the cache on the next; an
// id Meta does not know is ErrNotFound; a download needs admit's leave, a cache hit does not; Forget drops the
// cached file.
func TestMediaWithSimulator(t *testing.T) {
	s, err := sim.New(sim.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	m := newTestMedia(t, s.URL()+"/v21.0", false, 1<<20)
	ch := tenant.Channel{ID: "wa", PhoneNumberID: "100", AccessToken: "tok"}
	data := []byte("\x89PNG\r\n\x1a\nimage bytes")
	id, err := m.Upload(context.Background(), ch, bytes.NewReader(data), int64(len(data)), "image/png", "p.png")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{1, 1} {
		f, err := m.Open(context.Background(), ch, id, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(f.Body)
		f.Body.Close()
		if !bytes.Equal(b, data) || f.MIMEType != "image/png" || f.Size != int64(len(data)) {
			t.Errorf("open %d = %q %s %d", i, b, f.MIMEType, f.Size)
		}
		source := map[int]string{0: "whatsapp", 1: "cache"}[i]
		if got := counterValue(t, m.m.serves.WithLabelValues(source)); got != want {
			t.Errorf("open %d: %s serves = %v, want %v", i, source, got, want)
		}
	}
	if _, err := m.Open(context.Background(), ch, "4242", nil); !errors.Is(err, api.ErrNotFound) {
		t.Errorf("unknown id: %v, want ErrNotFound", err)
	}

	// A cached media is served without a transfer place; one to download is not downloaded without one.
	refuse := func() bool { return false }
	f, err := m.Open(context.Background(), ch, id, refuse)
	if err != nil {
		t.Fatalf("a cached media refused without a transfer place: %v", err)
	}
	f.Body.Close()
	// Forget (an erase) drops it from the cache: the next open must download it again.
	m.Forget(ch, id)
	if _, err := m.Open(context.Background(), ch, id, refuse); !errors.Is(err, api.ErrMediaBusy) {
		t.Fatalf("open after Forget without a transfer place: %v, want ErrMediaBusy (a download)", err)
	}
	if entries, _ := os.ReadDir(m.cache.dir); len(entries) != 0 || m.cache.size() != 0 {
		t.Errorf("after Forget the cache holds %d files, %d bytes", len(entries), m.cache.size())
	}
	f, err = m.Open(context.Background(), ch, id, func() bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	f.Body.Close()
	if got := counterValue(t, m.m.serves.WithLabelValues("whatsapp")); got != 2 {
		t.Errorf("whatsapp serves after Forget = %v, want 2", got)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	return testutil.ToFloat64(c)
}
