// Package outcome carries the result of an operator's command from the actor that applied it back to the API call
// waiting for it. A result is published only once the state change it reports is durable.
//
// It imports only the standard library, so both the router and the API can depend on it.
package outcome

import "sync"

// Codes of the outcomes the router publishes that are not a rule's refusal. The API maps them, like the rules'
// codes, to HTTP statuses in its one table (api/errors.go).
const (
	// CodeReplayed: the command's record was applied before (a replay after a restart); it is not applied again.
	CodeReplayed = "replayed"
	// CodeInternal: the actor failed while applying the command; the caller cannot know whether it applied.
	CodeInternal = "internal"
)

// Result is what an API call answers: a refusal's code and message, or the body of a success. The actors name no
// HTTP status: the API maps Code to one, and answers a success with the status of the call.
type Result struct {
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
