package ceiling

import "errors"

var (
	// ErrInvalidConfig is wrapped by every error about a config field.
	ErrInvalidConfig = errors.New("invalid config")
	// ErrNothingMeasured is wrapped when a run completed no operation at all, e.g. with a Duration too short for one.
	ErrNothingMeasured = errors.New("no operation completed within Duration")
)
