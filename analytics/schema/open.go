package schema

// Snapshots of the open conversations (issue 13, insights p95): what the live point-in-time figures (active,
// unanswered, awaiting reply) read instead of merging every conversation of the tenant with FINAL.
//
// switchboard.conversations holds one aggregate row per conversation ever seen (900k for a tenant with 10M events),
// and FINAL must merge all of them to find the few thousand that are open: it was most of a live summary's time.
// SnapshotOpen writes, every OpenEvery, the open conversations of every tenant (a few percent of them) as plain rows
// of switchboard.insights_open under a version, and records in switchboard.insights_open_taken the insert time
// before which every event is in it (covered: the snapshot's time less RollMargin, as for the hourly roll-ups). A
// reader takes the latest snapshot's rows for the conversations with no event inserted at or after covered, and the
// aggregate's current state for those with one (found through switchboard.insights_arrivals, so only the hours that
// received them are scanned): exactly the aggregate's answer, for a fraction of its cost. Snapshots older than the
// day before the latest are dropped by partition. Like the roll-ups, the tables hold no contact or message id.

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// OpenEvery is how often SnapshotOpen takes a snapshot: the live figures read the aggregate for the conversations
// that received events in at most OpenEvery + RollMargin before now.
const OpenEvery = 10 * time.Minute

var openStatements = []string{
	// One row per open conversation (status not closed) of one snapshot (version), every tenant at once.
	`CREATE TABLE IF NOT EXISTS switchboard.insights_open (
		version UInt64,
		taken_at DateTime,
		tenant_id String,
		conversation_id String,
		status String,
		assignee_id String,
		awaiting UInt8
	) ENGINE = MergeTree()
	PARTITION BY toYYYYMMDD(taken_at)
	ORDER BY (version, tenant_id, conversation_id)`,
	// One row per snapshot, written after its rows: every event inserted before covered is in it.
	`CREATE TABLE IF NOT EXISTS switchboard.insights_open_taken (
		version UInt64,
		covered DateTime
	) ENGINE = MergeTree()
	ORDER BY version`,
}

// OpenSnapshot names a snapshot of the open conversations.
type OpenSnapshot struct {
	Version uint64
	// Covered is the insert time before which every event is in the snapshot.
	Covered time.Time
}

// LatestOpen returns the latest snapshot of the open conversations; ok is false when there is none.
func LatestOpen(ctx context.Context, conn Querier) (s OpenSnapshot, ok bool, err error) {
	rows, err := conn.Query(ctx, `SELECT version, toUInt32(covered) FROM switchboard.insights_open_taken ORDER BY version DESC LIMIT 1`)
	if err != nil {
		return s, false, fmt.Errorf("latest open snapshot: %w", err)
	}
	defer rows.Close()
	if rows.Next() {
		var c uint32
		if err := rows.Scan(&s.Version, &c); err != nil {
			return s, false, fmt.Errorf("latest open snapshot: %w", err)
		}
		s.Covered, ok = time.Unix(int64(c), 0).UTC(), true
	}
	return s, ok, rows.Err()
}

// Querier runs a query, binding ? arguments on the client, as clickhouse-go's driver.Conn does; driver.Conn is the
// Querier of production, a test may drive another engine through it.
type Querier interface {
	Query(ctx context.Context, query string, args ...any) (driver.Rows, error)
}

// SnapshotOpen takes a snapshot of the open conversations of every tenant as of now when the latest one covers
// less than OpenEvery before now−RollMargin, and drops the snapshots of days before the latest's day but one. It
// reports whether it took one. Running it again, or on several nodes at once, is harmless: readers take the latest.
func SnapshotOpen(ctx context.Context, conn driver.Conn, now time.Time) (bool, error) {
	covered := now.Add(-RollMargin).UTC().Truncate(time.Second)
	last, ok, err := LatestOpen(ctx, conn)
	if err != nil {
		return false, err
	}
	if ok && covered.Sub(last.Covered) < OpenEvery {
		return false, nil
	}
	version := uint64(now.UnixNano())
	if ok && version <= last.Version {
		return false, nil
	}
	if err := conn.Exec(ctx, SnapshotOpenSQL(version)); err != nil {
		return false, fmt.Errorf("snapshot open conversations: %w", err)
	}
	b, err := conn.PrepareBatch(ctx, `INSERT INTO switchboard.insights_open_taken (version, covered)`)
	if err != nil {
		return false, fmt.Errorf("record open snapshot: %w", err)
	}
	if err := b.Append(version, covered); err != nil {
		_ = b.Abort()
		return false, fmt.Errorf("record open snapshot: %w", err)
	}
	if err := b.Send(); err != nil {
		return false, fmt.Errorf("record open snapshot: %w", err)
	}
	return true, dropOldOpen(ctx, conn)
}

// SnapshotOpenSQL is the statement that writes snapshot version of the open conversations (SnapshotOpen runs it,
// then records the snapshot in switchboard.insights_open_taken).
func SnapshotOpenSQL(version uint64) string {
	// taken_at is the server's time of the snapshot (it only partitions them).
	return `INSERT INTO switchboard.insights_open
		(version, taken_at, tenant_id, conversation_id, status, assignee_id, awaiting)
		SELECT toUInt64(` + strconv.FormatUint(version, 10) + `), now(), tenant_id, conversation_id, s_status, s_assignee,
			toUInt8(s_last = 'message.received')
		FROM (
			SELECT tenant_id, conversation_id, finalizeAggregation(status) AS s_status,
				finalizeAggregation(assignee_id) AS s_assignee, finalizeAggregation(last_message) AS s_last
			FROM switchboard.conversations FINAL
		)
		WHERE s_status != 'closed'`
}

// dropOldOpen drops the partitions of insights_open before the day before the latest snapshot's: a reader that
// just learnt the latest version still finds its rows.
func dropOldOpen(ctx context.Context, conn driver.Conn) error {
	rows, err := conn.Query(ctx, `SELECT DISTINCT partition FROM system.parts
		WHERE database = 'switchboard' AND table = 'insights_open' AND active
			AND partition < (SELECT toString(toYYYYMMDD(max(taken_at) - 86400)) FROM switchboard.insights_open)`)
	if err != nil {
		return fmt.Errorf("find old open snapshots: %w", err)
	}
	var parts []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			rows.Close()
			return fmt.Errorf("find old open snapshots: %w", err)
		}
		parts = append(parts, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("find old open snapshots: %w", err)
	}
	for _, p := range parts {
		if _, err := strconv.ParseUint(p, 10, 32); err != nil {
			continue // not a day: not one of ours to drop
		}
		if err := conn.Exec(ctx, `ALTER TABLE switchboard.insights_open DROP PARTITION `+p); err != nil {
			return fmt.Errorf("drop open snapshots of %s: %w", p, err)
		}
	}
	return nil
}
