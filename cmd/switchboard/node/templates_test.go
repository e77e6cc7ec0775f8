package node

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/sim"
)

type memProducer struct {
	mu   sync.Mutex
	recs []inbox.Record
}

func (p *memProducer) Produce(_ context.Context, recs []inbox.Record) error {
	p.mu.Lock()
	p.recs = append(p.recs, recs...)
	p.mu.Unlock()
	return nil
}

func (p *memProducer) records() []inbox.Record {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]inbox.Record(nil), p.recs...)
}

// TestTemplateSyncer: every business account of the config is listed from the simulator and produced as its
// tenant's template_sync command; an account whose token the Graph API refuses is counted failed and does not stop
// the others; FetchTemplates lists one tenant's accounts only.
func TestTemplateSyncer(t *testing.T) {
	s, err := sim.New(sim.Config{Tokens: map[string]string{"100": "tok-a", "200": "tok-b"}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	cfg, err := tenant.Parse([]byte(`tenants:
  - id: acme
    channels:
      - {id: a1, type: whatsapp, phone_number_id: "100", app_secret: s, verify_token: v, access_token: tok-a, waba_id: "111"}
      - {id: a2, type: whatsapp, phone_number_id: "101", app_secret: s, verify_token: v2, access_token: tok-a, waba_id: "111"}
      - {id: a3, type: whatsapp, phone_number_id: "102", app_secret: s, verify_token: v3, access_token: wrong, waba_id: "333"}
  - id: globex
    channels:
      - {id: g1, type: whatsapp, phone_number_id: "200", app_secret: s2, verify_token: v4, access_token: tok-b, waba_id: "222"}
      - {id: g2, type: whatsapp, phone_number_id: "201", app_secret: s2, verify_token: v5, access_token: tok-b}
`))
	if err != nil {
		t.Fatal(err)
	}
	p := &memProducer{}
	reg := prometheus.NewRegistry()
	sy, err := newTemplateSyncer(tenant.NewDirectory(cfg), s.URL()+"/v21.0", p, -1, reg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	sy.retry = time.Hour // one round only: the retry is checked below
	rctx, rcancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- sy.Run(rctx) }()
	eventually.True(t, 10*time.Second, 10*time.Millisecond, func() bool {
		return testutil.ToFloat64(sy.syncs.WithLabelValues("ok"))+testutil.ToFloat64(sy.syncs.WithLabelValues("failed")) == 3
	}, "three accounts listed")
	rcancel()
	if err := <-ran; err != nil {
		t.Errorf("Run: %v", err)
	}
	if ok, failed := testutil.ToFloat64(sy.syncs.WithLabelValues("ok")), testutil.ToFloat64(sy.syncs.WithLabelValues("failed")); ok != 2 || failed != 1 {
		t.Errorf("syncs ok %v failed %v, want 2 and 1 (account 333's token is refused)", ok, failed)
	}
	// A failed round is tried again before the interval (an hour here, never reached).
	sy.interval, sy.retry = time.Hour, 10*time.Millisecond
	rctx, rcancel = context.WithCancel(context.Background())
	go func() { ran <- sy.Run(rctx) }()
	eventually.True(t, 10*time.Second, 10*time.Millisecond, func() bool {
		return testutil.ToFloat64(sy.syncs.WithLabelValues("failed")) >= 4
	}, "the failed account retried")
	rcancel()
	<-ran
	got := map[string]string{}
	for _, r := range p.records() {
		c := r.Items[0].Command
		if r.Items[0].Kind != inbox.KindCommand || c.Type != "template_sync" || c.OperatorID == "" || c.RequestID == "" ||
			c.Catalogue == nil || len(c.Catalogue.Templates) != len(sim.SeedTemplates) || c.Catalogue.SyncedAt == 0 {
			t.Errorf("record %+v", r)
			continue
		}
		got[c.Catalogue.WABA] = r.Tenant
		// The record is one the router decodes.
		b, err := r.Encode(nil)
		if err == nil {
			_, err = inbox.Decode(b)
		}
		if err != nil {
			t.Error(err)
		}
	}
	if len(got) != 2 || got["111"] != "acme" || got["222"] != "globex" {
		t.Errorf("produced %v, want 111 for acme and 222 for globex", got)
	}
	cats, err := sy.FetchTemplates(context.Background(), "globex")
	if err != nil || len(cats) != 1 || cats[0].WABA != "222" {
		t.Errorf("FetchTemplates(globex) = %+v, %v", cats, err)
	}
	if _, err := sy.FetchTemplates(context.Background(), "acme"); err == nil {
		t.Error("FetchTemplates(acme) hid the refused account")
	}
}
