package schema

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Migration is one versioned change of the analytics schema. Its statements must each be idempotent (CREATE … IF NOT
// EXISTS): two nodes may start at once, and a node may stop between a statement and the record that it was applied.
// ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS, so a later migration that alters a table must check
// system.columns itself (give it a Func).
type Migration struct {
	Version    uint32
	Name       string
	Statements []string
	// Func, when set, runs after Statements: for a change that plain idempotent DDL cannot express.
	Func func(ctx context.Context, conn driver.Conn) error
}

// Migrations is the schema, in order. Append to it; never edit an applied migration.
var Migrations = []Migration{
	{
		Version: 1,
		Name:    "raw events",
		Statements: []string{
			// One row per event as published on switchboard.events; the sink is at-least-once, so an event may
			// be stored more than once and every query deduplicates by (tenant_id, id). ReplacingMergeTree also
			// folds stored repeats away when it merges parts, since a repeat has the same tenant, time and id.
			// at is DateTime (seconds; DateTime64 does not exist on 18.16) with the nanoseconds beside it, and
			// seq is the conversation's version from the event id, which orders a conversation's events exactly.
			// type is an Enum8 (EventTypes): queries filter on it all the time, and a 1-byte column scans ten
			// times faster than the strings; LowCardinality would leak into every UNION and view on 18.16.
			`CREATE TABLE IF NOT EXISTS switchboard.events (
				id String,
				type ` + typeEnum + `,
				at DateTime,
				at_ns UInt32,
				seq UInt64,
				tenant_id String,
				channel_id String,
				conversation_id String,
				contact_id String,
				actor_id String,
				operator_id String,
				previous_operator_id String,
				assignee_id String,
				message_id String,
				status String,
				labels Array(String),
				wait_seconds Float64,
				first_response_seconds Float64,
				handling_seconds Float64,
				message_status String,
				error_code Int32,
				error_title String,
				inserted_at DateTime
			) ENGINE = ReplacingMergeTree()
			PARTITION BY toYYYYMM(at)
			ORDER BY (tenant_id, at, id)`,
		},
	},
	{
		Version: 2,
		Name:    "conversations aggregate",
		Statements: []string{
			// Each conversation's latest state, kept by a materialized view as argMax states keyed by the
			// conversation's version: argMax and max are idempotent, so a repeated event cannot change them, and the
			// point-in-time figures (active, unanswered, awaiting reply) read one row per conversation instead of
			// every event ever stored. message.status events have seq 0 and never win over a versioned event.
			`CREATE TABLE IF NOT EXISTS switchboard.conversations (
				tenant_id String,
				conversation_id String,
				channel_id AggregateFunction(max, String),
				status AggregateFunction(argMax, String, UInt64),
				assignee_id AggregateFunction(argMax, String, UInt64),
				labels AggregateFunction(argMax, Array(String), UInt64),
				last_message AggregateFunction(argMax, String, UInt64),
				last_at AggregateFunction(max, DateTime)
			) ENGINE = AggregatingMergeTree()
			ORDER BY (tenant_id, conversation_id)`,
			`CREATE MATERIALIZED VIEW IF NOT EXISTS switchboard.conversations_mv TO switchboard.conversations AS
			SELECT
				tenant_id,
				conversation_id,
				maxState(channel_id) AS channel_id,
				argMaxState(status, seq) AS status,
				argMaxState(assignee_id, seq) AS assignee_id,
				argMaxState(labels, if(type = 'conversation.labels_changed', seq, toUInt64(0))) AS labels,
				argMaxState(CAST(type AS String), if(type IN ('message.received', 'message.queued'), seq, toUInt64(0))) AS last_message,
				maxState(at) AS last_at
			FROM switchboard.events
			GROUP BY tenant_id, conversation_id`,
		},
	},
	{
		Version:    3,
		Name:       "hourly insight roll-ups",
		Statements: rollupStatements,
		// Back-fill: the arrivals of the events already stored (the view only sees later inserts; an insert
		// seen by both counts once, max being idempotent), then a roll-up of every settled hour.
		Func: func(ctx context.Context, conn driver.Conn) error {
			if err := conn.Exec(ctx, backfillArrivals); err != nil {
				return fmt.Errorf("back-fill insight arrivals: %w", err)
			}
			_, err := rollup(ctx, conn, time.Now())
			return err
		},
	},
	{
		Version:    4,
		Name:       "audit log",
		Statements: []string{createAudit},
	},
	{
		Version:    5,
		Name:       "open conversations snapshots",
		Statements: openStatements,
	},
}

const (
	createDatabase   = `CREATE DATABASE IF NOT EXISTS switchboard`
	createMigrations = `CREATE TABLE IF NOT EXISTS switchboard.schema_migrations (
		version UInt32,
		name String,
		applied_at DateTime
	) ENGINE = ReplacingMergeTree()
	ORDER BY version`
	insertMigration = `INSERT INTO switchboard.schema_migrations (version, name, applied_at)`
)

// Migrate applies the Migrations not yet recorded in switchboard.schema_migrations, in order, and returns the
// versions it applied. It is idempotent and safe to run from several nodes at once.
func Migrate(ctx context.Context, conn driver.Conn) ([]uint32, error) {
	return migrate(ctx, conn, Migrations)
}

func migrate(ctx context.Context, conn driver.Conn, ms []Migration) ([]uint32, error) {
	for _, q := range []string{createDatabase, createMigrations} {
		if err := conn.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("migrate: bootstrap: %w", err)
		}
	}
	applied, err := Applied(ctx, conn)
	if err != nil {
		return nil, err
	}
	var did []uint32
	for _, m := range ms {
		if slices.Contains(applied, m.Version) {
			continue
		}
		for i, q := range m.Statements {
			if err := conn.Exec(ctx, q); err != nil {
				return did, fmt.Errorf("migrate: version %d (%s) statement %d: %w", m.Version, m.Name, i+1, err)
			}
		}
		if m.Func != nil {
			if err := m.Func(ctx, conn); err != nil {
				return did, fmt.Errorf("migrate: version %d (%s): %w", m.Version, m.Name, err)
			}
		}
		if err := record(ctx, conn, m); err != nil {
			return did, err
		}
		did = append(did, m.Version)
	}
	return did, nil
}

// Statements returns every DDL statement of the schema in order, the bootstrap included: what Migrate runs on an
// empty server. For checking the schema on another engine.
func Statements() []string {
	out := []string{createDatabase, createMigrations}
	for _, m := range Migrations {
		out = append(out, m.Statements...)
	}
	return out
}

// Applied returns the versions recorded in switchboard.schema_migrations, ascending.
func Applied(ctx context.Context, conn driver.Conn) ([]uint32, error) {
	rows, err := conn.Query(ctx, `SELECT DISTINCT version FROM switchboard.schema_migrations ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("migrate: read applied versions: %w", err)
	}
	defer rows.Close()
	var vs []uint32
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("migrate: read applied versions: %w", err)
		}
		vs = append(vs, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("migrate: read applied versions: %w", err)
	}
	return vs, nil
}

func record(ctx context.Context, conn driver.Conn, m Migration) error {
	b, err := conn.PrepareBatch(ctx, insertMigration)
	if err != nil {
		return fmt.Errorf("migrate: record version %d: %w", m.Version, err)
	}
	if err := b.Append(m.Version, m.Name, time.Now().UTC().Truncate(time.Second)); err != nil {
		_ = b.Abort()
		return fmt.Errorf("migrate: record version %d: %w", m.Version, err)
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("migrate: record version %d: %w", m.Version, err)
	}
	return nil
}
