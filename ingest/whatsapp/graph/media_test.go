package graph_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/ingest/whatsapp/graph"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/sim"
)

// A file uploaded to a phone number's media store comes back, byte for byte, through Info's url and Download, with
// the type and digest Meta reports; the token of another number is refused at every step.
func TestUploadInfoDownload(t *testing.T) {
	s := startSim(t, sim.Config{Tokens: map[string]string{"100": "tok-100", "200": "tok-200"}})
	c := &graph.Client{BaseURL: s.URL() + "/v21.0", HTTP: &http.Client{Timeout: 10 * time.Second}}
	ctx := context.Background()
	data := bytes.Repeat([]byte("\x89PNG-ish "), 50_000) // 450 kB, many reads
	id, err := c.Upload(ctx, "100", "tok-100", bytes.NewReader(data), "photo.png", "image/png")
	if err != nil {
		t.Fatal(err)
	}
	stored, ok := s.Media(id)
	if !ok || !bytes.Equal(stored.Data, data) || stored.MIMEType != "image/png" || stored.Filename != "photo.png" || !stored.Uploaded {
		t.Fatalf("stored = %+v (%v), want the upload", stored.ID, ok)
	}
	info, err := c.Info(ctx, id, "tok-100")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if info.ID != id || info.MIMEType != "image/png" || info.FileSize != int64(len(data)) || info.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("info = %+v", info)
	}
	var got bytes.Buffer
	n, err := c.Download(ctx, info.URL, "tok-100", &got, int64(len(data)))
	if err != nil || n != int64(len(data)) || !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("download = %d bytes, %v; equal %v", n, err, bytes.Equal(got.Bytes(), data))
	}
	// A bound one byte short refuses it.
	if _, err := c.Download(ctx, info.URL, "tok-100", &bytes.Buffer{}, int64(len(data))-1); !errors.Is(err, graph.ErrTooLarge) {
		t.Errorf("download over the bound: %v, want ErrTooLarge", err)
	}
	// Another number's token.
	var ae *graph.Error
	if _, err := c.Info(ctx, id, "tok-200"); !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
		t.Errorf("info with another token: %v", err)
	}
	if _, err := c.Download(ctx, info.URL, "tok-200", &bytes.Buffer{}, 1<<20); !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
		t.Errorf("download with another token: %v", err)
	}
	if _, err := c.Upload(ctx, "100", "tok-200", strings.NewReader("x"), "x.txt", "text/plain"); !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
		t.Errorf("upload with another token: %v", err)
	}
	// An unknown id is NotFound.
	if _, err := c.Info(ctx, "999999", "tok-100"); !errors.As(err, &ae) || !ae.NotFound() {
		t.Errorf("unknown id: %v", err)
	}
	// The token goes to no plain-http host but the Graph API's: such a URL is not even requested.
	var asked atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		w.Write(data)
	}))
	defer other.Close()
	if _, err := c.Download(ctx, other.URL+"/media", "tok-100", &bytes.Buffer{}, 1<<20); !errors.Is(err, graph.ErrURLRefused) || asked.Load() != 0 {
		t.Errorf("download from another http host: %v, %d requests; want ErrURLRefused and none", err, asked.Load())
	}
}

// An upload larger than the simulator's 1 MiB body limit for messages streams through.
func TestUploadLargerThanMessageBodies(t *testing.T) {
	s := startSim(t, sim.Config{})
	c := &graph.Client{BaseURL: s.URL()}
	data := bytes.Repeat([]byte{7}, 3<<20)
	id, err := c.Upload(context.Background(), "100", "t", bytes.NewReader(data), "v.mp4", "video/mp4")
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := s.Media(id); !ok || m.Size != 3<<20 {
		t.Fatalf("stored %v %d", ok, m.Size)
	}
}
