package node

// The node's side of attachments: api.Media over Meta's media endpoints (ingest/whatsapp/graph), a bounded on-disk
// cache of the media the console opens, and the fetching of operators' media links through a dialer that refuses
// private addresses.

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/api"
	"github.com/switchboard-hq/switchboard/api/egress"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/graph"
)

// DefaultMediaCacheBytes is the default of Config.MediaCacheBytes: 1 GiB.
const DefaultMediaCacheBytes = 1 << 30

// MediaConfig configures the node's media handling.
type MediaConfig struct {
	// GraphURL is the Graph API root with its version (the node's WhatsAppAPIURL). Required.
	GraphURL string
	// CacheDir holds the cache's files; it is emptied when the cache is built. Required.
	CacheDir string
	// CacheBytes bounds the bytes of the cached files; the least recently served go first. A media larger than it
	// is served without being kept. Default DefaultMediaCacheBytes.
	CacheBytes int64
	// AllowPrivate lets operators' media links reach private, loopback, link-local and unspecified addresses
	// (tests, a local demo). Default false: refused.
	AllowPrivate bool
	// Registerer receives the switchboard_media_* metrics. nil registers none.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// Media is api.Media for a node. It is safe for concurrent use.
type Media struct {
	cfg   MediaConfig
	graph *graph.Client // Meta's media endpoints
	links *http.Client  // operators' links, through the guarded dialer
	cache *mediaCache
	m     mediaMetrics
}

var _ api.Media = (*Media)(nil)

// NewMedia empties and prepares the cache directory and registers the metrics.
func NewMedia(cfg MediaConfig) (*Media, error) {
	if cfg.CacheBytes == 0 {
		cfg.CacheBytes = DefaultMediaCacheBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.GraphURL == "" || cfg.CacheDir == "" || cfg.CacheBytes < 0 {
		return nil, errors.New("media: GraphURL and CacheDir are required, CacheBytes must not be negative")
	}
	m := &Media{cfg: cfg, m: newMediaMetrics()}
	if cfg.Registerer != nil {
		if err := m.m.register(cfg.Registerer); err != nil {
			return nil, err
		}
	}
	cache, err := newMediaCache(cfg.CacheDir, cfg.CacheBytes, m.m)
	if err != nil {
		return nil, err
	}
	m.cache = cache
	m.graph = &graph.Client{BaseURL: cfg.GraphURL, HTTP: &http.Client{Timeout: 5 * time.Minute}}
	check := egress.Kind
	if cfg.AllowPrivate {
		check = nil
	}
	m.links = linkClient(check)
	return m, nil
}

// Upload implements api.Media.
func (m *Media) Upload(ctx context.Context, ch tenant.Channel, body io.Reader, size int64, mimeType, filename string) (string, error) {
	id, err := m.graph.Upload(ctx, ch.PhoneNumberID, ch.AccessToken, body, filename, mimeType)
	if err != nil {
		m.m.uploads.WithLabelValues("failed").Inc()
		return "", err
	}
	m.m.uploads.WithLabelValues("ok").Inc()
	m.m.uploadBytes.Add(float64(size))
	return id, nil
}

// Open implements api.Media: from the cache, or downloaded from Meta with the channel's token into it.
func (m *Media) Open(ctx context.Context, ch tenant.Channel, id string, admit func() bool) (api.MediaFile, error) {
	key := cacheKey(ch.PhoneNumberID, id)
	f, err := m.cache.open(key, admit, func(w io.Writer) (string, error) {
		info, err := m.graph.Info(ctx, id, ch.AccessToken)
		var ae *graph.Error
		if errors.As(err, &ae) && ae.NotFound() {
			return "", fmt.Errorf("media %s: %w", id, api.ErrNotFound)
		}
		if err != nil {
			return "", err
		}
		if info.FileSize > api.MaxMediaBytes {
			return "", fmt.Errorf("media %s of %d bytes: %w", id, info.FileSize, api.ErrMediaTooLarge)
		}
		_, err = m.graph.Download(ctx, info.URL, ch.AccessToken, w, api.MaxMediaBytes)
		return info.MIMEType, err
	})
	switch {
	case err != nil:
		m.m.serves.WithLabelValues("failed").Inc()
	case f.hit:
		m.m.serves.WithLabelValues("cache").Inc()
	default:
		m.m.serves.WithLabelValues("whatsapp").Inc()
	}
	if err != nil {
		return api.MediaFile{}, err
	}
	return api.MediaFile{Body: f.file, Size: f.size, MIMEType: f.mime}, nil
}

// Forget implements api.Media: the media's cached file is deleted. A download of it in progress is kept.
func (m *Media) Forget(ch tenant.Channel, id string) { m.cache.forget(cacheKey(ch.PhoneNumberID, id)) }

// Fetch implements api.Media: the link is fetched through the guarded dialer, redirects included.
func (m *Media) Fetch(ctx context.Context, link string, w io.Writer, max int64) error {
	err := m.fetch(ctx, link, w, max)
	switch {
	case err == nil:
		m.m.links.WithLabelValues("ok").Inc()
	case errors.Is(err, api.ErrLinkRefused):
		m.m.links.WithLabelValues("refused").Inc()
	case errors.Is(err, api.ErrMediaTooLarge):
		m.m.links.WithLabelValues("too_large").Inc()
	default:
		m.m.links.WithLabelValues("failed").Inc()
	}
	return err
}

func (m *Media) fetch(ctx context.Context, link string, w io.Writer, max int64) error {
	u, err := url.Parse(link)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: %q is not an http or https URL", api.ErrLinkRefused, link)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("%w: %v", api.ErrLinkRefused, err)
	}
	resp, err := m.links.Do(req)
	if err != nil {
		var re *egress.Refused
		if errors.As(err, &re) {
			return fmt.Errorf("%w: %s", api.ErrLinkRefused, re)
		}
		var ue *url.Error
		if errors.As(err, &ue) && errors.Is(ue.Err, errLinkScheme) {
			return fmt.Errorf("%w: a redirect left http and https", api.ErrLinkRefused)
		}
		return fmt.Errorf("fetch %s: %w", u.Host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", u.Host, resp.Status)
	}
	if resp.ContentLength > max {
		return fmt.Errorf("%d bytes: %w", resp.ContentLength, api.ErrMediaTooLarge)
	}
	n, err := io.Copy(w, io.LimitReader(resp.Body, max+1))
	if err != nil {
		return fmt.Errorf("fetch %s: %w", u.Host, err)
	}
	if n > max {
		return fmt.Errorf("over %d bytes: %w", max, api.ErrMediaTooLarge)
	}
	return nil
}

// errLinkScheme stops a redirect to a scheme other than http and https.
var errLinkScheme = errors.New("redirect to another scheme")

// maxLinkRedirects bounds the redirects a link may take.
const maxLinkRedirects = 5

// linkClient is the HTTP client of operators' links: every connection it dials, redirects' included, goes through
// a dialer that checks the resolved address with refuse (so a name that resolves to a private address is refused,
// whenever it is resolved; nil checks nothing), and it uses no proxy (a proxy's address would be the one checked).
func linkClient(refuse func(net.IP) string) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if refuse != nil {
		d.Control = egress.Control(refuse)
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		MaxIdleConns:          16,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{Transport: tr, Timeout: 2 * time.Minute, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxLinkRedirects {
			return fmt.Errorf("more than %d redirects", maxLinkRedirects)
		}
		if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
			return errLinkScheme
		}
		return nil
	}}
}

// cacheKey names a channel's media in the cache: media ids are Meta's, and each number reads its own.
func cacheKey(phone, id string) string {
	h := sha256.Sum256([]byte(phone + "\x00" + id))
	return hex.EncodeToString(h[:16])
}

// mediaCache is a bounded directory of media files, least recently served evicted first. Its index is in memory;
// the directory is emptied when the cache is built, so a restart starts it cold.
type mediaCache struct {
	dir string
	max int64
	m   mediaMetrics

	mu       sync.Mutex
	total    int64
	lru      *list.List // of *cacheEntry, most recent at the front
	entries  map[string]*list.Element
	inflight map[string]*fill
}

type cacheEntry struct {
	key  string
	size int64
	mime string
}

// fill is a download in progress that other requests for the same media wait for.
type fill struct {
	done chan struct{}
	err  error
}

// cachedFile is an open media file.
type cachedFile struct {
	file *os.File
	size int64
	mime string
	hit  bool
}

func newMediaCache(dir string, max int64, m mediaMetrics) (*mediaCache, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("media cache: empty %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("media cache: %w", err)
	}
	return &mediaCache{dir: dir, max: max, m: m, lru: list.New(), entries: map[string]*list.Element{},
		inflight: map[string]*fill{}}, nil
}

// open returns key's file from the cache, or writes it with download (which returns its MIME type) and keeps it,
// if admit (nil: always) lets it download; else the error wraps api.ErrMediaBusy. Concurrent opens of a key being
// downloaded wait for that download.
func (c *mediaCache) open(key string, admit func() bool, download func(io.Writer) (string, error)) (cachedFile, error) {
	for {
		c.mu.Lock()
		if el, ok := c.entries[key]; ok {
			e := el.Value.(*cacheEntry)
			c.lru.MoveToFront(el)
			c.mu.Unlock()
			f, err := os.Open(filepath.Join(c.dir, key))
			if err == nil {
				return cachedFile{file: f, size: e.size, mime: e.mime, hit: true}, nil
			}
			// Evicted between the lookup and the open: fetch it again.
			c.mu.Lock()
			if el2, ok := c.entries[key]; ok && el2 == el {
				c.remove(el)
			}
			c.mu.Unlock()
			continue
		}
		if fl, ok := c.inflight[key]; ok {
			c.mu.Unlock()
			<-fl.done
			if fl.err != nil {
				return cachedFile{}, fl.err
			}
			continue
		}
		if admit != nil && !admit() {
			c.mu.Unlock()
			return cachedFile{}, fmt.Errorf("media cache: %w", api.ErrMediaBusy)
		}
		fl := &fill{done: make(chan struct{})}
		c.inflight[key] = fl
		c.mu.Unlock()
		f, err := c.fill(key, download)
		c.mu.Lock()
		delete(c.inflight, key)
		c.mu.Unlock()
		fl.err = err
		close(fl.done)
		return f, err
	}
}

// fill downloads key into a temporary file, then moves it into the cache (evicting the least recently served
// files until it fits) or, larger than the whole cache, serves it unkept.
func (c *mediaCache) fill(key string, download func(io.Writer) (string, error)) (cachedFile, error) {
	tmp, err := os.CreateTemp(c.dir, "fill-*")
	if err != nil {
		return cachedFile{}, fmt.Errorf("media cache: %w", err)
	}
	mimeType, err := download(tmp)
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return cachedFile{}, err
	}
	size, err := tmp.Seek(0, io.SeekCurrent)
	if err == nil {
		_, err = tmp.Seek(0, io.SeekStart)
	}
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return cachedFile{}, fmt.Errorf("media cache: %w", err)
	}
	f := cachedFile{file: tmp, size: size, mime: mimeType}
	if size > c.max {
		os.Remove(tmp.Name()) // served from the open file, then gone
		return f, nil
	}
	if err := os.Rename(tmp.Name(), filepath.Join(c.dir, key)); err != nil {
		os.Remove(tmp.Name())
		return f, nil
	}
	c.mu.Lock()
	for c.total+size > c.max && c.lru.Len() > 0 {
		c.remove(c.lru.Back())
		c.m.evictions.Inc()
	}
	c.entries[key] = c.lru.PushFront(&cacheEntry{key: key, size: size, mime: mimeType})
	c.total += size
	c.m.cacheBytes.Set(float64(c.total))
	c.mu.Unlock()
	return f, nil
}

// remove drops an entry and its file; c.mu is held. A file open for serving stays readable until closed.
func (c *mediaCache) remove(el *list.Element) {
	e := c.lru.Remove(el).(*cacheEntry)
	delete(c.entries, e.key)
	c.total -= e.size
	c.m.cacheBytes.Set(float64(c.total))
	os.Remove(filepath.Join(c.dir, e.key))
}

// forget deletes key's file, if cached.
func (c *mediaCache) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		c.remove(el)
	}
}

// size is the bytes the cache holds.
func (c *mediaCache) size() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

type mediaMetrics struct {
	uploads     *prometheus.CounterVec
	uploadBytes prometheus.Counter
	serves      *prometheus.CounterVec
	links       *prometheus.CounterVec
	cacheBytes  prometheus.Gauge
	evictions   prometheus.Counter
}

func newMediaMetrics() mediaMetrics {
	m := mediaMetrics{
		uploads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_media_uploads_total",
			Help: "Files uploaded to WhatsApp's media store (operators' uploads and links), by result: ok or failed."}, []string{"result"}),
		uploadBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "switchboard_media_upload_bytes_total",
			Help: "Bytes of the files uploaded to WhatsApp's media store."}),
		serves: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_media_downloads_total",
			Help: "Media served by GET /v1/media/{id}, by source: cache (a hit), whatsapp (downloaded into the cache), failed."}, []string{"source"}),
		links: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_media_link_fetches_total",
			Help: "Operators' media links fetched, by result: ok, refused (a private address or another scheme), too_large, failed."}, []string{"result"}),
		cacheBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "switchboard_media_cache_bytes",
			Help: "Bytes of the media cache's files (bounded by --media-cache-bytes)."}),
		evictions: prometheus.NewCounter(prometheus.CounterOpts{Name: "switchboard_media_cache_evictions_total",
			Help: "Media files evicted from the cache to keep it within its bound."}),
	}
	for _, r := range []string{"ok", "failed"} {
		m.uploads.WithLabelValues(r)
	}
	for _, s := range []string{"cache", "whatsapp", "failed"} {
		m.serves.WithLabelValues(s)
	}
	for _, r := range []string{"ok", "refused", "too_large", "failed"} {
		m.links.WithLabelValues(r)
	}
	return m
}

func (m mediaMetrics) register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.uploads, m.uploadBytes, m.serves, m.links, m.cacheBytes, m.evictions} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
