package eventually

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is a testing.TB that records a Fatalf instead of ending the test.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) { r.failed = fmt.Sprintf(format, args...) }

// afterCalls is a condition that holds from its n-th call on, and counts its calls.
func afterCalls(n int64) (func() bool, *atomic.Int64) {
	var calls atomic.Int64
	return func() bool { return calls.Add(1) >= n }, &calls
}

func TestTrueWaitsUntilTheConditionHolds(t *testing.T) {
	cond, calls := afterCalls(5)
	r := &recorder{TB: t}
	True(r, time.Minute, time.Millisecond, cond, "five calls")
	if r.failed != "" {
		t.Fatalf("failed: %s", r.failed)
	}
	if n := calls.Load(); n != 5 {
		t.Errorf("cond called %d times, want 5 (polling stops once it holds)", n)
	}
}

func TestTrueChecksAtOnce(t *testing.T) {
	cond, calls := afterCalls(1)
	r := &recorder{TB: t}
	// A poll longer than any test: returning at all shows the first check was not after a sleep.
	True(r, time.Hour, time.Hour, cond, "at once")
	if r.failed != "" || calls.Load() != 1 {
		t.Fatalf("failed %q after %d calls", r.failed, calls.Load())
	}
}

func TestTrueFailsWithWhatItWaitedFor(t *testing.T) {
	r := &recorder{TB: t}
	True(r, 0, time.Millisecond, func() bool { return false }, "queue %s empty", "q1")
	if !strings.Contains(r.failed, "queue q1 empty") || !strings.Contains(r.failed, "did not hold") {
		t.Fatalf("failure %q does not say what it waited for", r.failed)
	}
}

func TestNoErrorFailsWithTheLastError(t *testing.T) {
	var calls atomic.Int64
	r := &recorder{TB: t}
	NoError(r, 0, time.Millisecond, func() error { return fmt.Errorf("depth %d, want 0", calls.Add(1)) }, "drained")
	if !strings.Contains(r.failed, "drained") || !strings.Contains(r.failed, fmt.Sprintf("depth %d, want 0", calls.Load())) {
		t.Fatalf("failure %q lacks the condition's last error", r.failed)
	}
}

func TestWait(t *testing.T) {
	errNotYet := errors.New("not yet")
	var calls atomic.Int64
	if err := Wait(time.Minute, time.Millisecond, func() error {
		if calls.Add(1) < 3 {
			return errNotYet
		}
		return nil
	}); err != nil || calls.Load() != 3 {
		t.Fatalf("err %v after %d calls, want nil after 3", err, calls.Load())
	}
	err := Wait(0, time.Millisecond, func() error { return errNotYet })
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, errNotYet) {
		t.Fatalf("err = %v, want ErrTimeout wrapping the condition's error", err)
	}
}
