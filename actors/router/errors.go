package router

import "errors"

var (
	// ErrClosed is returned by Run after Close.
	ErrClosed = errors.New("router: closed")
	// ErrRunning is returned by Run while another Run of the same router is in progress.
	ErrRunning = errors.New("router: already running")
	// errStopping refuses a capacity grant asked of a tenant actor whose partition is stopping: the conversation
	// actor leaves the input that asked unfinished, for the partition's next owner.
	errStopping = errors.New("router: tenant actor stopping")
)
