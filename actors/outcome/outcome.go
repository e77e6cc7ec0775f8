// Package outcome carries the result of an operator's command from the actor that applied it back to the API call
// waiting for it. A result is published only once the state change it reports is durable.
package outcome

import "sync"

// Result is what an API call answers: a refusal's code and message, or the body of a success. The API maps Code to
// its HTTP status in one table (api/errors.go); the actors set no status for a refusal.
type Result struct {
	// Status, on a success, replaces the API's own success status when it is neither 0 nor 200; the router leaves
	// it 0. It is ignored for a refusal.
	Status  int
	Code    string // snake_case error code; empty on success
	Message string
	Body    any // JSON-encodable body on success
}

// Registry matches published results to waiting calls by request id. It is safe for concurrent use; a result with
// no waiter (the call timed out, or the command was replayed after a restart) is dropped.
type Registry struct {
	mu      sync.Mutex
	waiters map[string]chan Result
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{waiters: map[string]chan Result{}} }

// Register starts waiting for id's result. The caller must call cancel when it stops waiting.
func (r *Registry) Register(id string) (result <-chan Result, cancel func()) {
	ch := make(chan Result, 1)
	r.mu.Lock()
	r.waiters[id] = ch
	r.mu.Unlock()
	return ch, func() {
		r.mu.Lock()
		delete(r.waiters, id)
		r.mu.Unlock()
	}
}

// Publish delivers res to the call waiting for id, if any. It never blocks.
func (r *Registry) Publish(id string, res Result) {
	if id == "" {
		return
	}
	r.mu.Lock()
	ch := r.waiters[id]
	delete(r.waiters, id)
	r.mu.Unlock()
	if ch != nil {
		ch <- res
	}
}

// Waiting is how many calls wait for a result.
func (r *Registry) Waiting() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.waiters)
}
