package sender

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/store/storetest"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/broker/brokertest"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// countingProxy forwards TCP connections to target and counts them; the test's end closes them all.
func countingProxy(t *testing.T, target string) (addr string, conns *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns = new(atomic.Int64)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		open []net.Conn
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				u, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer u.Close()
				go func() { _, _ = io.Copy(u, c); u.Close() }()
				_, _ = io.Copy(c, u)
			})
		}
	})
	return ln.Addr().String(), conns
}

// The default client keeps its connections to the API between sends: 8 workers sending 400 replies to 16 customers
// open about 8 connections, not one per send (http.DefaultTransport keeps 2 idle per host, so it opened hundreds).
func TestSendsReuseTheirConnections(t *testing.T) {
	b := brokertest.Start(t, brokertest.Config{Topics: []string{inbox.Topic}})
	st := storetest.Open(t, store.Config{})
	meta := startSim(t)
	addr, conns := countingProxy(t, strings.TrimPrefix(meta.URL(), "http://"))
	cfg := directory(t, `{id: t-wa, type: whatsapp, phone_number_id: "100", app_secret: "s", verify_token: "v", access_token: "a", rate_limit: 1000}`)
	const workers = 8
	s, err := New(Config{Store: st, Directory: tenant.NewDirectory(cfg), Producer: producer(t, b.Addr()),
		BaseURL: "http://" + addr, Workers: workers, RecipientBurst: 10000, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	go func() { defer close(runDone); _ = s.Run(runCtx) }()
	defer func() { stop(); <-runDone }()
	const n = 400
	for i := range n {
		queueReply(t, st, s, &conversation.Conversation{ID: fmt.Sprintf("c%d", i%16), TenantID: "t", ChannelID: "t-wa",
			Contact: conversation.Contact{WaID: fmt.Sprintf("270000000%02d", i%16)}}, i)
	}
	eventually.NoError(t, time.Minute, 10*time.Millisecond, func() error { return accepted(meta, n) },
		"Meta accepts the replies")
	if got := conns.Load(); got > 2*workers {
		t.Errorf("%d connections for %d sends by %d workers, want at most %d", got, n, workers, 2*workers)
	}
}
