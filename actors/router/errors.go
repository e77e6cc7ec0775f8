package router

import "errors"

var (
	// ErrClosed is returned by Run after Close.
	ErrClosed = errors.New("router: closed")
	// ErrRunning is returned by Run while another Run of the same router is in progress.
	ErrRunning = errors.New("router: already running")
)
