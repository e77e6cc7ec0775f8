package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"time"

	"github.com/switchboard-hq/switchboard/analytics/insights"
	"github.com/switchboard-hq/switchboard/analytics/schema"
)

// insightsCmd prints the insight figures from ClickHouse as a table, or JSON with --json.
func insightsCmd(args []string) error {
	fs := flag.NewFlagSet("insights", flag.ContinueOnError)
	addr := fs.String("clickhouse-addr", "", "ClickHouse native address (host:port)")
	tenant := fs.String("tenant", "", "tenant id; empty: every tenant together")
	since := fs.Duration("since", 24*time.Hour, "window length, ending now")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	if *addr == "" {
		return errors.New("insights: --clickhouse-addr is required")
	}
	conn, err := schema.Open(*addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := insights.Query(ctx, conn, insights.Filter{Tenant: *tenant, Since: *since})
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return insights.WriteTable(os.Stdout, rep)
}
