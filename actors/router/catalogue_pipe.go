package router

// The catalogue's import pipe: a contact_import batch is decided on the catalogue's goroutine and applied to the
// store (sorted into key order, then inserted into the memtable: about half of a batch's CPU) on the pipe's own
// goroutine, so a 2-core node decides batch n+1 while batch n is applied. Only import batches go through the pipe;
// before any other item the catalogue waits until the pipe is empty (drain), so every other handler reads the store
// as it always did and batches are applied in the order they were decided.
//
// Read-your-writes: the contacts of the batches decided and not yet applied (at most pipeDepth+1 of them) are held
// in pending and override what the store answers for their ids; the catalogue is the only writer of contacts, so
// they are what the store holds, or will hold once they are applied. Outcomes are unchanged: a batch's outcome is
// published once it is durable (Store.Commit's callback).

import (
	"sync/atomic"

	"github.com/switchboard-hq/switchboard/actors/contact"
)

// pipeDepth is how many decided batches may wait for the pipe before the catalogue waits for it.
const pipeDepth = 2

// importPipe applies the catalogue's import batches in order on its goroutine.
type importPipe struct {
	in chan func()
	// applied is the sequence number of the last batch applied.
	applied atomic.Uint64
	done    chan struct{}
	// seq numbers the batches sent; pending holds their written contacts until they are applied (catalogue
	// goroutine only).
	seq     uint64
	pending []pendingImport
}

type pendingImport struct {
	seq     uint64
	written map[string]*contact.Contact
}

func newImportPipe() *importPipe {
	p := &importPipe{in: make(chan func(), pipeDepth), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for f := range p.in {
			f()
		}
	}()
	return p
}

// send queues apply (which applies the batch that wrote written) and returns once it is queued.
func (p *importPipe) send(written map[string]*contact.Contact, apply func()) {
	p.seq++
	seq := p.seq
	p.pending = append(p.pending, pendingImport{seq: seq, written: written})
	p.in <- func() {
		apply()
		p.applied.Store(seq)
	}
}

// prune forgets the written contacts of the batches applied.
func (p *importPipe) prune() {
	applied := p.applied.Load()
	n := 0
	for n < len(p.pending) && p.pending[n].seq <= applied {
		p.pending[n] = pendingImport{}
		n++
	}
	p.pending = p.pending[n:]
}

// lookup returns the contact id as the newest batch not yet applied wrote it, nil when none did.
func (p *importPipe) lookup(id string) *contact.Contact {
	for i := len(p.pending) - 1; i >= 0; i-- {
		if c := p.pending[i].written[id]; c != nil {
			return c
		}
	}
	return nil
}

// drain returns once every batch sent is applied.
func (p *importPipe) drain() {
	if p.applied.Load() == p.seq {
		p.pending = p.pending[:0]
		return
	}
	ok := make(chan struct{})
	p.in <- func() { close(ok) }
	<-ok
	p.prune()
}

// close applies what was sent and stops the goroutine.
func (p *importPipe) close() {
	close(p.in)
	<-p.done
}
