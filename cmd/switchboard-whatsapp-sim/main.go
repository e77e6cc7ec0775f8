// Command switchboard-whatsapp-sim simulates the WhatsApp Cloud API for tests and demos (`switchboard whatsapp-sim`
// runs it): it accepts sends, posts signed status webhooks and can play customers. It is its own binary so the
// production one does not link the simulator.
//
// It imports ingest/whatsapp/sim and cmd/flagenv.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/switchboard-hq/switchboard/cmd/flagenv"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/sim"
)

// simEnvPrefix starts the environment variable of each flag of whatsapp-sim: SWITCHBOARD_SIM_ and the flag in upper
// snake case (--webhook-url is SWITCHBOARD_SIM_WEBHOOK_URL). A flag on the command line wins.
const simEnvPrefix = "SWITCHBOARD_SIM_"

func main() {
	if err := whatsappSim(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "switchboard whatsapp-sim:", err)
		os.Exit(1)
	}
}

// whatsappSim is the `switchboard whatsapp-sim` command: args are its flags (os.Args[1:]). It serves until SIGINT
// or SIGTERM and returns nil then; with -h it prints the flags and returns flag.ErrHelp. It prints where it
// listens on stdout and logs to stderr.
func whatsappSim(args []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runWhatsappSim(ctx, args, os.Stdout, os.Stderr, os.LookupEnv)
}

// runWhatsappSim is whatsappSim with its context, outputs and environment given, for tests.
func runWhatsappSim(ctx context.Context, args []string, stdout, stderr io.Writer, lookupEnv func(string) (string, bool)) error {
	fs := flag.NewFlagSet("whatsapp-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg sim.Config
	var cust sim.CustomersConfig
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:9500", "where the simulated Cloud API listens (HOST:PORT)")
	fs.StringVar(&cfg.WebhookURL, "webhook-url", "", "where to post signed status webhooks (sent, delivered, read); empty posts none")
	fs.StringVar(&cfg.AppSecret, "app-secret", "", "the Meta app secret that signs webhooks (required with --webhook-url)")
	tokens := fs.String("tokens", "", "PHONE_NUMBER_ID=TOKEN,… : serve only these numbers with these tokens; empty accepts any token")
	fs.IntVar(&cfg.Rate, "rate", sim.DefaultRate, "throughput limit per phone number, messages per second")
	fs.IntVar(&cfg.Burst, "burst", 0, "token bucket size per phone number (0: --rate)")
	fs.DurationVar(&cfg.Latency, "latency", 0, "added to every answer of the send endpoint")
	fs.Float64Var(&cfg.Fail.Rate429, "fail-429", 0, "fraction of valid requests answered 429 (130429)")
	fs.Float64Var(&cfg.Fail.Rate5xx, "fail-5xx", 0, "fraction of valid requests answered 500 or 503")
	fs.Float64Var(&cfg.Fail.RatePermanent, "fail-permanent", 0, "fraction of valid requests failing with --permanent-code")
	fs.IntVar(&cfg.Fail.PermanentCode, "permanent-code", sim.DefaultPermanentCode, "Meta error code of injected permanent failures")
	fs.BoolVar(&cfg.Fail.PermanentAsync, "permanent-async", false, "report permanent failures as failed status webhooks after accepting, as Meta mostly does")
	fs.DurationVar(&cfg.StatusDelay, "status-delay", sim.DefaultStatusDelay, "gap between acceptance, sent, delivered and read")
	fs.Int64Var(&cfg.Seed, "seed", 0, "seed of the injected failures")
	fs.IntVar(&cfg.MaxRecorded, "max-recorded", sim.DefaultMaxRecorded, "accepted messages kept for GET /sim/messages (and mark-as-read calls for GET /sim/reads)")
	fs.Float64Var(&cust.Rate, "customers-rate", 0, "inbound customer messages per second to post (0: no customers unless --customers-count)")
	fs.IntVar(&cust.Count, "customers-count", 0, "inbound customer messages to post in all (0: until stopped)")
	fs.IntVar(&cust.Contacts, "customers-contacts", sim.DefaultCustomerContacts, "distinct customers writing in")
	fs.StringVar(&cust.Text, "customers-text", sim.DefaultCustomerText, "text of the customer messages")
	fs.StringVar(&cust.PhoneNumberID, "customers-phone-number-id", "", "business phone number id the customers write to")
	fs.StringVar(&cust.WebhookURL, "customers-webhook-url", "", "where customer messages are posted (default --webhook-url)")
	fs.StringVar(&cust.AppSecret, "customers-app-secret", "", "secret signing customer messages (default --app-secret)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := flagenv.Parse(fs, args, simEnvPrefix, lookupEnv); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: %w", *logLevel, err)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	var err error
	if cfg.Tokens, err = parseSimTokens(*tokens); err != nil {
		return err
	}
	customers := cust.Rate > 0 || cust.Count > 0
	if !customers && cust.PhoneNumberID != "" {
		return errors.New("--customers-phone-number-id needs --customers-rate or --customers-count")
	}

	s, err := sim.New(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	if customers {
		if err := s.CheckCustomers(cust); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "whatsapp-sim listening on %s (POST /{phone_number_id}/messages, GET /sim/messages, GET /sim/reads, GET /sim/stats)\n", s.URL())
	if cfg.WebhookURL != "" {
		fmt.Fprintf(stdout, "whatsapp-sim posts status webhooks to %s\n", cfg.WebhookURL)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	custDone := make(chan error, 1)
	if customers {
		fmt.Fprintf(stdout, "whatsapp-sim plays %d customers writing to %s at %v/s\n", cust.Contacts, cust.PhoneNumberID, cust.Rate)
		go func() { custDone <- s.Customers(ctx, cust) }()
	} else {
		custDone <- nil
	}
	runErr := s.Run(ctx)
	cancel()
	if err := <-custDone; err != nil && ctx.Err() == nil {
		cfg.Logger.Warn("customers stopped", "err", err)
	}
	if runErr != nil {
		return runErr
	}
	return s.Close()
}

// parseSimTokens reads "id=token,id=token"; "" is nil (any token).
func parseSimTokens(s string) (map[string]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	m := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		id, tok, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || id == "" || tok == "" {
			return nil, fmt.Errorf("--tokens: %q is not PHONE_NUMBER_ID=TOKEN", pair)
		}
		m[id] = tok
	}
	return m, nil
}
