package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/cmd/flagenv"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/meta"
)

const testPath = "/v21.0/100200300/messages"

var client = &http.Client{Timeout: 30 * time.Second}

// receiver is a webhook endpoint on loopback that counts the customer messages and statuses of the payloads
// correctly signed with its secret.
type receiver struct {
	url                string
	mu                 sync.Mutex
	messages, statuses int
}

func newReceiver(t *testing.T, secret string) *receiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{url: "http://" + ln.Addr().String() + "/webhooks/whatsapp"}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if req.Header.Get(meta.SignatureHeader) != meta.Sign(secret, body) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var p struct {
			Entry []struct {
				Changes []struct {
					Value struct {
						Messages []json.RawMessage `json:"messages"`
						Statuses []json.RawMessage `json:"statuses"`
					} `json:"value"`
				} `json:"changes"`
			} `json:"entry"`
		}
		if json.Unmarshal(body, &p) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		for _, e := range p.Entry {
			for _, c := range e.Changes {
				r.messages += len(c.Value.Messages)
				r.statuses += len(c.Value.Statuses)
			}
		}
		r.mu.Unlock()
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return r
}

func (r *receiver) counts() (messages, statuses int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.messages, r.statuses
}

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// The command serves with flags and SWITCHBOARD_SIM_* variables, plays customers, prints its URL and stops on
// cancel with nil.
func TestWhatsappSimCommand(t *testing.T) {
	r := newReceiver(t, "env-secret")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, stdout := io.Pipe()
	var stderr strings.Builder
	done := make(chan error, 1)
	go func() {
		done <- runWhatsappSim(ctx, []string{"--addr", "127.0.0.1:0", "--webhook-url", r.url, "--status-delay", "1ms",
			"--customers-count", "3", "--customers-rate", "100", "--customers-phone-number-id", "555", "--log-level", "warn"},
			stdout, &stderr, env(map[string]string{"SWITCHBOARD_SIM_APP_SECRET": "env-secret", "SWITCHBOARD_SIM_RATE": "5"}))
		stdout.Close()
	}()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("no first line: %v (%s)", err, stderr.String())
	}
	go io.Copy(io.Discard, out)
	fields := strings.Fields(line)
	if len(fields) < 4 || !strings.HasPrefix(fields[3], "http://127.0.0.1:") {
		t.Fatalf("first line %q does not say where it listens", line)
	}
	url := fields[3]
	// The rate limit itself is the simulator's and tested there on a clock of its own; here the setting arrives:
	// the stats say so. Without a token every request is refused; with one the burst of 5 is accepted and the rest
	// refused 429, except what the bucket regained meanwhile (all of them on a machine slow enough).
	answers := map[string]map[int]int{}
	for _, auth := range []string{"", "Bearer t"} {
		answers[auth] = map[int]int{}
		for range 10 {
			req, _ := http.NewRequest(http.MethodPost, url+testPath, strings.NewReader(
				`{"messaging_product":"whatsapp","to":"15551234567","text":{"body":"hi"}}`))
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			answers[auth][resp.StatusCode]++
		}
	}
	if a := answers[""]; a[http.StatusUnauthorized] != 10 {
		t.Errorf("without a token: answers %v, want 10 401s", a)
	}
	if a := answers["Bearer t"]; a[http.StatusOK] < 5 || a[http.StatusOK]+a[http.StatusTooManyRequests] != 10 {
		t.Errorf("with a token: answers %v, want at least the burst of 5 accepted, the rest 429", a)
	}
	var stats struct {
		Rate  int `json:"rate"`
		Burst int `json:"burst"`
	}
	resp, err := client.Get(url + "/sim/stats")
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&stats)
	resp.Body.Close()
	if err != nil || stats.Rate != 5 || stats.Burst != 5 {
		t.Errorf("stats rate %d burst %d (%v), want 5 and 5 (SWITCHBOARD_SIM_RATE=5)", stats.Rate, stats.Burst, err)
	}
	eventually.NoError(t, 20*time.Second, 20*time.Millisecond, func() error {
		if m, st := r.counts(); m != 3 || st != 15 {
			return fmt.Errorf("%d customer messages and %d signed statuses", m, st)
		}
		return nil
	}, "3 customer messages and 15 signed statuses")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("runWhatsappSim = %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

func TestWhatsappSimFlags(t *testing.T) {
	ctx := context.Background()
	if err := runWhatsappSim(ctx, []string{"-h"}, io.Discard, io.Discard, env(nil)); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h = %v, want flag.ErrHelp", err)
	}
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--rate", "x"}, nil, "invalid value"},
		{nil, map[string]string{"SWITCHBOARD_SIM_FAIL_429": "lots"}, "SWITCHBOARD_SIM_FAIL_429"},
		{[]string{"--fail-429", "2", "--addr", "127.0.0.1:0"}, nil, "Fail rates"},
		{[]string{"--tokens", "123"}, nil, "--tokens"},
		{[]string{"extra"}, nil, "unexpected arguments"},
		{[]string{"--customers-phone-number-id", "555"}, nil, "--customers-rate"},
		{[]string{"--addr", "127.0.0.1:0", "--customers-rate", "1"}, nil, "WebhookURL"},
		{[]string{"--addr", "127.0.0.1:0", "--customers-rate", "1", "--webhook-url", "http://127.0.0.1:1/", "--app-secret", "s"}, nil, "PhoneNumberID"},
	} {
		err := runWhatsappSim(ctx, c.args, io.Discard, io.Discard, env(c.env))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("runWhatsappSim(%v, %v) = %v, want an error about %s", c.args, c.env, err, c.want)
		}
	}

	// A flag on the command line wins over its variable.
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	rate := fs.Int("rate", 80, "")
	secret := fs.String("app-secret", "", "")
	if err := flagenv.Parse(fs, []string{"--rate", "7"}, simEnvPrefix, env(map[string]string{
		"SWITCHBOARD_SIM_RATE": "5", "SWITCHBOARD_SIM_APP_SECRET": "s"})); err != nil || *rate != 7 || *secret != "s" {
		t.Errorf("rate %d secret %q err %v, want 7, s, nil", *rate, *secret, err)
	}
	if tokens, err := parseSimTokens("1=a, 2=b"); err != nil || tokens["1"] != "a" || tokens["2"] != "b" {
		t.Errorf("parseTokens = %v, %v", tokens, err)
	}
}
