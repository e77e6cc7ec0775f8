package outbox

import "errors"

// ErrRunTwice is returned by a second call of Run.
var ErrRunTwice = errors.New("outbox: Run called twice")
