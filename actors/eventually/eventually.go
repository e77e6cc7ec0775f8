// Package eventually holds the one way a test waits for something that another goroutine or process makes true: it
// polls a condition until the condition holds. The timeout only keeps a broken test from hanging — choose it many
// times longer than the wait takes on a loaded machine — and is never a statement about speed: a test that needs to
// know how fast something is belongs in a benchmark.
//
// It imports only the standard library and is imported only by tests.
package eventually

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

// ErrTimeout is wrapped by Wait's error when the timeout passed before the condition held.
var ErrTimeout = errors.New("condition did not hold")

// errFalse is the error Wait reports for a boolean condition that never held.
var errFalse = errors.New("still false")

// Wait calls cond at once and then every poll until it returns nil, and returns nil. If timeout passes first it
// returns an error wrapping ErrTimeout and cond's last error. It is for code that cannot fail a test itself: a
// goroutine other than the test's, or a helper that returns an error; tests call True or NoError.
func Wait(timeout, poll time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("%w within %v: %w", ErrTimeout, timeout, err)
		}
		time.Sleep(poll)
	}
}

// True calls cond at once and then every poll until it returns true. If timeout passes first it fails t with
// t.Fatalf, the message formed from format and args (what the test waited for). Call it from the test's goroutine.
func True(t testing.TB, timeout, poll time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	err := Wait(timeout, poll, func() error {
		if cond() {
			return nil
		}
		return errFalse
	})
	if err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(format, args...), err)
	}
}

// NoError calls cond at once and then every poll until it returns nil. If timeout passes first it fails t with
// t.Fatalf, the message formed from format and args followed by cond's last error, which should say what cond saw
// (e.g. "depth 3, want 0"). Call it from the test's goroutine.
func NoError(t testing.TB, timeout, poll time.Duration, cond func() error, format string, args ...any) {
	t.Helper()
	if err := Wait(timeout, poll, cond); err != nil {
		t.Fatalf("%s: %v", fmt.Sprintf(format, args...), err)
	}
}
