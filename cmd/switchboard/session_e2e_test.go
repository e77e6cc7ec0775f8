package main_test

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
)

// The console's path through the real binary: sign in with a token (the cookie Secure under --cookie-secure), open
// the event stream with the cookie alone, see a customer's webhook arrive on it; after a SIGTERM and a restart the
// session still holds, and a reconnect with the last id seen gets exactly what happened while the node was down.
func TestSignInAndLiveEventsSurviveARestart(t *testing.T) {
	n := newNode(t, "--cookie-secure")
	n.start()
	resp, err := client.Post(n.url("/v1/session"), "application/json", strings.NewReader(`{"token":"`+aliceToken+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sc := resp.Header.Get("Set-Cookie")
	if resp.StatusCode != 200 || !strings.Contains(strings.ToLower(sc), "; secure") || !strings.Contains(sc, "HttpOnly") {
		t.Fatalf("sign-in %d, Set-Cookie %q", resp.StatusCode, sc)
	}
	cookie := strings.SplitN(sc, ";", 2)[0]

	type frame struct{ id, event, data string }
	open := func(lastID string) (chan frame, func()) {
		req, _ := http.NewRequest("GET", n.url("/v1/events"), nil)
		req.Header.Set("Cookie", cookie)
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET /v1/events with the cookie: %v %v", err, resp)
		}
		out := make(chan frame, 100)
		go func() {
			defer close(out)
			s := bufio.NewScanner(resp.Body)
			var f frame
			for s.Scan() {
				switch line := s.Text(); {
				case line == "":
					if f.event != "" {
						out <- f
					}
					f = frame{}
				case strings.HasPrefix(line, "id: "):
					f.id = line[4:]
				case strings.HasPrefix(line, "event: "):
					f.event = line[7:]
				case strings.HasPrefix(line, "data: "):
					f.data = line[6:]
				}
			}
		}()
		return out, func() { resp.Body.Close() }
	}
	// until reads frames until it has read one of each of types, and returns the frames read.
	until := func(ch chan frame, types ...string) []frame {
		var got []frame
		missing := map[string]bool{}
		for _, typ := range types {
			missing[typ] = true
		}
		timeout := time.After(60 * time.Second)
		for {
			select {
			case f, ok := <-ch:
				if !ok {
					t.Fatalf("the stream ended; got %v", got)
				}
				got = append(got, f)
				delete(missing, f.event)
				if len(missing) == 0 {
					return got
				}
			case <-timeout:
				t.Fatalf("not all of %v within 60 s; got %v", types, got)
			}
		}
	}

	events, closeStream := open("")
	post := func(from, wamid string) {
		n.deliver(acmePhone, acmeSecret, textMsg(from, wamid, "hi", time.Now().Unix()))
	}
	post("15550001", "wamid.s1")
	// The customer's contact and conversation are two actors: contact.created may come before or after the
	// conversation's events. The console saw everything about the first customer.
	got := until(events, "contact.created", "conversation.created", "message.received")
	last := ""
	for _, f := range got {
		if f.id != "" {
			last = f.id
		}
	}
	closeStream()

	n.stop()
	n.start()
	post("15550002", "wamid.s2") // while the console is away
	req, _ := http.NewRequest("GET", n.url("/v1/session"), nil)
	req.Header.Set("Cookie", cookie)
	if r, err := client.Do(req); err != nil || r.StatusCode != 200 {
		t.Fatalf("the session after a restart: %v %v", err, r)
	} else {
		r.Body.Close()
	}
	resumed, closeResumed := open(last)
	defer closeResumed()
	got = nil
	for _, f := range until(resumed, "contact.created", "conversation.created", "message.received") {
		if f.event != "counts" && f.event != "presence" { // ephemeral frames, sent whenever the stream likes
			got = append(got, f)
		}
	}
	seen := map[string]bool{}
	lastSeq, _ := strconv.ParseInt(last, 10, 64)
	second := []string{`"conversation_id":"` + conversation.ID("acme-wa", "15550002") + `"`,
		`"contact_id":"` + conversation.ContactID("15550002") + `"`}
	for _, f := range got {
		seq, err := strconv.ParseInt(f.id, 10, 64)
		if f.event == "reset" || seen[f.id] || err != nil || seq <= lastSeq {
			t.Errorf("resumed after %s: %v (a reset, a repeat or an old event)", last, got)
			break
		}
		seen[f.id] = true
		// Exactly what happened while the console was away: the second customer's events, none of the first's.
		if !strings.Contains(f.data, second[0]) && !strings.Contains(f.data, second[1]) {
			t.Errorf("resumed after %s with %s %s, which is not about the second customer", last, f.event, f.data)
		}
	}
	n.stop()
}
