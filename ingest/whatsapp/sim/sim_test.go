package sim

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/meta"
)

const (
	testPhone = "100200300"
	testPath  = "/v21.0/" + testPhone + "/messages"
)

var client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// start runs a simulator for the test and stops it at the end, failing the test if Run fails.
func start(t testing.TB, cfg Config) *Sim {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		s.Close()
	})
	return s
}

// answer is a decoded answer of the send endpoint.
type answer struct {
	status int
	raw    []byte
	ok     struct {
		MessagingProduct string `json:"messaging_product"`
		Contacts         []struct {
			Input string `json:"input"`
			WAID  string `json:"wa_id"`
		} `json:"contacts"`
		Messages []struct {
			ID            string `json:"id"`
			MessageStatus string `json:"message_status"`
		} `json:"messages"`
	}
	err struct {
		Error *struct {
			Message   string `json:"message"`
			Type      string `json:"type"`
			Code      int    `json:"code"`
			ErrorData struct {
				MessagingProduct string `json:"messaging_product"`
				Details          string `json:"details"`
			} `json:"error_data"`
			TraceID string `json:"fbtrace_id"`
		} `json:"error"`
	}
}

func (a answer) code() int {
	if a.err.Error == nil {
		return 0
	}
	return a.err.Error.Code
}

func (a answer) wamid() string {
	if len(a.ok.Messages) != 1 {
		return ""
	}
	return a.ok.Messages[0].ID
}

// do sends one request to the simulator. header holds pairs of header names and values.
func do(t testing.TB, s *Sim, method, path, auth, body string, header ...string) answer {
	t.Helper()
	a, err := try(s, method, path, auth, body, header...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// try is do for other goroutines than the test's: it returns what went wrong.
func try(s *Sim, method, path, auth, body string, header ...string) (answer, error) {
	var a answer
	req, err := http.NewRequest(method, s.URL()+path, strings.NewReader(body))
	if err != nil {
		return a, err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return a, err
	}
	defer resp.Body.Close()
	a.status = resp.StatusCode
	if a.raw, err = io.ReadAll(resp.Body); err != nil {
		return a, err
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		return a, fmt.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	if a.status == http.StatusOK {
		err = json.Unmarshal(a.raw, &a.ok)
	} else {
		err = json.Unmarshal(a.raw, &a.err)
	}
	if err != nil {
		return a, fmt.Errorf("%s %s: %d %s: %w", method, path, a.status, a.raw, err)
	}
	return a, nil
}

const textBody = `{"messaging_product":"whatsapp","to":"15551234567","type":"text","text":{"body":"hi"}}`

// sendText posts a text message to to with a valid token.
func sendText(t testing.TB, s *Sim, to string, header ...string) answer {
	t.Helper()
	return do(t, s, http.MethodPost, testPath, "Bearer t",
		`{"messaging_product":"whatsapp","to":"`+to+`","type":"text","text":{"body":"hi"}}`, header...)
}

// checkErrorShape checks Meta's error envelope.
func checkErrorShape(t *testing.T, a answer) {
	t.Helper()
	e := a.err.Error
	switch {
	case e == nil:
		t.Errorf("error answer without error object: %s", a.raw)
	case !strings.HasPrefix(e.Message, "(#"+strconv.Itoa(e.Code)+") ") || len(e.Message) < 8:
		t.Errorf("message %q does not start with (#%d) and a title", e.Message, e.Code)
	case e.Type == "":
		t.Errorf("no type: %s", a.raw)
	case e.ErrorData.MessagingProduct != "whatsapp" || e.ErrorData.Details == "":
		t.Errorf("error_data = %+v", e.ErrorData)
	case e.TraceID == "":
		t.Errorf("no fbtrace_id: %s", a.raw)
	}
}

// sendCase is one request of testdata/send_cases.json and the answer Meta gives it.
type sendCase struct {
	Name   string          `json:"name"`
	Method string          `json:"method"` // default POST
	Path   string          `json:"path"`   // default testPath
	Auth   *string         `json:"auth"`   // default "Bearer t"
	Body   json.RawMessage `json:"body"`
	Raw    *string         `json:"raw"` // the body as is, instead of Body
	Status int             `json:"status"`
	Code   int             `json:"code"`
	// ErrorType is the expected error type; default OAuthException.
	ErrorType string `json:"error_type"`
}

var repeatRE = regexp.MustCompile(`<<(.)\*(\d+)>>`)

// loadCases reads a case file; "<<c*N>>" in it stands for N times the character c.
func loadCases(t *testing.T, path string) []sendCase {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b = repeatRE.ReplaceAllFunc(b, func(m []byte) []byte {
		sub := repeatRE.FindSubmatch(m)
		n, _ := strconv.Atoi(string(sub[2]))
		return bytes.Repeat(sub[1], n)
	})
	var cases []sendCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

// Every validation rule, auth rule, path rule and deterministic permanent error, each with Meta's status and code,
// from a data file. Only the 200s are recorded.
func TestSendCases(t *testing.T) {
	s := start(t, Config{Rate: 100_000})
	cases := loadCases(t, "testdata/send_cases.json")
	wantAccepted, wantRejected := 0, map[int]int64{}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			method, path, auth, body := http.MethodPost, testPath, "Bearer t", string(c.Body)
			if c.Method != "" {
				method = c.Method
			}
			if c.Path != "" {
				path = c.Path
			}
			if c.Auth != nil {
				auth = *c.Auth
			}
			if c.Raw != nil {
				body = *c.Raw
			}
			a := do(t, s, method, path, auth, body)
			if a.status != c.Status || a.code() != c.Code {
				t.Fatalf("answer %d code %d, want %d code %d: %s", a.status, a.code(), c.Status, c.Code, a.raw)
			}
			if c.Status == http.StatusOK {
				if a.wamid() == "" {
					t.Errorf("no wamid: %s", a.raw)
				}
				return
			}
			checkErrorShape(t, a)
			want := c.ErrorType
			if want == "" {
				want = "OAuthException"
			}
			if a.err.Error.Type != want {
				t.Errorf("error type %q, want %q", a.err.Error.Type, want)
			}
		})
		if c.Status == http.StatusOK {
			wantAccepted++
		} else {
			wantRejected[c.Code]++
		}
	}
	st := s.Stats()
	if st.Accepted != int64(wantAccepted) || st.Recorded != wantAccepted || len(s.Messages()) != wantAccepted {
		t.Errorf("accepted %d, recorded %d, want %d", st.Accepted, st.Recorded, wantAccepted)
	}
	if !equalCounts(st.Rejected, wantRejected) {
		t.Errorf("rejected %v, want %v", st.Rejected, wantRejected)
	}
	if st.Requests != int64(len(cases)) {
		t.Errorf("requests %d, want %d", st.Requests, len(cases))
	}
}

func equalCounts(a, b map[int]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// The success answer is exactly Meta's shape, with a wamid never given before.
func TestSuccessShape(t *testing.T) {
	s := start(t, Config{Rate: 100_000})
	seen := map[string]bool{}
	for i := range 50 {
		to := "1555000" + strconv.Itoa(1000+i)
		a := sendText(t, s, to)
		if a.status != http.StatusOK {
			t.Fatalf("answer %d: %s", a.status, a.raw)
		}
		want := `{"messaging_product":"whatsapp","contacts":[{"input":"` + to + `","wa_id":"` + to +
			`"}],"messages":[{"id":"` + a.wamid() + `"}]}`
		if string(a.raw) != want {
			t.Fatalf("body\n%s\nwant\n%s", a.raw, want)
		}
		if !strings.HasPrefix(a.wamid(), "wamid.") || seen[a.wamid()] {
			t.Fatalf("wamid %q: not wamid.… or given twice", a.wamid())
		}
		// As Meta's, the wamid carries the customer's number (an erase must drop wamids too).
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(a.wamid(), "wamid."))
		if err != nil || !bytes.HasPrefix(raw, append([]byte{0x1c, 0x18, byte(len(to))}, to...)) {
			t.Fatalf("wamid %q decodes to %q (%v): want Meta's record naming %s", a.wamid(), raw, err, to)
		}
		seen[a.wamid()] = true
	}
	a := do(t, s, http.MethodPost, testPath, "Bearer t",
		`{"messaging_product":"whatsapp","to":"15551234567","type":"template","template":{"name":"t","language":{"code":"en"}}}`)
	if a.ok.Messages[0].MessageStatus != "accepted" || a.ok.MessagingProduct != "whatsapp" {
		t.Errorf("template answer %s: want message_status accepted", a.raw)
	}
	// Two simulators never answer the same wamid.
	s2 := start(t, Config{})
	if w := sendText(t, s2, "15551234567").wamid(); seen[w] {
		t.Errorf("second simulator answered wamid %s again", w)
	}
}

// With Tokens, only the configured numbers are served, each with its own token.
func TestTokens(t *testing.T) {
	s := start(t, Config{Tokens: map[string]string{testPhone: "secret-a", "42": "secret-b"}})
	body := `{"messaging_product":"whatsapp","to":"15551234567","text":{"body":"hi"}}`
	for _, c := range []struct {
		path, auth   string
		status, code int
	}{
		{testPath, "Bearer secret-a", 200, 0},
		{"/v21.0/42/messages", "Bearer secret-b", 200, 0},
		{testPath, "Bearer secret-b", 401, CodeAccessToken},
		{testPath, "", 401, CodeAccessToken},
		{"/v21.0/43/messages", "Bearer secret-a", 400, CodeInvalidParameter},
	} {
		a := do(t, s, http.MethodPost, c.path, c.auth, body)
		if a.status != c.status || a.code() != c.code {
			t.Errorf("%s with %q: %d code %d, want %d code %d", c.path, c.auth, a.status, a.code(), c.status, c.code)
		}
	}
}

// Latency delays every answer, valid or not, by the configured time on the simulator's clock: the request waits for
// exactly Latency and is answered only once that much time has passed.
func TestLatency(t *testing.T) {
	const latency = 80 * time.Millisecond
	clk := newManualClock()
	s := start(t, Config{Latency: latency, clock: clk})
	for i, body := range []string{"{}", `{"messaging_product":"whatsapp","to":"15551234567","text":{"body":"hi"}}`} {
		answered := make(chan answer, 1)
		go func() {
			a, err := try(s, http.MethodPost, testPath, "Bearer t", body)
			if err != nil {
				t.Error(err)
			}
			answered <- a
		}()
		eventually.True(t, 20*time.Second, time.Millisecond, func() bool { return len(clk.Waiting()) == 1 },
			"request %d waiting", i)
		if w := clk.Waiting(); w[0] != latency {
			t.Errorf("request %d waits %v, want %v", i, w[0], latency)
		}
		clk.Advance(latency - time.Nanosecond)
		select {
		case a := <-answered:
			t.Fatalf("request %d answered %d before Latency passed", i, a.status)
		default:
		}
		if len(clk.Waiting()) != 1 {
			t.Fatalf("request %d released before Latency passed", i)
		}
		clk.Advance(time.Nanosecond)
		if a := <-answered; a.status == 0 {
			t.Fatalf("request %d not answered", i)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{
		{Rate: -1},
		{Burst: -1},
		{Latency: -time.Second},
		{StatusDelay: -time.Second},
		{MaxRecorded: -1},
		{Fail: FailConfig{Rate429: 1.5}},
		{Fail: FailConfig{Rate5xx: -0.1}},
		{Fail: FailConfig{Rate429: 0.5, Rate5xx: 0.4, RatePermanent: 0.2}},
		{Fail: FailConfig{PermanentAsync: true}},
		{WebhookURL: "localhost:1/x", AppSecret: "s"},
		{WebhookURL: "http://127.0.0.1:1/x"},
		{Tokens: map[string]string{"abc": "t"}},
		{Tokens: map[string]string{"1": ""}},
	} {
		if s, err := New(c); !errors.Is(err, ErrInvalidConfig) {
			if s != nil {
				s.Close()
			}
			t.Errorf("New(%+v) = %v, want ErrInvalidConfig", c, err)
		}
	}
}

// Close is idempotent, ends Run, and a closed simulator does not run again.
func TestCloseAndRun(t *testing.T) {
	s, err := New(Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	sendText(t, s, "15551234567")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background()); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run = %v, want ErrRunning", err)
	}
	if _, err := http.Get(s.URL() + "/sim/stats"); err == nil {
		t.Error("closed simulator still answers")
	}

	s2, err := New(Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
	if err := s2.Run(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close = %v, want ErrClosed", err)
	}
}

// receiver is a webhook endpoint for the tests: it verifies X-Hub-Signature-256 with meta.Sign and keeps the
// statuses and messages of the payloads it accepted.
type receiver struct {
	t      testing.TB
	secret string
	url    string
	// answer, when set, gives the status to answer the n-th (0-based) correctly signed request with.
	answer func(n int) int
	// hold, when set, keeps every request waiting until it is closed.
	hold chan struct{}

	mu       sync.Mutex
	requests int
	badSig   int
	statuses []gotStatus
	messages []gotMessage
}

type gotStatus struct {
	Phone, ID, RecipientID, Status string
	Code                           int
	At                             time.Time
}

type gotMessage struct {
	Phone, ID, From, Text string
	At                    time.Time
}

func newReceiver(t testing.TB, secret string) *receiver {
	r := &receiver{t: t, secret: secret}
	srv := httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(srv.Close)
	r.url = srv.URL + "/webhooks/whatsapp"
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	if r.hold != nil {
		<-r.hold
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if req.Header.Get(meta.SignatureHeader) != meta.Sign(r.secret, body) {
		r.badSig++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	n := r.requests
	r.requests++
	if r.answer != nil {
		if code := r.answer(n); code != http.StatusOK {
			w.WriteHeader(code)
			return
		}
	}
	var p struct {
		Object string `json:"object"`
		Entry  []struct {
			Changes []struct {
				Value struct {
					Metadata struct {
						PhoneNumberID string `json:"phone_number_id"`
					} `json:"metadata"`
					Statuses []struct {
						ID          string `json:"id"`
						RecipientID string `json:"recipient_id"`
						Status      string `json:"status"`
						Errors      []struct {
							Code int `json:"code"`
						} `json:"errors"`
					} `json:"statuses"`
					Messages []struct {
						ID   string `json:"id"`
						From string `json:"from"`
						Text struct {
							Body string `json:"body"`
						} `json:"text"`
					} `json:"messages"`
				} `json:"value"`
			} `json:"changes"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(body, &p); err != nil || p.Object != "whatsapp_business_account" {
		r.t.Errorf("webhook payload %s: %v", body, err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	now := time.Now()
	for _, e := range p.Entry {
		for _, c := range e.Changes {
			v := c.Value
			for _, s := range v.Statuses {
				g := gotStatus{Phone: v.Metadata.PhoneNumberID, ID: s.ID, RecipientID: s.RecipientID, Status: s.Status, At: now}
				if len(s.Errors) > 0 {
					g.Code = s.Errors[0].Code
				}
				r.statuses = append(r.statuses, g)
			}
			for _, m := range v.Messages {
				r.messages = append(r.messages, gotMessage{Phone: v.Metadata.PhoneNumberID, ID: m.ID, From: m.From,
					Text: m.Text.Body, At: now})
			}
		}
	}
}

func (r *receiver) gotStatuses() []gotStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]gotStatus(nil), r.statuses...)
}

func (r *receiver) gotMessages() []gotMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]gotMessage(nil), r.messages...)
}

// A body over MaxBodyBytes is refused by fasthttp before the handler, still in Meta's shape. The request is written
// by hand: it announces the size and the server answers without reading the body.
func TestBodyTooLarge(t *testing.T) {
	s := start(t, Config{})
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: sim\r\nAuthorization: Bearer t\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\n\r\n{", testPath, MaxBodyBytes+1)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode}
	if a.raw, err = io.ReadAll(resp.Body); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(a.raw, &a.err); err != nil {
		t.Fatalf("%s: %v", a.raw, err)
	}
	if a.status != http.StatusRequestEntityTooLarge || a.code() != CodeInvalidParameter {
		t.Fatalf("answer %d code %d: %s", a.status, a.code(), a.raw)
	}
	checkErrorShape(t, a)
	if st := s.Stats(); st.Requests != 1 || st.Rejected[CodeInvalidParameter] != 1 {
		t.Errorf("stats %+v", st)
	}
}

// Stopping answers the request being handled (cutting its Latency short) and does not wait for connections that
// never sent a request: had it waited, it would have closed them only after shutdownTimeout, and said so.
func TestStopWithSilentConnection(t *testing.T) {
	var logs bytes.Buffer // slog's handler serialises its writes; read once Run has returned
	s, err := New(Config{Latency: time.Minute, clock: newManualClock(),
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	inflight := make(chan answer, 1)
	go func() {
		a, err := try(s, http.MethodPost, testPath, "Bearer t", textBody)
		if err != nil {
			t.Error(err)
		}
		inflight <- a
	}()
	eventually.True(t, 20*time.Second, 5*time.Millisecond, func() bool { return s.Stats().Requests == 1 },
		"a request in flight")
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	eventually.True(t, 20*time.Second, 5*time.Millisecond, func() bool {
		s.connMu.Lock()
		defer s.connMu.Unlock()
		return len(s.conns) == 2
	}, "the silent connection accepted")
	s.Close()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	if logs.Len() != 0 {
		t.Errorf("it waited for the silent connection until shutdownTimeout: %s", logs.String())
	}
	if a := <-inflight; a.status != http.StatusOK || a.wamid() == "" {
		t.Errorf("request in flight at the stop: %d %s", a.status, a.raw)
	}
}

// OnAccepted sees every accepted message, with the wamid it was answered with, and no refused one.
func TestOnAccepted(t *testing.T) {
	var mu sync.Mutex
	var seen []Received
	s := start(t, Config{MaxRecorded: 1, OnAccepted: func(r *Received) {
		mu.Lock()
		seen = append(seen, *r)
		mu.Unlock()
	}})
	a := sendText(t, s, "27000000001", "Idempotency-Key", "k1")
	b := sendText(t, s, "27000000002")
	if bad := do(t, s, "POST", testPath, "Bearer wrong-token", `{"messaging_product":"whatsapp","to":"1","type":"text","text":{"body":"x"}}`); bad.code() == 0 {
		t.Fatal("a bad token was accepted")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0].WAMID != a.wamid() || seen[1].WAMID != b.wamid() || seen[0].IdempotencyKey != "k1" ||
		seen[0].To != "27000000001" || seen[0].ReceivedAt.IsZero() {
		t.Fatalf("OnAccepted saw %+v", seen)
	}
	if st := s.Stats(); st.Accepted != 2 || st.Recorded != 1 {
		t.Errorf("stats %+v: want 2 accepted, 1 recorded", st)
	}
}
