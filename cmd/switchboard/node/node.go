// Package node assembles one Switchboard process from its components (embedded broker, store, producer, router,
// webhook receivers, API, HTTP server) according to its roles, and runs and stops them in order.
//
// It may import every component of a node; it is the one place that wires them.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/changelog/kafkalog"
	"github.com/switchboard-hq/switchboard/actors/outbox"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/ownership"
	"github.com/switchboard-hq/switchboard/actors/router"
	"github.com/switchboard-hq/switchboard/actors/sender"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/actors/timers"
	"github.com/switchboard-hq/switchboard/analytics/insights"
	"github.com/switchboard-hq/switchboard/analytics/schema"
	"github.com/switchboard-hq/switchboard/analytics/sink"
	"github.com/switchboard-hq/switchboard/api"
	"github.com/switchboard-hq/switchboard/api/livefeed"
	"github.com/switchboard-hq/switchboard/ingest/broker"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
	"github.com/switchboard-hq/switchboard/ingest/server"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp"
	"github.com/switchboard-hq/switchboard/web"
)

// Roles a node can run (docs/contract.md, --roles).
const (
	RoleIngest    = "ingest"
	RoleRouter    = "router"
	RoleAPI       = "api"
	RoleAnalytics = "analytics"
)

// AllRoles is what "all" means.
var AllRoles = []string{RoleIngest, RoleRouter, RoleAPI, RoleAnalytics}

// Config is everything a node needs; cmd/switchboard fills it from flags, environment and the config file.
type Config struct {
	// Tenants is the parsed config file; nil runs with no tenants (every webhook is then 404).
	Tenants *tenant.Config
	// DataDir holds the Pebble store (DataDir/store) and the embedded broker (DataDir/kafka). Default ./data.
	DataDir string
	// HTTPAddr is where webhooks, the API, /metrics, /healthz and /readyz listen. Default 127.0.0.1:8080.
	HTTPAddr string
	// KafkaBrokers are an external cluster's bootstrap addresses; empty starts the embedded broker.
	KafkaBrokers []string
	// EmbeddedKafkaAddr is where the embedded broker listens. Default 127.0.0.1:9092.
	EmbeddedKafkaAddr string
	// EmbeddedKafkaFsync makes the embedded broker fsync each produced batch, so an acknowledged record survives a
	// power cut, not only a killed process. Default false, like Kafka's own default (flush left to the OS); it
	// costs most of the single-node ingest rate (see README, "Performance").
	EmbeddedKafkaFsync bool
	// Partitions is the partition count of topics this node creates. Default 12.
	Partitions int
	// Replication is the replication factor of topics this node creates on an external cluster. Default 1; the
	// embedded broker always uses 1.
	Replication int
	// Roles to run; empty means all.
	Roles []string
	// ClickHouseAddr is the analytics sink's ClickHouse (native protocol); empty turns the sink off.
	ClickHouseAddr string
	// WhatsAppAPIURL is the Cloud API base URL for outbound messages. Default Meta's Graph API.
	WhatsAppAPIURL string
	// SessionTimeout is the router's consumer group session timeout. 0 means the router's default.
	SessionTimeout time.Duration
	// IdleAfter passivates idle conversation actors. 0 means the router's default.
	IdleAfter time.Duration
	// PprofAddr serves Go's net/http/pprof profiles there; empty (the default) serves none.
	PprofAddr string
	// CookieSecure marks the session cookie Secure: the node is reached over TLS. Default false.
	CookieSecure bool
	// MediaCacheBytes bounds the disk cache of media served to the console (DataDir/media-cache). 0 means
	// DefaultMediaCacheBytes (1 GiB).
	MediaCacheBytes int64
	// MediaAllowPrivate lets operators' media links reach private, loopback and link-local addresses. Default
	// false: such links are refused (SSRF); tests and the local demo set it.
	MediaAllowPrivate bool
	// OIDCAllowLoopback lets tenants' single sign-on issuers be on loopback addresses (api.Config). Default false.
	OIDCAllowLoopback bool
	// OIDCAllowPrivate lets tenants' single sign-on issuers be on private addresses (api.Config). Default false.
	OIDCAllowPrivate bool
	// TemplateSyncInterval is how often a router node lists every business account's message templates from the
	// Graph API (WhatsAppAPIURL) into the catalogue; it also does at start, and retries a failed round sooner (5 s,
	// doubling). 0 means DefaultTemplateSyncInterval (15m); negative syncs only until a round succeeds.
	TemplateSyncInterval time.Duration
	// Changelog copies every durable write of a router node's partitions to switchboard.changelog, and restores a
	// partition from it when the router is assigned it (README, "Changelog"). Default false in this round: the
	// failover that uses it comes next.
	Changelog bool
	// ClusterSecret turns on answering for every tenant (README, "Several nodes"): a router node publishes the
	// partitions it owns to switchboard.members, and an API call for a tenant another node owns is forwarded to it,
	// signed with this secret, which every node shares. Empty (the default) answers every call from this node's store.
	ClusterSecret string
	// AdvertiseURL is this node's API base URL as other nodes reach it. Default DefaultAdvertiseURL(HTTPAddr).
	AdvertiseURL string
	// RecordFormat is the form of the records this node writes: the switchboard.inbox records it produces (webhooks,
	// commands, timers, deliveries) and the conversation and message values of its store (and so of the changelog):
	// inbox.FormatBinary (the default) or inbox.FormatJSON. Every node reads both; a node of a release before the
	// binary forms reads only JSON (a router skips a binary record, a store fails on a binary value). So a rolling
	// upgrade from such a release runs every upgraded node with FormatJSON until no node of the older release is
	// left, then switches to binary (README, "Upgrading").
	RecordFormat inbox.Format
	Logger       *slog.Logger
}

func (c *Config) setDefaults() {
	if c.DataDir == "" {
		c.DataDir = "./data"
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = "127.0.0.1:8080"
	}
	if c.EmbeddedKafkaAddr == "" {
		c.EmbeddedKafkaAddr = "127.0.0.1:9092"
	}
	if c.Partitions == 0 {
		c.Partitions = 12
	}
	if c.WhatsAppAPIURL == "" {
		c.WhatsAppAPIURL = "https://graph.facebook.com/v21.0"
	}
	if c.Replication == 0 {
		c.Replication = 1
	}
	if c.TemplateSyncInterval == 0 {
		c.TemplateSyncInterval = DefaultTemplateSyncInterval
	}
	if c.RecordFormat == "" {
		c.RecordFormat = inbox.FormatBinary
	}
	if len(c.Roles) == 0 || slices.Contains(c.Roles, "all") {
		c.Roles = AllRoles
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports a config that cannot work.
func (c *Config) Validate() error {
	for _, r := range c.Roles {
		if !slices.Contains(AllRoles, r) {
			return fmt.Errorf("roles: %q is not one of all, ingest, router, api, analytics", r)
		}
	}
	if c.Partitions < 1 || c.Partitions > 10000 {
		return fmt.Errorf("partitions: %d must be between 1 and 10000", c.Partitions)
	}
	if err := c.RecordFormat.Validate(); err != nil {
		return fmt.Errorf("inbox format: %w", err)
	}
	return nil
}

func (c *Config) has(role string) bool { return slices.Contains(c.Roles, role) }

// Node is one running Switchboard process.
type Node struct {
	cfg      Config
	log      *slog.Logger
	reg      *prometheus.Registry
	dir      *tenant.Directory
	brokers  []string
	embedded *broker.Embedded
	store    *store.Store
	producer *broker.Producer
	router   *router.Router
	relay    *outbox.Relay
	sink     *sink.Sink
	chAPI    driver.Conn // the insights API's ClickHouse pool
	sender   *sender.Sender
	firer    *timers.Firer
	outcomes *outcome.Registry
	server   *server.Server
	feed     *livefeed.Feed  // GET /v1/events
	syncer   *templateSyncer // template catalogues (templates.go)
	config   *configWatcher  // the live directory (config.go)
	changes  *kafkalog.Replicator
	owner    *ownership.Table // the partitions this node owns, with --changelog (changelog.go); nil without
	members  *members         // the owner table and this node's membership record (members.go); nil without ClusterSecret

	closeOnce sync.Once
	closeErr  error
}

// New starts the parts that must be up before serving (broker, topics, store, listener) and returns the node; Run
// serves. On error everything started is stopped again.
func New(ctx context.Context, cfg Config) (n *Node, err error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// The directory starts empty: the configuration topic fills it (config.go) before any component uses it.
	n = &Node{cfg: cfg, log: cfg.Logger, reg: prometheus.NewRegistry(), dir: tenant.NewDirectory(nil)}
	defer func() {
		if err != nil {
			n.Close()
			n = nil
		}
	}()
	n.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return n, fmt.Errorf("data dir: %w", err)
	}

	n.brokers = cfg.KafkaBrokers
	replication := cfg.Replication
	if len(n.brokers) == 0 {
		n.embedded, err = broker.NewEmbedded(broker.Config{
			Addr: cfg.EmbeddedKafkaAddr, DataDir: filepath.Join(cfg.DataDir, "kafka"), NoSync: !cfg.EmbeddedKafkaFsync,
			Logger: n.log,
		})
		if err != nil {
			return n, err
		}
		n.brokers = []string{n.embedded.Addr()}
		replication = 1
		n.log.Info("embedded kafka broker started", "addr", n.embedded.Addr())
	}
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	phase := time.Now()
	if err := CreateTopics(tctx, n.brokers, cfg.Partitions, replication, n.embedded != nil); err != nil {
		return n, err
	}
	n.log.Info("topics ready", "took", time.Since(phase))
	if err := n.startConfig(tctx); err != nil {
		return n, err
	}
	if cfg.ClusterSecret != "" && cfg.has(RoleAPI) {
		advertise := cfg.AdvertiseURL
		if advertise == "" {
			advertise = DefaultAdvertiseURL(cfg.HTTPAddr)
		}
		if n.members, err = newMembers(tctx, n.brokers, advertise, n.log); err != nil {
			return n, err
		}
	}

	var ready []server.Check
	ready = append(ready, server.Check{Name: "kafka", Fn: n.pingKafka})
	var apiHandler, waHandler, webHandler fasthttp.RequestHandler
	if cfg.has(RoleRouter) || cfg.has(RoleAPI) {
		phase = time.Now()
		scfg := store.Config{Dir: filepath.Join(cfg.DataDir, "store"), Logger: n.log, Registerer: n.reg,
			JSONValues: cfg.RecordFormat == inbox.FormatJSON}
		if cfg.Changelog && cfg.has(RoleRouter) {
			if err := n.startChangelog(tctx, &scfg); err != nil {
				return n, err
			}
		}
		n.store, err = store.Open(scfg)
		if err != nil {
			return n, err
		}
		n.log.Info("store opened", "took", time.Since(phase))
		ready = append(ready, server.Check{Name: "store", Fn: func() error { return nil }})
	}
	// Commands and timers are produced by the API and the timer firer, so a producer exists with those roles too.
	if cfg.has(RoleIngest) || cfg.has(RoleRouter) || cfg.has(RoleAPI) {
		n.producer, err = broker.NewProducer(broker.ProducerConfig{Brokers: n.brokers, Registerer: n.reg,
			Format: cfg.RecordFormat})
		if err != nil {
			return n, err
		}
	}
	n.outcomes = outcome.NewRegistry()
	if n.producer != nil {
		if n.syncer, err = newTemplateSyncer(n.dir, cfg.WhatsAppAPIURL, n.producer, cfg.TemplateSyncInterval, n.reg, n.log); err != nil {
			return n, err
		}
	}
	if cfg.has(RoleRouter) {
		n.relay, err = outbox.New(outbox.Config{Store: n.store, Brokers: n.brokers, Owner: n.owner, Registerer: n.reg, Logger: n.log})
		if err != nil {
			return n, err
		}
		// The relay and the sender read what an earlier run left in the store when they run.
		n.sender, err = sender.New(sender.Config{Store: n.store, Directory: n.dir, Producer: n.producer,
			BaseURL: cfg.WhatsAppAPIURL, Owner: n.owner, Registerer: n.reg, Logger: n.log})
		if err != nil {
			return n, err
		}
		n.firer, err = timers.New(timers.Config{Store: n.store, Producer: n.producer, Owner: n.owner, Registerer: n.reg, Logger: n.log})
		if err != nil {
			return n, err
		}
		n.router, err = router.New(router.Config{
			Brokers: n.brokers, Store: n.store, Directory: n.dir, Outcomes: n.outcomes, Relay: n.relay, Sender: n.sender,
			Registerer: n.reg, Logger: n.log,
			SessionTimeout: cfg.SessionTimeout, RebalanceTimeout: cfg.SessionTimeout, IdleAfter: cfg.IdleAfter,
			Restore: n.ownedHook(n.restoreFunc()), Ownership: n.owner,
		})
		if err != nil {
			return n, err
		}
		ready = append(ready, server.Check{Name: "consumer", Fn: func() error {
			if !n.router.Ready() {
				return errors.New("not consuming (joining the group or rebalancing)")
			}
			return nil
		}})
	}
	if cfg.has(RoleIngest) {
		wa, err := whatsapp.New(whatsapp.Config{Directory: n.dir, Producer: n.producer, Registerer: n.reg, Logger: n.log})
		if err != nil {
			return n, err
		}
		waHandler = wa.Serve
	}
	if cfg.has(RoleAPI) {
		acfg := api.Config{Directory: n.dir, Reader: APIReader(n.store), Producer: n.producer, Outcomes: n.outcomes,
			WaitConfig: true, Logger: n.log, OIDCAllowLoopback: n.cfg.OIDCAllowLoopback,
			OIDCAllowPrivate: n.cfg.OIDCAllowPrivate}
		if n.members != nil {
			acfg.Cluster = n.members.clusterConfig(cfg.ClusterSecret)
		}
		if err := n.startMedia(&acfg); err != nil {
			return n, err
		}
		if n.syncer != nil {
			acfg.Templates = n.syncer
		}
		if err := n.startLive(ctx, &acfg); err != nil {
			return n, err
		}
		if cfg.ClickHouseAddr != "" {
			conn, err := schema.Open(cfg.ClickHouseAddr)
			if err != nil {
				return n, err
			}
			n.chAPI = conn
			acfg.Insights = insightsOf(conn)
			acfg.InsightsRange = InsightsRange(conn)
			if !cfg.has(RoleAnalytics) {
				// The sink migrates the schema where it runs; a node that only answers insights does it too, so its
				// queries never meet missing tables.
				mctx, mcancel := context.WithTimeout(ctx, 10*time.Second)
				if _, err := schema.Migrate(mctx, conn); err != nil {
					n.log.Warn("clickhouse schema not migrated; insights unavailable until it is", "err", err)
				}
				mcancel()
			}
		}
		a, err := api.New(acfg)
		if err != nil {
			return n, err
		}
		apiHandler = a.Serve
		// The console is a client of this API, so the nodes that answer it serve it too.
		console, err := web.New()
		if err != nil {
			return n, err
		}
		webHandler = console.Serve
	}
	if cfg.has(RoleAnalytics) {
		if cfg.ClickHouseAddr == "" {
			n.log.Info("analytics sink off: no --clickhouse-addr")
		} else if n.sink, err = sink.New(sink.Config{Brokers: n.brokers, ClickHouseAddr: cfg.ClickHouseAddr,
			Registerer: n.reg, Logger: n.log}); err != nil {
			return n, err
		}
	}
	n.server, err = server.New(server.Config{
		Addr: cfg.HTTPAddr, WhatsApp: waHandler, API: apiHandler, Web: webHandler, Gatherer: n.reg, Ready: ready, Logger: n.log,
		StreamsBody: api.StreamsBody,
	})
	if err != nil {
		return n, err
	}
	return n, nil
}

// startMedia gives the API its media store: Meta's media endpoints, the cache under the data dir, and a directory for
// uploads in progress (emptied at start: what a killed node left there is of no use).
func (n *Node) startMedia(acfg *api.Config) error {
	tmp := filepath.Join(n.cfg.DataDir, "media-tmp")
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("media: %w", err)
	}
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return fmt.Errorf("media: %w", err)
	}
	m, err := NewMedia(MediaConfig{GraphURL: n.cfg.WhatsAppAPIURL, CacheDir: filepath.Join(n.cfg.DataDir, "media-cache"),
		CacheBytes: n.cfg.MediaCacheBytes, AllowPrivate: n.cfg.MediaAllowPrivate, Registerer: n.reg, Logger: n.log})
	if err != nil {
		return err
	}
	acfg.Media, acfg.MediaTempDir = m, tmp
	return nil
}

// HTTPAddr is where the node's HTTP server listens.
func (n *Node) HTTPAddr() string { return n.server.Addr() }

// Brokers are the Kafka addresses the node uses.
func (n *Node) Brokers() []string { return n.brokers }

// Store is the node's store (nil without the router and api roles).
func (n *Node) Store() *store.Store { return n.store }

func (n *Node) pingKafka() error {
	c, err := net.DialTimeout("tcp", n.brokers[0], time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}

// Run serves until ctx ends or a component fails, then stops gracefully, in stages, each stage stopped before the
// next is told to stop:
//
//  1. the HTTP server stops accepting webhooks and API calls and lets the requests in progress finish;
//  2. the producer's users stop — the sender (so the answers it recorded are produced; what is left is produced
//     again by its next Run) and the timer firer;
//  3. the producer closes, flushing what it holds;
//  4. the router drains its in-flight records and commits their offsets; the outbox relay relays what is pending;
//     the analytics sink stores and commits the batch in hand.
//
// Every component's Run is expected to block until its stage stops it: one that returns early, with an error or
// without, cancels ctx for all the others. The analytics sink is the exception on a node with other roles: it
// retries every ClickHouse and Kafka outage itself, and if it still stops early (closed under it, or an address
// ClickHouse's client refuses), that is logged at error level and the node keeps routing, ingesting and answering
// the API: analytics is a reader of switchboard.events, whose records wait in Kafka for a restarted sink, so losing
// it must not stop customers' conversations. A node whose only role is analytics stops, so its supervisor restarts
// it. Run returns the errors that stopped it early and those of the stop
// itself, joined (first the one that stopped it), or nil after a clean stop. Close still has to be called.
func (n *Node) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var errs errorList
	// failed is called by a component whose Run returned before its stage was stopped.
	failed := func(name string, err error) {
		if err == nil {
			err = errors.New("stopped on its own")
		}
		errs.add(fmt.Errorf("%s: %w", name, err))
		cancel()
	}
	serving := newStage(failed)
	producerUsers := newStage(failed)
	consumers := newStage(failed)

	serving.run("http server", n.server.Run)
	if n.feed != nil {
		serving.run("live feed", n.feed.Run)
	}
	if n.router != nil {
		producerUsers.run("sender", n.sender.Run)
		producerUsers.run("timer firer", n.firer.Run)
		producerUsers.run("template syncer", n.syncer.Run)
		consumers.run("router", n.router.Run)
		consumers.run("outbox relay", n.relay.Run)
	}
	if n.sink != nil {
		consumers.run("analytics sink", n.runSink)
	}
	consumers.run("config watcher", n.config.Run)
	if n.members != nil {
		consumers.run("members reader", n.members.RunRead)
		if n.router != nil {
			consumers.run("members publisher", n.members.RunPublish)
		}
	}
	if n.cfg.PprofAddr != "" {
		ps := n.servePprof()
		defer func() {
			if err := ps.Close(); err != nil {
				n.log.Warn("close pprof server", "err", err)
			}
		}()
	}
	n.log.Info("switchboard serving", "http", n.server.Addr(), "kafka", n.brokers, "roles", n.cfg.Roles)
	<-ctx.Done()
	n.log.Info("stopping: draining requests and in-flight records")
	serving.stop()
	producerUsers.stop()
	if n.producer != nil {
		if err := n.producer.Close(); err != nil {
			errs.add(fmt.Errorf("close producer: %w", err))
		}
	}
	consumers.stop()
	return errs.err()
}

// runSink runs the analytics sink; see Run for why its early end stops only a node that has no other role.
func (n *Node) runSink(ctx context.Context) error {
	err := n.sink.Run(ctx)
	if ctx.Err() != nil || len(n.cfg.Roles) == 1 {
		return err
	}
	n.log.Error("analytics sink stopped; the node goes on without it, events wait in Kafka until a restart",
		"role", RoleAnalytics, "err", err)
	<-ctx.Done()
	return nil
}

// servePprof serves Go's profiles on PprofAddr until the returned server is closed. It is a diagnostic: failing to
// serve is logged, not a reason to stop the node.
func (n *Node) servePprof() *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ps := &http.Server{Addr: n.cfg.PprofAddr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := ps.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("pprof server", "addr", n.cfg.PprofAddr, "err", err)
		}
	}()
	n.log.Info("pprof serving", "addr", n.cfg.PprofAddr)
	return ps
}

// stage is a set of components' Run calls that are stopped together: stop cancels their context and waits for all
// of them to return. A Run that returns before stop is reported to failed, with its error (nil if it had none); after
// stop, only an error other than context.Canceled is.
type stage struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	failed func(name string, err error)
}

// newStage's context is not derived from the node's: a stage runs until the node stops it, in order.
func newStage(failed func(name string, err error)) *stage {
	ctx, cancel := context.WithCancel(context.Background())
	return &stage{ctx: ctx, cancel: cancel, failed: failed}
}

func (s *stage) run(name string, run func(context.Context) error) {
	s.wg.Go(func() {
		err := run(s.ctx)
		stopped := s.ctx.Err() != nil
		if stopped && errors.Is(err, context.Canceled) {
			err = nil // the stage's own stop, reported by a component that returns ctx.Err()
		}
		if !stopped || err != nil {
			s.failed(name, err)
		}
	})
}

func (s *stage) stop() {
	s.cancel()
	s.wg.Wait()
}

// errorList collects errors from concurrent components, in the order they happened.
type errorList struct {
	mu   sync.Mutex
	errs []error
}

func (l *errorList) add(err error) {
	l.mu.Lock()
	l.errs = append(l.errs, err)
	l.mu.Unlock()
}

func (l *errorList) err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return errors.Join(l.errs...)
}

// Close releases everything the node holds, in dependency order (what writes to the store and the broker before
// them). Call it after Run returned, or after a failed New; it is idempotent: later calls return the first call's
// result.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		var errs []error
		closeOne := func(what string, c interface{ Close() error }) {
			if err := c.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close %s: %w", what, err))
			}
		}
		if n.server != nil {
			closeOne("http server", n.server)
		}
		if n.feed != nil {
			closeOne("live feed", n.feed)
		}
		if n.producer != nil {
			closeOne("producer", n.producer)
		}
		if n.router != nil {
			closeOne("router", n.router)
		}
		if n.firer != nil {
			closeOne("timer firer", n.firer)
		}
		if n.relay != nil {
			closeOne("outbox relay", n.relay)
		}
		if n.sender != nil {
			closeOne("sender", n.sender)
		}
		if n.sink != nil {
			closeOne("analytics sink", n.sink)
		}
		if n.chAPI != nil {
			closeOne("insights clickhouse pool", n.chAPI)
		}
		if n.config != nil {
			closeOne("config watcher", n.config)
		}
		if n.members != nil {
			closeOne("members", n.members)
		}
		if n.store != nil {
			closeOne("store", n.store)
		}
		if n.changes != nil { // after the store, which waits for its last batches' acknowledgements
			closeOne("changelog replicator", n.changes)
		}
		if n.embedded != nil {
			closeOne("embedded broker", n.embedded)
		}
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}

// insightsOf answers GET /v1/insights?since= from ClickHouse.
func insightsOf(conn driver.Conn) api.InsightsFunc {
	return func(ctx context.Context, tenant string, since time.Duration, byOperator bool) (any, error) {
		r, err := insights.Query(ctx, conn, insights.Filter{Tenant: tenant, Since: since})
		if !byOperator {
			r.ByOperator = []insights.OperatorFigures{}
		}
		return r, err
	}
}

// InsightsRange answers GET /v1/insights?from=&to= and GET /v1/insights.csv from ClickHouse (insights.QuerySummary,
// the roll-ups), and `switchboard insights --from --to` the same. Its lists are never nil.
func InsightsRange(conn driver.Conn) api.InsightsRangeFunc {
	return func(ctx context.Context, tenant string, from, to time.Time) (api.InsightsSummary, error) {
		s, err := insights.QuerySummary(ctx, conn, insights.Range{Tenant: tenant, From: from, To: to})
		if err != nil {
			return api.InsightsSummary{}, err
		}
		out := api.InsightsSummary{From: s.From, To: s.To, Totals: api.InsightsTotals(s.Totals),
			ByOperator: make([]api.InsightsOperator, len(s.ByOperator)), ByHour: make([]api.InsightsHour, len(s.ByHour))}
		for i, o := range s.ByOperator {
			out.ByOperator[i] = api.InsightsOperator{OperatorID: o.OperatorID, InsightsTotals: api.InsightsTotals(o.Totals)}
		}
		for i, h := range s.ByHour {
			out.ByHour[i] = api.InsightsHour{Start: h.Start, InsightsTotals: api.InsightsTotals(h.Totals)}
		}
		return out, nil
	}
}
