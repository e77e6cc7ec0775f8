package sim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/meta"
)

// TestTemplateStatusWebhook: POST /sim/templates/{name}/status changes the listing and posts Meta's signed
// message_template_status_update, which the real webhook parser turns into the account's template change.
func TestTemplateStatusWebhook(t *testing.T) {
	cfg, err := tenant.Parse([]byte(`
tenants:
  - id: acme
    channels:
      - {id: acme-wa, type: whatsapp, phone_number_id: "100200300", app_secret: app-secret, verify_token: v, waba_id: "555"}
`))
	if err != nil {
		t.Fatal(err)
	}
	dir := tenant.NewDirectory(cfg)
	var mu sync.Mutex
	var got []inbox.Record
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get(meta.SignatureHeader) != meta.Sign("app-secret", body) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		recs, err := whatsapp.Parse(body, dir, time.Now())
		if err != nil {
			t.Errorf("parse %s: %v", body, err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, recs...)
		mu.Unlock()
	}))
	defer hook.Close()
	s := start(t, Config{WebhookURL: hook.URL, AppSecret: "app-secret"})

	status := func(name, body string) (int, string) {
		resp, err := http.Post(s.URL()+"/sim/templates/"+name+"/status", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// Before any listing no catalogue exists: name the account.
	if code, body := status("order_update", `{"language":"en_US","status":"PAUSED","reason":"LOW_QUALITY","waba":"555"}`); code != 200 || !strings.Contains(body, `"webhooks":[200]`) {
		t.Fatalf("status: %d %s", code, body)
	}
	mu.Lock()
	if len(got) != 1 || got[0].Tenant != "acme" || got[0].Items[0].Kind != inbox.KindTemplate {
		t.Fatalf("records %+v", got)
	}
	var v struct {
		Event    string `json:"event"`
		ID       int64  `json:"message_template_id"`
		Name     string `json:"message_template_name"`
		Language string `json:"message_template_language"`
		Reason   string `json:"reason"`
	}
	if err := json.Unmarshal(got[0].Items[0].Template.Value, &v); err != nil || v.Event != "PAUSED" ||
		v.ID != 1100000000000002 || v.Name != "order_update" || v.Language != "en_US" || v.Reason != "LOW_QUALITY" {
		t.Errorf("webhook value %s", got[0].Items[0].Template.Value)
	}
	mu.Unlock()
	for _, tp := range s.Templates("555") {
		if tp.Name == "order_update" && tp.Language == "en_US" && tp.Status != "PAUSED" {
			t.Errorf("listing says %s", tp.Status)
		}
	}
	if tp := s.Templates("556"); tp[1].Status != "APPROVED" {
		t.Error("another account's catalogue changed")
	}
	if code, _ := status("no_such_template", `{"language":"en_US","status":"PAUSED","waba":"555"}`); code != 404 {
		t.Errorf("unknown template: %d", code)
	}
	if code, _ := status("order_update", `{"status":"PAUSED"}`); code != 400 {
		t.Errorf("no language: %d", code)
	}
	// The listing answers in Meta's shape and pages.
	req, _ := http.NewRequest("GET", s.URL()+"/v21.0/555/message_templates?limit=5", nil)
	req.Header.Set("Authorization", "Bearer x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var page struct {
		Data   []SeedTemplate `json:"data"`
		Paging struct {
			Cursors struct{ After string } `json:"cursors"`
			Next    string                 `json:"next"`
		} `json:"paging"`
	}
	if err := json.Unmarshal(b, &page); err != nil || len(page.Data) != 5 || page.Paging.Next == "" || page.Paging.Cursors.After == "" {
		t.Errorf("first page: %s", b)
	}
	if !bytes.Contains(b, []byte(`"status":"PAUSED"`)) {
		t.Errorf("the listing does not show the paused template: %s", b)
	}
	req.Header.Del("Authorization")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("no token: %v %v", resp.StatusCode, err)
	}
}
