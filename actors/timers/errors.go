package timers

import "errors"

// ErrRunTwice is returned by a second call of Run.
var ErrRunTwice = errors.New("timers: Run called twice")
