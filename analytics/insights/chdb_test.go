package insights_test

// TestCurrentEngine runs the schema and every insight query on current ClickHouse, through chdb (npm), which runs
// ClickHouse's engine in-process. deploy/clickhouse/check-current.sh installs chdb and runs it; without
// SWITCHBOARD_CHDB_DIR it is skipped. ? arguments are bound here as clickhouse-go binds them on the client.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/switchboard-hq/switchboard/analytics/schema"
)

func TestCurrentEngine(t *testing.T) {
	dir := os.Getenv("SWITCHBOARD_CHDB_DIR")
	if dir == "" {
		t.Skip("SWITCHBOARD_CHDB_DIR is not set: run deploy/clickhouse/check-current.sh")
	}
	db := startChdb(t, dir)
	rows, err := db.Query(context.Background(), "SELECT version()")
	if err != nil || !rows.Next() {
		t.Fatalf("chdb: version: %v", err)
	}
	var version string
	if err := rows.Scan(&version); err != nil {
		t.Fatal(err)
	}
	t.Logf("chdb: ClickHouse %s", version)
	for _, q := range schema.Statements() {
		db.exec(t, q)
	}
	insert := func(rows []schema.Event) { db.insert(t, rows) }
	t.Run("scripted", func(t *testing.T) { checkScripted(t, db, insert) })
	db.exec(t, "TRUNCATE TABLE switchboard.events")
	db.exec(t, "TRUNCATE TABLE switchboard.conversations")
	t.Run("random", func(t *testing.T) { checkRandom(t, db, insert) })
	db.exec(t, "TRUNCATE TABLE switchboard.events")
	db.exec(t, "TRUNCATE TABLE switchboard.conversations")
	t.Run("summary", func(t *testing.T) { checkSummaryUnrolled(t, db, insert) })
	// The live summary over a snapshot of the open conversations (schema.SnapshotOpen's statement, taken after each
	// insert): one covering every event (its rows are read), one covering none (the aggregate is read for all).
	for _, c := range []struct {
		name string
		back time.Duration
	}{{"summary-snapshot", 10 * time.Minute}, {"summary-snapshot-changed", 60 * time.Hour}} {
		for _, tbl := range []string{"events", "conversations", "insights_open", "insights_open_taken", "insights_arrivals"} {
			db.exec(t, "TRUNCATE TABLE switchboard."+tbl)
		}
		version := uint64(0)
		snapshot := func(rows []schema.Event) {
			insert(rows)
			version++
			db.exec(t, schema.SnapshotOpenSQL(version))
			db.exec(t, fmt.Sprintf(`INSERT INTO switchboard.insights_open_taken (version, covered) VALUES (%d, %d)`,
				version, time.Now().Add(-c.back).Unix()))
		}
		t.Run(c.name, func(t *testing.T) { checkSummaryUnrolled(t, db, snapshot) })
	}
}

// chdb is an insights.Querier over a node process running chdb.
type chdb struct {
	mu  sync.Mutex
	in  io.Writer
	out *bufio.Reader
}

func startChdb(t *testing.T, dir string) *chdb {
	t.Helper()
	cmd := exec.Command("node", "testdata/chdb.mjs", t.TempDir())
	cmd.Env = append(os.Environ(), "CHDB_DIR="+dir)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); _ = cmd.Wait() })
	return &chdb{in: in, out: bufio.NewReaderSize(out, 1<<20)}
}

// run sends one statement and returns chdb's JSONCompactEachRowWithNamesAndTypes output.
func (c *chdb) run(sql string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	req, _ := json.Marshal(map[string]string{"sql": sql})
	if _, err := c.in.Write(append(req, '\n')); err != nil {
		return "", err
	}
	line, err := c.out.ReadBytes('\n')
	if err != nil {
		return "", fmt.Errorf("chdb: %w", err)
	}
	var ans struct{ Data, Error string }
	if err := json.Unmarshal(line, &ans); err != nil {
		return "", err
	}
	if ans.Error != "" {
		return "", fmt.Errorf("chdb: %s\nin: %s", ans.Error, sql)
	}
	return ans.Data, nil
}

func (c *chdb) exec(t *testing.T, sql string) string {
	t.Helper()
	out, err := c.run(sql)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// insert stores rows in switchboard.events with a plain INSERT … VALUES (fine on chdb; the sink uses PrepareBatch).
func (c *chdb) insert(t *testing.T, rows []schema.Event) {
	t.Helper()
	if len(rows) == 0 {
		return
	}
	var b strings.Builder
	b.WriteString(`INSERT INTO switchboard.events (id, type, at, at_ns, seq, tenant_id, channel_id, conversation_id,
		contact_id, actor_id, operator_id, previous_operator_id, assignee_id, message_id, status, labels, wait_seconds,
		first_response_seconds, handling_seconds, message_status, error_code, error_title, inserted_at) VALUES `)
	for i, e := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		labels := make([]string, len(e.Labels))
		for j, l := range e.Labels {
			labels[j] = literal(l)
		}
		fmt.Fprintf(&b, "(%s, %s, %d, %d, %d, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, [%s], %s, %s, %s, %s, %d, %s, %d)",
			literal(e.ID), literal(e.Type), e.At.Unix(), e.At.Nanosecond(), e.Seq, literal(e.TenantID),
			literal(e.ChannelID), literal(e.ConversationID), literal(e.ContactID), literal(e.ActorID),
			literal(e.OperatorID), literal(e.PreviousOperatorID), literal(e.AssigneeID), literal(e.MessageID),
			literal(e.Status), strings.Join(labels, ", "), literal(e.WaitSeconds), literal(e.FirstResponseSeconds),
			literal(e.HandlingSeconds), literal(e.MessageStatus), e.ErrorCode, literal(e.ErrorTitle), e.At.Unix())
	}
	c.exec(t, b.String())
}

// literal renders an argument as clickhouse-go's client-side binding does.
func literal(v any) string {
	switch v := v.(type) {
	case string:
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	default:
		return fmt.Sprint(v)
	}
}

// Query binds args into query and runs it.
func (c *chdb) Query(_ context.Context, query string, args ...any) (driver.Rows, error) {
	var b strings.Builder
	for _, r := range query {
		if r == '?' {
			if len(args) == 0 {
				return nil, errors.New("chdb: more ? than arguments")
			}
			b.WriteString(literal(args[0]))
			args = args[1:]
			continue
		}
		b.WriteRune(r)
	}
	if len(args) > 0 {
		return nil, fmt.Errorf("chdb: more arguments than ? (%d left) in %s", len(args), query)
	}
	out, err := c.run(b.String())
	if err != nil {
		return nil, err
	}
	rs := &chRows{i: -1}
	for n, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var vals []any
		d := json.NewDecoder(strings.NewReader(line))
		d.UseNumber()
		if err := d.Decode(&vals); err != nil {
			return nil, fmt.Errorf("chdb: row %q: %w", line, err)
		}
		switch n {
		case 0:
			for _, v := range vals {
				rs.names = append(rs.names, fmt.Sprint(v))
			}
		case 1: // types
		default:
			rs.rows = append(rs.rows, vals)
		}
	}
	return rs, nil
}

// chRows is driver.Rows over decoded JSON rows; Scan handles the types Query reads.
type chRows struct {
	names []string
	rows  [][]any
	i     int
	err   error
}

func (r *chRows) Next() bool { r.i++; return r.i < len(r.rows) }

func (r *chRows) Scan(dest ...any) error {
	row := r.rows[r.i]
	if len(dest) != len(row) {
		return fmt.Errorf("chdb: scan %d values into %d", len(row), len(dest))
	}
	for i, d := range dest {
		v := row[i]
		s := fmt.Sprint(v)
		var err error
		switch d := d.(type) {
		case *string:
			*d = s
		case *uint8:
			var n uint64
			n, err = strconv.ParseUint(s, 10, 8)
			*d = uint8(n)
		case *uint32:
			var n uint64
			n, err = strconv.ParseUint(s, 10, 32)
			*d = uint32(n)
		case *uint64:
			*d, err = strconv.ParseUint(s, 10, 64)
		case *float64:
			if v == nil {
				*d = math.NaN()
			} else {
				*d, err = strconv.ParseFloat(s, 64)
			}
		default:
			return fmt.Errorf("chdb: scan into %T", d)
		}
		if err != nil {
			return fmt.Errorf("chdb: column %s: %w", r.names[i], err)
		}
	}
	return nil
}

func (r *chRows) ScanStruct(any) error             { return errors.New("chdb: ScanStruct unsupported") }
func (r *chRows) ColumnTypes() []driver.ColumnType { return nil }
func (r *chRows) Totals(...any) error              { return errors.New("chdb: Totals unsupported") }
func (r *chRows) Columns() []string                { return r.names }
func (r *chRows) Close() error                     { return nil }
func (r *chRows) Err() error                       { return r.err }
func (r *chRows) HasData() bool                    { return len(r.rows) > 0 }
