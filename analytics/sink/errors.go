package sink

import "errors"

// ErrClosed is returned, wrapped, by Run when the sink is closed before or while it runs.
var ErrClosed = errors.New("analytics sink: closed")
