package node

// The template syncer: it keeps each tenant's WhatsApp template catalogue in step with Meta by listing every
// business account of the config (a channel's waba_id) through the Graph API at start and every
// --template-sync-interval, and producing what it listed as a template_sync command on the tenant's partition, where
// the tenant's catalogue applies it. Meta's template webhooks keep the catalogue current in between. It also
// fetches for POST /v1/templates/sync (api.TemplateFetcher).

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/graph"
)

// DefaultTemplateSyncInterval is Config.TemplateSyncInterval's default.
const DefaultTemplateSyncInterval = 15 * time.Minute

// syncOperator is the operator id template_sync commands of the syncer carry: no operator asked for them.
const syncOperator = "switchboard"

// templateSyncer lists business accounts' templates and produces them as template_sync commands.
type templateSyncer struct {
	dir      *tenant.Directory
	graph    *graph.Client
	producer interface {
		Produce(ctx context.Context, recs []inbox.Record) error
	}
	interval time.Duration
	retry    time.Duration // retryFirst; tests shorten it
	now      func() time.Time
	log      *slog.Logger
	syncs    *prometheus.CounterVec
}

func newTemplateSyncer(dir *tenant.Directory, baseURL string, producer interface {
	Produce(ctx context.Context, recs []inbox.Record) error
}, interval time.Duration, reg prometheus.Registerer, log *slog.Logger) (*templateSyncer, error) {
	s := &templateSyncer{
		dir:      dir,
		graph:    &graph.Client{BaseURL: baseURL, HTTP: &http.Client{Timeout: 30 * time.Second}},
		producer: producer,
		interval: interval,
		retry:    retryFirst,
		now:      time.Now,
		log:      log,
		syncs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_template_syncs_total",
			Help: "Template catalogue listings of a business account from the Graph API, by result (ok, failed)."},
			[]string{"result"}),
	}
	for _, r := range []string{"ok", "failed"} {
		s.syncs.WithLabelValues(r)
	}
	if err := reg.Register(s.syncs); err != nil {
		return nil, fmt.Errorf("register template syncer metrics: %w", err)
	}
	return s, nil
}

// fetch lists one account's catalogue with the access token of its first channel that has one.
func (s *templateSyncer) fetch(ctx context.Context, w tenant.WABARef) (inbox.TemplateCatalogue, error) {
	token := ""
	for _, ch := range w.Channels {
		if ch.AccessToken != "" {
			token = ch.AccessToken
			break
		}
	}
	if token == "" {
		return inbox.TemplateCatalogue{}, fmt.Errorf("business account %s: no channel of it has an access_token", w.ID)
	}
	list, err := s.graph.Templates(ctx, w.ID, token)
	if err != nil {
		s.syncs.WithLabelValues("failed").Inc()
		return inbox.TemplateCatalogue{}, err
	}
	s.syncs.WithLabelValues("ok").Inc()
	return inbox.TemplateCatalogue{WABA: w.ID, Templates: list, SyncedAt: s.now().UnixMilli()}, nil
}

// FetchTemplates lists every business account of tenant's channels (api.TemplateFetcher).
func (s *templateSyncer) FetchTemplates(ctx context.Context, tenantID string) ([]inbox.TemplateCatalogue, error) {
	var out []inbox.TemplateCatalogue
	for _, w := range s.dir.WABAs() {
		if w.Tenant.ID != tenantID {
			continue
		}
		c, err := s.fetch(ctx, w)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// retryFirst is the wait before a round that failed is tried again; it doubles after each failed round, up to the
// interval.
const retryFirst = 5 * time.Second

// Run syncs every account at once and then every interval until ctx ends; a failed listing is logged and counted,
// and the round is tried again sooner (5 s, then doubling up to the interval), so a Graph API that was down at start
// does not leave the catalogue empty for a whole interval. It returns nil when ctx ends. A negative interval syncs
// only until a round succeeds.
func (s *templateSyncer) Run(ctx context.Context) error {
	retry := s.retry
	for {
		wait := s.interval
		if failed := s.syncAll(ctx); failed > 0 {
			wait = retry
			if s.interval > 0 {
				wait = min(retry, s.interval)
			}
			retry *= 2
		} else {
			retry = s.retry
		}
		if wait <= 0 {
			<-ctx.Done()
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// syncAll lists and produces every account once and returns how many failed.
func (s *templateSyncer) syncAll(ctx context.Context) (failed int) {
	for _, w := range s.dir.WABAs() {
		if ctx.Err() != nil {
			return failed
		}
		fctx, cancel := context.WithTimeout(ctx, time.Minute)
		c, err := s.fetch(fctx, w)
		if err == nil {
			err = s.produce(fctx, w.Tenant.ID, c)
		}
		cancel()
		if err != nil && !errors.Is(err, context.Canceled) {
			failed++
			s.log.Warn("template catalogue not synced; the next round tries again", "tenant", w.Tenant.ID, "waba", w.ID, "err", err)
		}
	}
	return failed
}

// produce queues c as a template_sync command of tenant. Nobody waits for its outcome.
func (s *templateSyncer) produce(ctx context.Context, tenantID string, c inbox.TemplateCatalogue) error {
	var id [12]byte
	_, _ = rand.Read(id[:])
	rec := inbox.Record{Tenant: tenantID, IngestAt: s.now().UnixMilli(), Items: []inbox.Item{{Kind: inbox.KindCommand,
		Command: &inbox.Command{RequestID: "sync." + hex.EncodeToString(id[:]), Type: "template_sync",
			OperatorID: syncOperator, Catalogue: &c}}}}
	if err := s.producer.Produce(ctx, []inbox.Record{rec}); err != nil {
		return fmt.Errorf("produce template_sync of %s: %w", c.WABA, err)
	}
	return nil
}
