package ceiling

import "errors"

var (
	// ErrInvalidConfig is wrapped by every error about a config field.
	ErrInvalidConfig = errors.New("invalid config")
	// ErrNothingMeasured is wrapped when a run completed no operation at all. Every measurement waits for its first
	// operation whatever its Duration, so this is a bug, never a slow machine.
	ErrNothingMeasured = errors.New("no operation completed")
)
