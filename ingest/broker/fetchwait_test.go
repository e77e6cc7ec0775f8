package broker

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// slowConn delays every read by delay: the broker's answers reach the reader late, as on a loaded node whose broker
// needs time to build a large answer.
type slowConn struct {
	net.Conn
	delay time.Duration
}

func (c slowConn) Read(p []byte) (int, error) {
	time.Sleep(c.delay)
	return c.Conn.Read(p)
}

// A reader whose broker answers 300 ms late still reads with MaxWait inbox.FetchWait(50 ms), and never does with
// a bare MaxWait of 250 ms: kafka-go reads the answer by MaxWait and retries the same fetch after a timeout, so a
// node slower than that margin would read nothing, for ever (the live feed once did, for three minutes).
func TestFetchWaitOutlastsALateAnswer(t *testing.T) {
	e, err := NewEmbedded(Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	brokers := []string{e.Addr()}
	if err := EnsureTopics(ctx, brokers, 1, 1, inbox.EventsTopic); err != nil {
		t.Fatal(err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: inbox.EventsTopic, BatchTimeout: time.Millisecond}
	defer w.Close()
	if err := w.WriteMessages(ctx, kafka.Message{Key: []byte("acme"), Value: []byte("one")}); err != nil {
		t.Fatal(err)
	}
	slow := &kafka.Dialer{Timeout: 10 * time.Second, DialFunc: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return slowConn{Conn: c, delay: 300 * time.Millisecond}, nil
	}}
	read := func(maxWait, within time.Duration) error {
		rd := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: inbox.EventsTopic, Partition: 0, Dialer: slow,
			MinBytes: 1, MaxBytes: 1 << 20, MaxWait: maxWait})
		defer rd.Close()
		rctx, cancel := context.WithTimeout(ctx, within)
		defer cancel()
		m, err := rd.ReadMessage(rctx)
		if err == nil && string(m.Value) != "one" {
			t.Fatalf("read %q, want one", m.Value)
		}
		return err
	}
	if err := read(inbox.FetchWait(50*time.Millisecond), 20*time.Second); err != nil {
		t.Fatalf("with FetchWait: %v", err)
	}
	if err := read(250*time.Millisecond, 4*time.Second); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("with a bare 250 ms MaxWait the late answer was read (err %v): kafka-go's margin changed, and "+
			"FetchWait's doc with it", err)
	}
}
