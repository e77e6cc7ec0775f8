// Package schema holds Switchboard's analytics tables in ClickHouse: the versioned migrations that create them, the
// row type of the raw events table and its insert, and how to connect. The SQL stays in the subset that runs on
// Debian's ClickHouse 18.16 and on current ClickHouse (docs/clickhouse.md): no DateTime64, no server-side
// parameters, inserts only through PrepareBatch with an explicit column list.
//
// It may import clickhouse-go and the conversation and operator rules' types (event names).
package schema

import (
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Database is the ClickHouse database that holds every analytics table (docs/contract.md, "ClickHouse").
const Database = "switchboard"

// Open returns a connection pool to the ClickHouse server at addr (host:port of the native protocol), as user
// default without a password. It does not dial: the first query does, so Open succeeds while the server is down.
// The pool is safe for concurrent use; Close it when done.
func Open(addr string) (driver.Conn, error) {
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:        []string{addr},
		Auth:        clickhouse.Auth{Database: "default", Username: "default"},
		DialTimeout: 5 * time.Second,
		// An insert of a large batch or an insight query over many events may take seconds; a server that stops
		// answering must still fail the call rather than hang it.
		ReadTimeout:     60 * time.Second,
		MaxOpenConns:    8,
		MaxIdleConns:    4,
		ConnMaxLifetime: 10 * time.Minute,
		Compression:     &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
	})
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %s: %w", addr, err)
	}
	return conn, nil
}
