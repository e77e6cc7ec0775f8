package sender

import "errors"

// ErrRunTwice is returned by a second call of Run.
var ErrRunTwice = errors.New("sender: Run called twice")
