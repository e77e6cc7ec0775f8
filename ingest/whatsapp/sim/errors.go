package sim

import "errors"

// ErrInvalidConfig is wrapped by every error of Config.Validate and CustomersConfig.Validate.
var ErrInvalidConfig = errors.New("invalid whatsapp simulator config")

// ErrClosed is returned by Run when Close was called before it.
var ErrClosed = errors.New("whatsapp simulator closed")

// ErrRunning is returned by Run when the simulator is already running: a Sim runs once.
var ErrRunning = errors.New("whatsapp simulator already running")
