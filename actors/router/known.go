package router

// What a conversation actor knows of its own conversation's messages, so that the hot path reads the store only for
// what the actor cannot answer itself (issue 15): a customer message's dedupe, a status of one of its own recent
// replies, the channel's answer to one, and whether a status was parked for that answer. Every answer it gives is
// the store's answer; when it is not sure it says so and the store is read.
//
// Why the answers hold:
//   - A conversation actor is the single writer of its conversation's messages (persist), and what it knows is
//     built from what it wrote since it started: a new actor (an activation, a restart, a partition moved and
//     restored from the changelog, a replay after kill -9) knows nothing and reads the store.
//   - A customer message is stored only in the conversation its channel and sender name (conversation.ID), which is
//     the actor it is routed to; a channel's retry of it (the same wamid) names the same conversation. So when the
//     conversation did not exist when the actor started (or the actor erased it since: the erase deletes every
//     message up to the conversation's count, with its ids), the ids of every customer message stored in it went
//     through this actor, and a filter of them answers "not stored" for certain. A match may be a false positive:
//     the store decides.
//   - A reply the actor wrote is held as stored (as written last, by this actor) until it is delivered (its answer
//     and its "sent" and "delivered" statuses come within seconds; "read" may come days later); an erase forgets
//     every reply.
//   - A status is parked under its wamid, which the channel gives a reply only after the reply was written: a park
//     for it counts after the write (parkLog), so a reply with no park counted for its wamid since has none. So a
//     reply is taken in only by the change that creates it, with the park clock of that moment.

import (
	"hash/maphash"
	"slices"
	"sync/atomic"

	"github.com/switchboard-hq/switchboard/actors/conversation"
)

// outCap bounds the replies a conversation actor keeps (knownMessages.out).
const outCap = 4

// idSeed seeds the hashes of message ids in knownMessages and parkLog.
var idSeed = maphash.MakeSeed()

// knownMessages is what a conversation actor knows of its conversation's messages (see the file's comment). The
// zero value knows nothing.
type knownMessages struct {
	// inbound is a one-word Bloom filter of the ids of the customer messages the conversation holds; it is
	// meaningful only when complete (every customer message of the conversation went through this actor).
	inbound  uint64
	complete bool
	// out holds, oldest first, the latest outbound messages this actor wrote that are not delivered yet (pending or
	// sent), as stored; at most outCap. Nil when there is none.
	out []knownReply
}

// knownReply is an outbound message as stored, with the park clock when this actor first wrote it.
type knownReply struct {
	msg   conversation.Message
	parks uint64
}

func idBit(id string) uint64 { return 1 << (maphash.String(idSeed, id) & 63) }

// start sets what a new actor knows: nothing, unless the conversation does not exist yet (it then holds no message).
func (k *knownMessages) start(exists bool) { *k = knownMessages{complete: !exists} }

// mayHoldInbound reports whether the conversation may hold a customer message with the channel id id: false only
// when it certainly does not.
func (k *knownMessages) mayHoldInbound(id string) bool {
	return !k.complete || k.inbound&idBit(id) != 0
}

// reply returns the stored state of the reply the channel knows as id (its own id or the channel's), if held.
func (k *knownMessages) reply(id string) (*knownReply, bool) {
	for i := range k.out {
		if m := &k.out[i].msg; m.ID == id || (m.WAMID != "" && m.WAMID == id) {
			return &k.out[i], true
		}
	}
	return nil, false
}

// replySeq returns the stored state of reply seq, if held.
func (k *knownMessages) replySeq(seq uint64) (*knownReply, bool) {
	for i := range k.out {
		if k.out[i].msg.Seq == seq {
			return &k.out[i], true
		}
	}
	return nil, false
}

// wrote takes in what a change stored (before its batch is durable: any later input sees it); parks is the park
// clock when the change was made.
func (k *knownMessages) wrote(ch *change, parks uint64) {
	if ch.scrub {
		// The erase deleted every message up to the conversation's count, and their ids.
		k.inbound, k.complete = 0, true
		clear(k.out)
		k.out = k.out[:0]
	}
	// A reply is taken in only when this change creates it (its sequence number is new): its park clock must be
	// that of its first write, before the channel could know it.
	for i := range ch.messages {
		k.note(&ch.messages[i], parks, ch.messages[i].Seq > ch.prev.Messages)
	}
	for i := range ch.updates {
		k.note(&ch.updates[i].next, parks, false)
	}
	for _, ef := range ch.effects {
		if ef.Message != nil {
			k.note(ef.Message, parks, ef.Message.Seq > ch.prev.Messages)
		}
	}
}

// note takes in message m as written; create says the change created it.
func (k *knownMessages) note(m *conversation.Message, parks uint64, create bool) {
	switch m.Direction {
	case conversation.DirIn:
		if k.complete && m.ID != "" {
			k.inbound |= idBit(m.ID)
		}
		return
	case conversation.DirOut:
	default: // a note: never sent, no status
		return
	}
	i := -1
	for j := range k.out {
		if k.out[j].msg.Seq == m.Seq {
			i = j
			break
		}
	}
	if m.Status == conversation.Delivered || m.Status == conversation.Read || m.Status == conversation.Failed {
		// Delivered: only "read" can come, when the customer reads it, maybe days later; read and failed: only a
		// stale status. The store answers those: an idle actor holds no reply (issue 15's memory aim).
		if i >= 0 {
			if k.out = slices.Delete(k.out, i, i+1); len(k.out) == 0 {
				k.out = nil
			}
		}
		return
	}
	if i >= 0 {
		k.out[i].msg = *m
		return
	}
	if !create {
		return
	}
	if len(k.out) == outCap {
		k.out = slices.Delete(k.out, 0, 1)
	}
	k.out = append(k.out, knownReply{msg: *m, parks: parks})
}

// parkLog counts the statuses parked on this node (their messages unknown yet), so a conversation actor can tell
// that none was parked for a wamid since a moment without reading the store. A clock counts parks; each of
// parkShards remembers the clock of the latest park of a wamid hashing to it.
type parkLog struct {
	clock  atomic.Uint64
	shards [parkShards]atomic.Uint64
}

const parkShards = 256

// now is the park clock.
func (p *parkLog) now() uint64 { return p.clock.Load() }

// park counts a park of wamid; it is called before the parked status is committed, so a store that holds the park
// is never ahead of the log.
func (p *parkLog) park(wamid string) {
	t := p.clock.Add(1)
	s := &p.shards[maphash.String(idSeed, wamid)%parkShards]
	for {
		cur := s.Load()
		if cur >= t || s.CompareAndSwap(cur, t) {
			return
		}
	}
}

// parkedSince reports whether a status for wamid may have been parked after the clock read since: false only when
// none was.
func (p *parkLog) parkedSince(wamid string, since uint64) bool {
	return p.shards[maphash.String(idSeed, wamid)%parkShards].Load() > since
}

// localReads counts the store reads conversation actors did not need, by the question they answered themselves:
// the tests see the answers used, and a profile can be read against them.
type localReads struct {
	dedupe   atomic.Int64 // a customer message's id is certainly new
	status   atomic.Int64 // a status's message is a reply the actor holds
	delivery atomic.Int64 // a delivery's message is a reply the actor holds
	parked   atomic.Int64 // no status was parked for a reply's new wamid
}
