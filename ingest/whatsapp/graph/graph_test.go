package graph_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/ingest/whatsapp/graph"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/sim"
)

func startSim(t *testing.T, cfg sim.Config) *sim.Sim {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	s, err := sim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return s
}

// TestTemplatesPages lists the simulator's catalogue three templates a page: every template comes back once, in
// order, as Meta's objects.
func TestTemplatesPages(t *testing.T) {
	s := startSim(t, sim.Config{Tokens: map[string]string{"100200300": "tok"}})
	c := &graph.Client{BaseURL: s.URL() + "/v21.0", HTTP: &http.Client{Timeout: 10 * time.Second}, PageSize: 3}
	got, err := c.Templates(context.Background(), "555", "tok")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(sim.SeedTemplates) {
		t.Fatalf("%d templates, want %d", len(got), len(sim.SeedTemplates))
	}
	for i, raw := range got {
		var o struct {
			ID, Name, Language, Status, Category string
			Components                           []json.RawMessage
		}
		if err := json.Unmarshal(raw, &o); err != nil {
			t.Fatal(err)
		}
		w := sim.SeedTemplates[i]
		if o.ID != w.ID || o.Name != w.Name || o.Language != w.Language || o.Status != w.Status || len(o.Components) != len(w.Components) {
			t.Errorf("template %d = %+v, want %s/%s", i, o, w.Name, w.Language)
		}
	}
	_, err = c.Templates(context.Background(), "555", "wrong")
	var ge *graph.Error
	if !errors.As(err, &ge) || ge.Status != 401 || ge.Code != 190 {
		t.Errorf("a wrong token: %v, want Meta's 401 code 190", err)
	}
	if _, err := c.Templates(context.Background(), "../x", "tok"); err == nil {
		t.Error("an account id with a path in it was requested")
	}
}

// TestTemplatesPagingLoop: a server whose cursor never ends is cut off after MaxTemplatePages pages.
func TestTemplatesPagingLoop(t *testing.T) {
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data":[{"name":"a","language":"en"}],"paging":{"cursors":{"after":"c` + string(rune('a'+n%20)) + `"},"next":"x"}}`))
	}))
	defer srv.Close()
	c := &graph.Client{BaseURL: srv.URL}
	if _, err := c.Templates(context.Background(), "1", "t"); !errors.Is(err, graph.ErrPaging) || n != graph.MaxTemplatePages {
		t.Errorf("err %v after %d pages, want ErrPaging after %d", err, n, graph.MaxTemplatePages)
	}
}
