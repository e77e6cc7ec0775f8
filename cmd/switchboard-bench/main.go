// Command switchboard-bench is Switchboard's benchmark suite (`switchboard bench` runs it): it starts a node from
// the switchboard binary beside it, drives it like Meta and operators, and writes a report. It is its own binary so
// the production one links neither the load generator nor the plotting.
//
// It imports bench/ and cmd/flagenv.
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
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/switchboard-hq/switchboard/bench/report"
	"github.com/switchboard-hq/switchboard/bench/scenario"
	"github.com/switchboard-hq/switchboard/cmd/flagenv"
)

func main() {
	if err := benchCmd(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "switchboard bench:", err)
		os.Exit(1)
	}
}

// benchCmd runs a benchmark scenario against a node it starts from this binary, and writes the report.
func benchCmd(args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	name := fs.String("scenario", "standard", "one of "+strings.Join(scenario.Names, ", "))
	out := fs.String("out", "bench/results", "report directory: <out>/<scenario>/report.{json,md} and PNG plots")
	dir := fs.String("dir", "", "node data and log directory; empty: a temporary one, removed after the run")
	keep := fs.Bool("keep", false, "keep the temporary node directory")
	convs := fs.Int("conversations", 1_000_000, "stored conversations seeded by the memory and recovery scenarios")
	duration := fs.Duration("duration", time.Hour, "length of the soak scenario")
	rates := fs.String("rates", "", "comma-separated msg/s replacing the standard ramp (soak: its rate)")
	step := fs.Duration("step", 25*time.Second, "length of each standard step")
	profile := fs.Bool("profile", false, "save a CPU profile of the node from the middle of each load step (cpu-stepN.pprof)")
	changelogOn := fs.Bool("changelog", false, "run the node with --changelog, to measure what the changelog costs")
	nodeURL := fs.String("node-url", "", "drive the node already running there instead of starting one (smoke, standard, soak)")
	brokers := fs.String("kafka-brokers", "", "with --node-url: the node's Kafka brokers (comma-separated)")
	simAddr := fs.String("sim-addr", "127.0.0.1:9600", "with --node-url: where the WhatsApp simulator listens (the node's --whatsapp-api-url)")
	printConfig := fs.Bool("print-config", false, "print the node config (YAML) the scenario's tenants need, for --node-url, and exit")
	readme := fs.String("update-readme", "", "run nothing: render the latest standard, memory and recovery reports under --out again and put them into this file's marked blocks")
	if err := flagenv.Parse(fs, args, "SWITCHBOARD_", os.LookupEnv); err != nil {
		return err
	}
	if *readme != "" {
		return updateReadme(*readme, *out)
	}
	if *printConfig {
		yaml, err := scenario.NodeConfig(*name)
		if err != nil {
			return err
		}
		fmt.Print(yaml)
		return nil
	}
	cfg := scenario.Config{Name: *name, NodeURL: *nodeURL, SimAddr: *simAddr, Out: *out, Dir: *dir, Keep: *keep, Conversations: *convs, Duration: *duration,
		StepDuration: *step, Profile: *profile, Changelog: *changelogOn, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	cfg.Brokers = flagenv.List(*brokers)
	if *rates != "" {
		for _, r := range flagenv.List(*rates) {
			v, err := strconv.ParseFloat(r, 64)
			if err != nil || v <= 0 {
				return fmt.Errorf("bench: --rates: %q is not a positive number", r)
			}
			cfg.Rates = append(cfg.Rates, v)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := scenario.Run(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Print(rep.Markdown())
	return nil
}

// updateReadme splices the latest reports under out into the README's `<!-- bench:… -->` blocks.
func updateReadme(file, out string) error {
	var reps [3]*report.Report
	for i, name := range []string{"standard", "memory", "recovery"} {
		f, err := os.Open(filepath.Join(out, name, "report.json"))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		reps[i], err = report.ReadJSON(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s report: %w", name, err)
		}
		// Rendered again, so the Markdown and plots follow the current renderer.
		if err := reps[i].WriteAll(filepath.Join(out, name)); err != nil {
			return fmt.Errorf("%s report: %w", name, err)
		}
	}
	doc, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	spliced, err := report.Splice(string(doc), report.ReadmeBlocks(reps[0], reps[1], reps[2]))
	if err != nil {
		return fmt.Errorf("update %s: %w", file, err)
	}
	return os.WriteFile(file, []byte(spliced), 0o644)
}
