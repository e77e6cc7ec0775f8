package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/switchboard-hq/switchboard/cmd/switchboard/node"
	"github.com/switchboard-hq/switchboard/ingest/broker"
)

// brokerCmd runs the embedded Kafka-protocol broker as a process of its own (`switchboard broker`), so several nodes
// on one machine (or a test) share one broker: each node is started with `--kafka-brokers` naming it. It creates
// Switchboard's topics before it says it is ready, with the retention a node's embedded broker gives them, and stops
// on SIGTERM or SIGINT, persisting its data under --data-dir/kafka (the same place `serve` keeps its embedded
// broker's, so a data directory moves between the two).
func brokerCmd(args []string) error {
	fs := flag.NewFlagSet("broker", flag.ContinueOnError)
	addr := fs.String("kafka-addr", "127.0.0.1:9092", "where the broker listens (host:port; port 0 picks one)")
	dataDir := fs.String("data-dir", "./data", "the broker keeps its segments, topics and group offsets in DIR/kafka")
	fsync := fs.Bool("fsync", false, "fsync each batch written (off: an acknowledged record survives kill -9, not a power cut)")
	partitions := fs.Int("partitions", 12, "partition count of switchboard.inbox and switchboard.events")
	session := fs.Duration("group-min-session-timeout", time.Second, "the shortest consumer group session timeout the broker accepts")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logJSON := fs.Bool("log-json", false, "log as JSON lines")
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	if *partitions < 1 {
		return fmt.Errorf("--partitions %d: must be at least 1", *partitions)
	}
	log, err := newLogger(*logLevel, *logJSON)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	b, err := broker.NewEmbedded(broker.Config{Addr: *addr, DataDir: filepath.Join(*dataDir, "kafka"), NoSync: !*fsync,
		SessionTimeoutMin: *session, Logger: log})
	if err != nil {
		return err
	}
	defer b.Close()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = node.CreateTopics(tctx, []string{b.Addr()}, *partitions, 1, true)
	cancel()
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	log.Info("kafka broker ready", "addr", b.Addr(), "data_dir", filepath.Join(*dataDir, "kafka"))
	// The address on stdout alone, so a script that asked for port 0 can read it.
	fmt.Fprintf(os.Stdout, "broker listening on %s\n", b.Addr())
	<-ctx.Done()
	log.Info("stopping")
	return b.Close()
}
