// Command switchboard is Switchboard's production binary: `serve` runs a node, `version` prints the version;
// `bench` and `whatsapp-sim` run the binaries built beside it (switchboard-bench, switchboard-whatsapp-sim).
// Flags are also read from the environment as SWITCHBOARD_<FLAG> (upper snake case); a flag on the command line wins.
//
// It imports cmd/switchboard/node and the packages of its small commands; never bench/ or the simulator (they are
// binaries of their own).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/cmd/flagenv"
	"github.com/switchboard-hq/switchboard/cmd/switchboard/node"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// version is set by the linker (make build).
var version = "dev"

const usage = `switchboard — helpdesk message router

Usage:
  switchboard serve [flags]      run a node (all roles by default)
  switchboard broker [--kafka-addr HOST:PORT] [--data-dir DIR] [--partitions N]
                                 run the embedded Kafka-protocol broker as its own process, for
                                 several nodes started with --kafka-brokers HOST:PORT
  switchboard insights --clickhouse-addr HOST:PORT [--tenant T] [--since 24h | --from FROM --to TO] [--json | --csv]
                                 insight figures from ClickHouse ('switchboard insights -h')
  switchboard whatsapp-sim [flags]  simulator of the WhatsApp Cloud API (tests, demos; runs switchboard-whatsapp-sim)
  switchboard send-webhook       post one signed sample customer message to a node (demo)
  switchboard contacts import --tenant T --url NODE_URL --token TOKEN FILE.csv
                                 import a CSV file of contacts into a running node, with progress
  switchboard bench [--scenario smoke|standard|memory|recovery|soak] [--out bench/results]
                                 start a node, load it like Meta and operators, write a report
                                 (runs switchboard-bench)
  switchboard version            print the version

Run 'switchboard serve -h' for the flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "broker":
		err = brokerCmd(os.Args[2:])
	case "insights":
		err = insightsCmd(os.Args[2:])
	case "whatsapp-sim":
		err = sibling("whatsapp-sim", os.Args[2:])
	case "send-webhook":
		err = sendWebhook(os.Args[2:])
	case "contacts":
		err = contactsCmd(os.Args[2:])
	case "bench":
		err = sibling("bench", os.Args[2:])
	case "version", "--version", "-v":
		fmt.Println("switchboard", version)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "switchboard: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "switchboard:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func serve(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	configFile := fs.String("config", "", "tenants, channels and operators (YAML)")
	dataDir := fs.String("data-dir", "./data", "Pebble store and embedded broker data")
	httpAddr := fs.String("http-addr", "127.0.0.1:8080", "webhooks, /v1 API, /metrics, /healthz, /readyz")
	brokers := fs.String("kafka-brokers", "", "comma-separated Kafka bootstrap addresses; empty starts the embedded broker")
	embeddedAddr := fs.String("embedded-kafka-addr", "127.0.0.1:9092", "where the embedded broker listens")
	kafkaFsync := fs.Bool("embedded-kafka-fsync", false, "fsync each batch the embedded broker writes (off, like Kafka's default: an acknowledged record survives kill -9, not a power cut)")
	partitions := fs.Int("partitions", 12, "partition count of the topics this node creates")
	replication := fs.Int("replication", 1, "replication factor of the topics this node creates on an external cluster")
	clickhouse := fs.String("clickhouse-addr", "", "ClickHouse native address; empty turns the analytics sink off")
	waURL := fs.String("whatsapp-api-url", "https://graph.facebook.com/v21.0", "WhatsApp Cloud API base URL")
	roles := fs.String("roles", "all", "any of ingest,router,api,analytics")
	session := fs.Duration("kafka-session-timeout", 6*time.Second, "consumer group session timeout: how long a dead node holds its partitions")
	idle := fs.Duration("idle-after", 2*time.Minute, "stop a conversation actor after this long without input")
	pprofAddr := fs.String("pprof-addr", "", "serve Go's pprof profiles on this address (e.g. 127.0.0.1:6060); empty: off")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logJSON := fs.Bool("log-json", false, "log as JSON lines")
	cookieSecure := fs.Bool("cookie-secure", false, "mark the session cookie Secure (the node is reached over TLS)")
	mediaCache := fs.Int64("media-cache-bytes", node.DefaultMediaCacheBytes, "bound of the disk cache of media served to the console (under the data dir)")
	mediaPrivate := fs.Bool("media-allow-private", false, "let operators' media links reach private, loopback and link-local addresses (tests, local demo; off in production: SSRF)")
	oidcLoopback := fs.Bool("oidc-allow-loopback", false, "let tenants' single sign-on issuers be on loopback addresses (a local IdP: development, tests; off in production)")
	oidcPrivate := fs.Bool("oidc-allow-private", false, "let tenants' single sign-on issuers be on private addresses (an IdP on the organisation's network; off when tenants' admins are not the node's: SSRF)")
	changelogOn := fs.Bool("changelog", false, "copy every durable write of the router's partitions to switchboard.changelog and restore a partition from it when assigned, so partitions move between nodes with their state (default: on with --kafka-brokers, where other nodes may share the partitions; off with the embedded broker, a single node)")
	clusterSecret := fs.String("cluster-secret", "", "shared secret of the nodes' internal forwarded calls (set it in the environment, SWITCHBOARD_CLUSTER_SECRET, not on the command line): with it, a call for a tenant another node owns is forwarded to that node; empty answers every call from this node's store")
	advertiseURL := fs.String("advertise-url", "", "this node's API base URL as the other nodes reach it (default http://<http-addr>, the host name for 0.0.0.0)")
	recordFormat := fs.String("record-format", "binary", "form of the records this node writes, to switchboard.inbox and to its store (and the changelog): binary or json (every node reads both). Nodes of a release before the binary forms read only json, so upgrade in this order: run every upgraded node with --record-format json until no node of the older release is left, then restart them without it")
	templateSync := fs.Duration("template-sync-interval", 15*time.Minute, "list every business account's message templates from the Graph API this often (and at start; a failed round is retried sooner); negative: only until a round succeeds")
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	log, err := newLogger(*logLevel, *logJSON)
	if err != nil {
		return err
	}
	if !flagenv.Given(fs, "changelog") && *brokers != "" {
		*changelogOn = true
	}
	var tenants *tenant.Config
	if *configFile != "" {
		if tenants, err = tenant.Load(*configFile); err != nil {
			return err
		}
	} else {
		log.Warn("no --config: running with no tenants; every webhook will be 404")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	n, err := node.New(ctx, node.Config{
		Tenants:              tenants,
		DataDir:              *dataDir,
		HTTPAddr:             *httpAddr,
		KafkaBrokers:         flagenv.List(*brokers),
		EmbeddedKafkaAddr:    *embeddedAddr,
		EmbeddedKafkaFsync:   *kafkaFsync,
		Partitions:           *partitions,
		Replication:          *replication,
		Changelog:            *changelogOn,
		ClusterSecret:        *clusterSecret,
		AdvertiseURL:         *advertiseURL,
		RecordFormat:         inbox.Format(*recordFormat),
		Roles:                flagenv.List(*roles),
		ClickHouseAddr:       *clickhouse,
		WhatsAppAPIURL:       *waURL,
		SessionTimeout:       *session,
		IdleAfter:            *idle,
		PprofAddr:            *pprofAddr,
		CookieSecure:         *cookieSecure,
		TemplateSyncInterval: *templateSync,
		MediaCacheBytes:      *mediaCache,
		MediaAllowPrivate:    *mediaPrivate,
		OIDCAllowLoopback:    *oidcLoopback,
		OIDCAllowPrivate:     *oidcPrivate,
		Logger:               log,
	})
	if err != nil {
		return err
	}
	defer n.Close()
	if err := n.Run(ctx); err != nil {
		return err
	}
	log.Info("stopped")
	return n.Close()
}

// parseWithEnv parses args, then fills every flag not given on the command line from SWITCHBOARD_<FLAG>.
func parseWithEnv(fs *flag.FlagSet, args []string) error {
	return flagenv.Parse(fs, args, "SWITCHBOARD_", os.LookupEnv)
}

// sibling runs the command that is built as its own binary next to this one (`switchboard bench` runs
// switchboard-bench): the load generator, the simulator and the plotting they link stay out of the production
// binary. The sibling replaces this process, so its signals, output and exit code are the command's own.
func sibling(name string, args []string) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the switchboard-%s binary: %w", name, err)
	}
	path := filepath.Join(filepath.Dir(exe), "switchboard-"+name)
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("`switchboard %s` runs %s, which is not there (make build builds it): %w", name, path, err)
	}
	return syscall.Exec(path, append([]string{path}, args...), os.Environ())
}

func newLogger(level string, json bool) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: l}
	if json {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
}
