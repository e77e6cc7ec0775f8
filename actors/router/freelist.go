package router

// freeList keeps up to its capacity of *T between uses, for every actor of the router: what a message's handling
// needs each time (a grant call, a change's callback) without allocating it each time, and without holding more
// than the bound when a burst is over. Safe for concurrent use.
type freeList[T any] chan *T

// get returns a kept *T, or a new one from fresh when none is kept.
func (f freeList[T]) get(fresh func() *T) *T {
	select {
	case x := <-f:
		return x
	default:
		return fresh()
	}
}

// put keeps x, which the caller has emptied, or drops it when the list is full.
func (f freeList[T]) put(x *T) {
	select {
	case f <- x:
	default:
	}
}
