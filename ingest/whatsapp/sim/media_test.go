package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/switchboard-hq/switchboard/ingest/whatsapp/meta"
)

// A customer's media message: the file is stored under a new id and the signed webhook names that id, its type and
// digest, so the receiver can download what the customer sent.
func TestSendCustomerMedia(t *testing.T) {
	var got []byte
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Header.Get(meta.SignatureHeader) != meta.Sign("secret", b) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		got = b
	}))
	defer rcv.Close()
	s := start(t, Config{WebhookURL: rcv.URL, AppSecret: "secret"})
	png := []byte("\x89PNG\r\n\x1a\n fake")
	id, wamid, err := s.SendCustomerMedia(context.Background(), CustomerMedia{PhoneNumberID: "100", From: "15550001111",
		MIMEType: "image/png", Data: png, Caption: "my receipt"})
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Entry []struct {
			Changes []struct {
				Value struct {
					Messages []struct {
						ID    string `json:"id"`
						Type  string `json:"type"`
						Image struct {
							ID       string `json:"id"`
							MIMEType string `json:"mime_type"`
							Caption  string `json:"caption"`
						} `json:"image"`
					} `json:"messages"`
				} `json:"value"`
			} `json:"changes"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(got, &p); err != nil {
		t.Fatalf("%v in %s", err, got)
	}
	m := p.Entry[0].Changes[0].Value.Messages[0]
	if m.ID != wamid || m.Type != "image" || m.Image.ID != id || m.Image.MIMEType != "image/png" || m.Image.Caption != "my receipt" {
		t.Errorf("webhook message = %+v, want image %s", m, id)
	}
	a := do(t, s, http.MethodGet, "/v21.0/"+id, "Bearer any", "")
	var info struct {
		URL string `json:"url"`
	}
	if a.status != 200 || json.Unmarshal(a.raw, &info) != nil || info.URL != s.URL()+"/sim/media/"+id {
		t.Fatalf("GET /%s = %d %s", id, a.status, a.raw)
	}
	req, _ := http.NewRequest(http.MethodGet, info.URL, nil)
	req.Header.Set("Authorization", "Bearer any")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(b, png) || resp.Header.Get("Content-Type") != "image/png" {
		t.Errorf("GET media bytes = %d %q %s", resp.StatusCode, b, resp.Header.Get("Content-Type"))
	}
	if c := do(t, s, http.MethodGet, "/sim/media/"+id, "", ""); c.status != http.StatusUnauthorized {
		t.Errorf("without a token = %d", c.status)
	}
}

// The store keeps at most MaxMediaBytes: the oldest files go first.
func TestMediaStoreBound(t *testing.T) {
	s := start(t, Config{MaxMediaBytes: 25})
	first := s.storeMedia("1", "text/plain", "", make([]byte, 10), true)
	second := s.storeMedia("1", "text/plain", "", make([]byte, 10), true)
	third := s.storeMedia("1", "text/plain", "", make([]byte, 10), true)
	if _, ok := s.Media(first.ID); ok {
		t.Error("the oldest file is still stored past the bound")
	}
	for _, f := range []*StoredMedia{second, third} {
		if _, ok := s.Media(f.ID); !ok {
			t.Errorf("file %s forgotten", f.ID)
		}
	}
	if s.media.total != 20 {
		t.Errorf("total = %d, want 20", s.media.total)
	}
}

// POST /sim/customers/media plays a customer sending the body as a file, for demos and scripts.
func TestCustomerMediaHTTP(t *testing.T) {
	got := make(chan []byte, 1)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- b
	}))
	defer rcv.Close()
	s := start(t, Config{WebhookURL: rcv.URL, AppSecret: "secret"})
	pdf := []byte("%PDF-1.4 a small file")
	resp, err := client.Post(s.URL()+"/sim/customers/media?phone_number_id=100&from=15550001111&type=document&filename=a.pdf",
		"application/pdf", bytes.NewReader(pdf))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		MediaID string `json:"media_id"`
		WAMID   string `json:"wamid"`
	}
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != 200 || out.MediaID == "" || out.WAMID == "" {
		t.Fatalf("POST /sim/customers/media = %d %+v", resp.StatusCode, out)
	}
	if m, ok := s.Media(out.MediaID); !ok || !bytes.Equal(m.Data, pdf) || m.MIMEType != "application/pdf" || m.Uploaded {
		t.Errorf("stored %+v %v", m.ID, ok)
	}
	if b := <-got; !bytes.Contains(b, []byte(`"filename":"a.pdf"`)) || !bytes.Contains(b, []byte(out.MediaID)) {
		t.Errorf("webhook %s", b)
	}
	bad, err := client.Post(s.URL()+"/sim/customers/media?phone_number_id=100&from=x", "image/png", bytes.NewReader(pdf))
	if err != nil {
		t.Fatal(err)
	}
	bad.Body.Close()
	if bad.StatusCode != http.StatusBadRequest {
		t.Errorf("a bad customer = %d, want 400", bad.StatusCode)
	}
}
