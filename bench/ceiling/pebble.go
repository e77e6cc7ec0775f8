package ceiling

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/switchboard-hq/switchboard/bench/report"
)

// PebbleConfig configures PebbleSync.
type PebbleConfig struct {
	// Dir is where the scratch Pebble directory is made (and removed afterwards). Empty means os.TempDir(). It
	// should be on the disk the node's store uses: the figure is mostly that disk's fsync.
	Dir string
	// Writers is how many goroutines write at once, each waiting for its synced write before the next. 0 means 256.
	Writers int
	// ValueSize is each value's size in bytes. 0 means 200.
	ValueSize int
	// Duration is how long the writers write. 0 means 3s.
	Duration time.Duration
}

func (c *PebbleConfig) setDefaults() {
	if c.Writers == 0 {
		c.Writers = 256
	}
	if c.ValueSize == 0 {
		c.ValueSize = 200
	}
	if c.Duration == 0 {
		c.Duration = 3 * time.Second
	}
}

// Validate reports the first invalid field.
func (c *PebbleConfig) Validate() error {
	switch {
	case c.Writers < 0:
		return fmt.Errorf("%w: Writers %d is negative", ErrInvalidConfig, c.Writers)
	case c.ValueSize < 0:
		return fmt.Errorf("%w: ValueSize %d is negative", ErrInvalidConfig, c.ValueSize)
	case c.Duration < 0:
		return fmt.Errorf("%w: Duration %v is negative", ErrInvalidConfig, c.Duration)
	}
	return nil
}

// PebbleSync measures Pebble's synced single-key writes: Writers goroutines each Set a new key with pebble.Sync and
// wait for it, for Duration, so Pebble commits their writes to the WAL in groups with one fsync each. Throughput is
// synced writes per second; Latency is each Set's.
func PebbleSync(ctx context.Context, cfg PebbleConfig) (report.Ceiling, error) {
	const name = "pebble_sync"
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return report.Ceiling{}, fmt.Errorf("ceiling %s: %w", name, err)
	}
	if err := ctx.Err(); err != nil {
		return report.Ceiling{}, fmt.Errorf("ceiling %s: %w", name, err)
	}
	dir, err := os.MkdirTemp(cfg.Dir, "ceiling-pebble-")
	if err != nil {
		return report.Ceiling{}, fmt.Errorf("ceiling %s: scratch dir: %w", name, err)
	}
	defer os.RemoveAll(dir)
	// The store's memtable size, so flushes come as often as in the node.
	db, err := pebble.Open(dir, &pebble.Options{MemTableSize: 64 << 20, Logger: quietPebble{}})
	if err != nil {
		return report.Ceiling{}, fmt.Errorf("ceiling %s: open pebble: %w", name, err)
	}
	closed := false
	defer func() {
		if !closed {
			_ = db.Close()
		}
	}()

	value := make([]byte, cfg.ValueSize)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	// keys[w] is writer w's key buffer: "c/<writer>/<sequence>", big-endian so each writer appends in order.
	keys := make([][]byte, cfg.Writers)
	seqs := make([]uint64, cfg.Writers)
	for w := range keys {
		keys[w] = binary.BigEndian.AppendUint32([]byte("c/"), uint32(w))
		keys[w] = append(keys[w], '/', 0, 0, 0, 0, 0, 0, 0, 0)
	}
	lat := newLatencies()
	n, elapsed, err := loop(ctx, cfg.Duration, cfg.Writers, lat, func(_ context.Context, w int) error {
		k := keys[w]
		seqs[w]++
		binary.BigEndian.PutUint64(k[len(k)-8:], seqs[w])
		if err := db.Set(k, value, pebble.Sync); err != nil { // Set copies k and value
			return fmt.Errorf("set: %w", err)
		}
		return nil
	})
	if err != nil {
		return report.Ceiling{}, fmt.Errorf("ceiling %s: %w", name, err)
	}
	closed = true
	if err := db.Close(); err != nil {
		return report.Ceiling{}, fmt.Errorf("ceiling %s: close pebble: %w", name, err)
	}
	return measured(name, fmt.Sprintf("Pebble single-key Set with Sync, %d concurrent writers (group commit), %d-byte values",
		cfg.Writers, cfg.ValueSize), n, elapsed, lat, nil)
}

// quietPebble drops Pebble's informational chatter and passes its errors to slog.
type quietPebble struct{}

func (quietPebble) Infof(string, ...any) {}
func (quietPebble) Errorf(format string, args ...any) {
	slog.Error("ceiling pebble: " + fmt.Sprintf(format, args...))
}
func (quietPebble) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("ceiling pebble fatal: "+format, args...))
}
