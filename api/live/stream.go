package live

// The Server-Sent Events writer of one connection.

import (
	"bufio"
	"encoding/json"
	"strconv"
	"time"
)

// resetFrame tells the client to refetch everything.
var resetFrame = Frame{Data: formatFrame("", "reset", []byte("{}"))}

// ping is the heartbeat comment.
var ping = []byte(": ping\n\n")

// retryLine asks the browser to reconnect after 2 s.
var retryLine = []byte("retry: 2000\n\n")

func formatFrame(id, typ string, data []byte) []byte {
	b := make([]byte, 0, len(id)+len(typ)+len(data)+24)
	if id != "" {
		b = append(b, "id: "...)
		b = append(b, id...)
		b = append(b, '\n')
	}
	return appendFrameEvent(b, typ, data)
}

// formatSeqFrame is formatFrame with the decimal of seq as its id, in one allocation.
func formatSeqFrame(seq int64, typ string, data []byte) []byte {
	b := make([]byte, 0, 20+len(typ)+len(data)+24)
	b = append(b, "id: "...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, '\n')
	return appendFrameEvent(b, typ, data)
}

func appendFrameEvent(b []byte, typ string, data []byte) []byte {
	b = append(b, "event: "...)
	b = append(b, typ...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	return append(b, "\n\n"...)
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// StreamConfig configures Stream. Zero values take the defaults given.
type StreamConfig struct {
	// Heartbeat is the interval of `: ping` comments. Default 20 s.
	Heartbeat time.Duration
	// Done ends the stream when closed (the server stopping); nil never.
	Done <-chan struct{}
	// BeforeWrite is called before each round of writes to the client (to move the connection's write deadline:
	// a buffer that fills writes before the flush); nil none.
	BeforeWrite func()
	// Counts computes the data of a `counts` event; nil sends none. It is called once at connect and after durable
	// events, at most once per CountsEvery, coalesced.
	Counts func() ([]byte, error)
	// CountsEvery is the least time between two counts events. Default 1 s.
	CountsEvery time.Duration
	// Valid reports whether the caller's credential still holds (the session not signed out nor expired, the token
	// not removed); it is checked at every heartbeat, and the stream ends when it does not. nil: always valid.
	Valid func() bool
	// Transform rewrites each event frame before it is written (the API masks phone numbers with it); it must
	// not modify its argument, which the hub shares between subscribers, but may return it. nil: none.
	Transform func(frame []byte) []byte
}

// Stream writes the subscription to w as Server-Sent Events until the client goes (a write fails), the hub drops
// the subscription (after an overflow it writes `reset` first), or c.Done is closed. It closes the subscription.
func (s *Sub) Stream(w *bufio.Writer, c StreamConfig) {
	defer s.Close()
	if c.Heartbeat <= 0 {
		c.Heartbeat = 20 * time.Second
	}
	if c.CountsEvery <= 0 {
		c.CountsEvery = time.Second
	}
	touch := func() {
		if c.BeforeWrite != nil {
			c.BeforeWrite()
		}
	}
	flush := func() bool { return w.Flush() == nil }
	durable := 0
	write := func(f Frame) {
		if f.Durable {
			durable++
		}
		data := f.Data
		if c.Transform != nil {
			data = c.Transform(data)
		}
		_, _ = w.Write(data) // a failed write shows in the flush
	}
	touch()
	_, _ = w.Write(retryLine)
	for _, f := range s.Initial {
		write(f)
	}
	s.Initial = nil
	var lastCounts time.Time
	countsDue := c.Counts != nil // once at connect
	countsTimer := time.NewTimer(time.Hour)
	countsTimer.Stop()
	defer countsTimer.Stop()
	writeCounts := func() {
		countsDue = false
		lastCounts = time.Now()
		data, err := c.Counts()
		if err != nil {
			return // the next durable event tries again; the client still has its lists
		}
		write(Frame{Data: formatFrame("", "counts", data)})
	}
	s.hub.countSent(durable)
	durable = 0
	if !flush() {
		return
	}
	// The connect's counts after the first flush: the stream is open and its missed events are with the client
	// even while the counts wait (on another node, during a failover, their owner may be seconds away).
	if countsDue {
		writeCounts()
		if !flush() {
			return
		}
	}
	beat := time.NewTicker(c.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case f := <-s.ch:
			touch()
			write(f)
		drain: // write what else is buffered before one flush
			for range cap(s.ch) {
				select {
				case f := <-s.ch:
					write(f)
				default:
					break drain
				}
			}
			if durable > 0 && c.Counts != nil && !countsDue {
				// The counts are computed on the timer, after this round's flush: the events reach the client
				// first, and a count's store read never delays them.
				countsDue = true
				countsTimer.Reset(max(c.CountsEvery-time.Since(lastCounts), 0))
			}
			s.hub.countSent(durable)
			durable = 0
		case <-countsTimer.C:
			if !countsDue {
				continue
			}
			touch()
			writeCounts()
		case <-beat.C:
			if c.Valid != nil && !c.Valid() {
				return
			}
			touch()
			_, _ = w.Write(ping)
		case <-s.gone:
			if s.reason == ResetOverflow {
				touch()
				write(resetFrame)
				flush()
			}
			return
		case <-c.Done:
			return
		}
		if !flush() {
			return
		}
	}
}
