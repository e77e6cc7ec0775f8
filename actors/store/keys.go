package store

// The keyspace: every Pebble key the node writes is built and parsed in this file, and nowhere else. Other
// packages name what they store by domain identifiers (tenant, conversation, message seq, channel, operator) and the
// store derives the key.
//
// Tenant-scoped keys start with "t/<tenant>/" (tenant ids are [a-z0-9-]{1,64}, so "/" ends them) so that a
// tenant's state can later move with its partition by one prefix scan (docs/design.md, "Beyond one node"):
//
//	prefix                            writer                                 holds
//	t/<tenant>/c/<conv>               conversation actor (PutConversation)   the conversation, binary (records.go)
//	t/<tenant>/x/<status>/<conv>      conversation actor (PutConversation)   nothing: the status index
//	t/<tenant>/h/<operator>/<conv>    conversation actor (PutConversation);  nothing: the conversations holding an
//	                                  tenant actor (RepairHeld, at rebuild)  operator's capacity (its load)
//	t/<tenant>/i/<status>/<sort>/<ts:8>/<conv>
//	                                  conversation actor (PutConversation);  nothing: the lists' sorted index, one
//	                                  BackfillLists once, at rebuild         entry per sort (waiting, activity,
//	                                                                         created) at the conversation's time
//	t/<tenant>/j/<owner>/<status>/<sort>/<ts:8>/<conv>
//	                                  as above                               "u" when the owner has unread customer
//	                                                                         messages, else empty: the owner's
//	                                                                         sorted index (owner: the assignee; for
//	                                                                         a closed one who held it last; "~" none)
//	t/<tenant>/n/<operator>/<ts:8>/<conv>
//	                                  as above                               "u" when unread, else empty: the latest
//	                                                                         note mentioning the operator
//	t/<tenant>/l/                     BackfillLists                          nothing: the three indexes above cover
//	                                                                         every conversation of the tenant
//	t/<tenant>/m/<conv>/<seq:8>       conversation actor (PutMessage)        a message, binary (records.go)
//	t/<tenant>/w/<message id>         conversation actor (PutMessage)        "<conv>/<seq:8>": both ids of a message
//	t/<tenant>/s/<wamid>              conversation actor (ParkStatus)        a status that came before its message
//	t/<tenant>/a/<media id>           conversation actor (PutMessage;        "<conv>/<seq:8>" of a message carrying
//	                                  EraseConversation deletes it)          the media id (media.go)
//	t/<tenant>/o/<operator>           tenant actor (PutOperator)             operator runtime state, JSON
//	t/<tenant>/y/<channel>/<qseq:8>   conversation actor (PutSendJob);       an outbound message queued for the
//	                                  deleted by the sender                  sender, encoded by the sender
//	t/<tenant>/v/<conv>/<seq:8>       sender (PutDeliveryNote); deleted by   the channel's answer to message seq, as
//	                                  the conversation actor applying it     the delivery record produced for it
//	t/<tenant>/f/<token>/<conv>/<fld> conversation actor (PutConversation,   the search index (search.go): a posting
//	                                  PutMessage)                            of token in field fld (n contact name,
//	                                                                         p phone, t message text); for t the
//	                                                                         <seq:8> of a message holding it (the
//	                                                                         latest written)
//	t/<tenant>/g/<conv>/<token>/<fld> with each posting before issue 15,     the same posting, conversation first;
//	                                  and with Config.JSONValues (a rolling  read by no query since: a candidate is
//	                                  upgrade); deleted with its f twin (a   checked for a token prefix against its
//	                                  renamed contact, EraseConversation)    contact and texts, and an erase finds
//	                                                                         its postings there
//	t/<tenant>/d/<id>                 tenant catalogue (PutCanned,           a canned response, JSON
//	                                  DeleteCanned)
//	t/<tenant>/p/<conv>               conversation actor (PutRefusedStart,   <offset:8><index:8>: the latest start
//	                                  DeleteRefusedStart)                    refused for a conversation that does
//	                                                                         not exist, so a replay stays refused
//	t/<tenant>/e/<waba>/<name>/<lang> catalogue actor (PutTemplate,          a message template of the tenant's
//	                                  DeleteTemplate)                        business account, JSON (templates.go)
//	t/<tenant>/k/<contact>            catalogue actor (PutContact,           a contact, JSON (actors/contact)
//	                                  DeleteContact)
//	t/<tenant>/r/<token>/<contact>    catalogue actor (with each contact)    nothing: a contact search posting
//	                                                                         (contact.Tokens: name, phone, fields)
//	t/<tenant>/u/<contact>            catalogue actor (with each contact)    the blocked contacts index: the wa_id
//	t/<tenant>/t/<contact>            catalogue actor (contact_erase:        <offset:8><index:8>: the input position
//	                                  PutContactErased)                      of the contact's latest erase, so an
//	                                                                         older input replayed makes no contact
//	t/<tenant>/b/config               tenant actor (PutTenantConfig, with    the tenant's configuration as applied
//	                                  each configuration change)             in partition order (config.go), JSON
//	t/<tenant>/z/<at ms:8>/<id>       tenant actor (config changes, refused  an audit log entry (actors/audit), JSON
//	                                  actions), conversation actor, catalogue
//	                                  (PutAudit, in the change's batch);
//	                                  tenant actor removes expired ones
//	                                  (PruneAudit, audit_retention)
//
// Two prefixes are global, both node-local work queues over tenant state rather than state:
//
//	q/<qseq:8>/<tenant>               conversation actor (PutOutbox), tenant an event waiting for the relay, JSON; or
//	                                  actor (PutConfigRecord); deleted by    0x01, uvarint key length, key, record:
//	                                  the outbox relay                       a record for switchboard.config
//	z/<due ms:8>/<tenant>/<conv>/<k>  conversation actor (PutTimer,          nothing: the due-timer index
//	                                  DeleteTimer)
//
//   - The outbox is global because one relay drains the whole node's outbox in one ordered scan from a cursor,
//     which a per-tenant layout would turn into one scan per tenant on every wake-up. Its entries are effects
//     already decided and durable, not state; they are drained within seconds while Kafka is up, and the tenant is
//     in the key, so a move can still pick a tenant's entries.
//   - The timer index is global because the firer finds every tenant's due timers with one scan ordered by due
//     time. It is derived: each conversation record holds its own due times (conversation.Timers), so a node that
//     gains a tenant can rebuild the index from the conversations instead of moving it (state does not move
//     between nodes yet).
//
// One more is a node-local work queue: the scrubs of erased data still owed (erase.go). A mark is written in the
// batch of an erase and deleted once a scrub covered it, so a node that stops in between scrubs when it opens again:
//
//	e/<tenant>/<id>                   conversation actor, catalogue (with    a unique value: which erase wrote it
//	                                  an erase; MarkScrub); scrubber deletes
//
// Two more are global: the API's sign-in sessions (cmd/switchboard/node's StoreSessions), node-local records that
// belong to no tenant's state and do not move with a partition (a browser signs in again on another node):
//
//	a/<sha256 of the cookie:32>       api sessions (PutSession,              expiry ms:8, then the session as the
//	                                  DeleteSession, TrimSessions)           node encodes it
//	b/<expiry ms:8>/<sha256:32>       api sessions (as above)                nothing: sessions by expiry, to trim
//
// One more is node-local: the changelog checkpoints (restore.go), how far this store holds a partition of
// switchboard.changelog exactly; in Pebble only during a restore and after a clean Close:
//
//	c/<partition:4>                   changelog restore (ApplyRestored),     <next offset:8><written at ms:8>
//	                                  Close (every partition held in full)
//
// Replication (replicate.go, README "Changelog"): with a Replicator, every write to a "t/<tenant>/…" key and to the
// outbox "q/<qseq:8>/<tenant>" goes to switchboard.changelog, partition = the tenant's inbox partition; a restore
// applies them back. The outbox moves with its partition because its entries are decided effects not yet relayed;
// its qseq is node-wide, so a restore moves the node's sequence past the restored entries. Node-local, never
// replicated: a/ and b/ (sessions: a browser signs in again on another node), e/ (scrub marks: each node scrubs its
// own files), z/ (the timer index: derived, rebuilt from the restored conversations) and c/ (this node's
// checkpoints). Deletes are point deletes: no batch holds a range delete (erase.go deletes key by key), and a
// replicated batch with one fails (replicate.go); only WipePartition, which is not replicated, deletes ranges.
//
// Nothing else is stored: Kafka consumer offsets live in Kafka (the consumer group), and the position of the last
// record applied to a conversation or an operator is a field of that record; the sender's rate limits and pacing
// live in memory only.
//
// <seq:8>, <qseq:8>, <ts:8> (Unix ms, times before 1970 as 0) and <due ms:8> are big-endian uint64, so keys sort in number order. qseq is a node-wide queue
// sequence (queueSeqs): one orders the outbox, another each channel's send queue.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
)

const (
	checkpointPrefix = "c/"
	outboxPrefix     = "q/"
	outboxEnd        = "q0" // the first key after every "q/…"
	timerPrefix      = "z/"
)

// smallKey is the buffer size a short key gets (tenantKey).
const smallKey = 64

// tenantPrefix is the prefix of every key of a tenant: "t/<tenant>/".
func tenantPrefix(tenant string) []byte { return append(append([]byte("t/"), tenant...), '/') }

// tenantKey starts a tenant-scoped key: "t/<tenant>/<kind>/".
//
// A key of up to smallKey bytes gets a buffer of that constant size: inlined into a write that only hands the key
// to Pebble (which copies it), the compiler then keeps it on the stack; a buffer sized by the key's length lives
// on the stack only up to 32 bytes, and most keys are longer.
func tenantKey(extra int, tenant string, kind byte) []byte {
	var k []byte
	if n := 5 + len(tenant) + extra; n <= smallKey {
		k = make([]byte, 0, smallKey)
	} else {
		k = make([]byte, 0, n)
	}
	k = append(k, "t/"...)
	k = append(k, tenant...)
	return append(k, '/', kind, '/')
}

// listPrefix is the prefix of a status and sort of the lists' sorted index: "t/<tenant>/i/<status>/<sort>/".
func listPrefix(tenant string, st conversation.Status, sort string) []byte {
	return appendListPrefix(make([]byte, 0, 8+len(tenant)+len(st)+len(sort)+26), tenant, st, sort)
}

func appendListPrefix(k []byte, tenant string, st conversation.Status, sort string) []byte {
	k = append(append(append(k, "t/"...), tenant...), "/i/"...)
	return append(append(append(append(k, st...), '/'), sort...), '/')
}

// ownerPrefix is the prefix of an owner, status and sort of the owner index: "t/<tenant>/j/<owner>/<status>/<sort>/".
func ownerPrefix(tenant, owner string, st conversation.Status, sort string) []byte {
	return appendOwnerPrefix(make([]byte, 0, 9+len(tenant)+len(owner)+len(st)+len(sort)+26), tenant, owner, st, sort)
}

func appendOwnerPrefix(k []byte, tenant, owner string, st conversation.Status, sort string) []byte {
	k = append(append(append(append(append(k, "t/"...), tenant...), "/j/"...), owner...), '/')
	return append(append(append(append(k, st...), '/'), sort...), '/')
}

// mentionPrefix is the prefix of an operator's entries in the mention index: "t/<tenant>/n/<operator>/".
func mentionPrefix(tenant, op string) []byte {
	return appendMentionPrefix(make([]byte, 0, 7+len(tenant)+len(op)+26), tenant, op)
}

func appendMentionPrefix(k []byte, tenant, op string) []byte {
	return append(append(append(append(append(k, "t/"...), tenant...), "/n/"...), op...), '/')
}

// listsPrefixes are the prefixes of a tenant's three list indexes, for verification.
func listsPrefixes(tenant string) [][]byte {
	return [][]byte{tenantKey(0, tenant, 'i'), tenantKey(0, tenant, 'j'), tenantKey(0, tenant, 'n')}
}

// listsMarkerKey says that BackfillLists indexed every conversation of the tenant.
func listsMarkerKey(tenant string) []byte { return tenantKey(0, tenant, 'l') }

// appendListSuffix appends what follows a list index prefix: "<ts:8>/<conv>".
func appendListSuffix(k []byte, t time.Time, conv string) []byte {
	ms := max(t.UnixMilli(), 0)
	k = binary.BigEndian.AppendUint64(k, uint64(ms))
	return append(append(k, '/'), conv...)
}

// parseListSuffix returns the conversation id of a list index key's suffix ("<ts:8>/<conv>").
func parseListSuffix(suffix []byte) (string, error) {
	if len(suffix) < 10 || suffix[8] != '/' {
		return "", fmt.Errorf("BUG: list index suffix %q malformed", suffix)
	}
	return string(suffix[9:]), nil
}

func convKey(tenant, id string) []byte { return append(tenantKey(len(id), tenant, 'c'), id...) }

func statusKey(tenant string, st conversation.Status, id string) []byte {
	k := append(tenantKey(len(st)+1+len(id), tenant, 'x'), st...)
	return append(append(k, '/'), id...)
}

// heldPrefix is the prefix of every entry of a tenant's held index; an operator's entries follow "<operator>/".
func heldPrefix(tenant string) []byte { return tenantKey(0, tenant, 'h') }

func heldKey(tenant, op, conv string) []byte {
	return append(append(append(tenantKey(len(op)+1+len(conv), tenant, 'h'), op...), '/'), conv...)
}

// msgPrefix is the prefix of every message of a conversation.
func msgPrefix(tenant, conv string) []byte {
	return append(append(tenantKey(len(conv)+9, tenant, 'm'), conv...), '/')
}

func msgKey(tenant, conv string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(msgPrefix(tenant, conv), seq)
}

func wamidKey(tenant, wamid string) []byte {
	return append(tenantKey(len(wamid), tenant, 'w'), wamid...)
}
func mediaKey(tenant, id string) []byte {
	return append(tenantKey(len(id), tenant, 'a'), id...)
}
func parkedKey(tenant, wamid string) []byte {
	return append(tenantKey(len(wamid), tenant, 's'), wamid...)
}
func tenantConfigKey(tenant string) []byte { return append(tenantKey(6, tenant, 'b'), "config"...) }

func operatorKey(tenant, id string) []byte { return append(tenantKey(len(id), tenant, 'o'), id...) }

// operatorPrefix is the prefix of every operator state of a tenant.
func operatorPrefix(tenant string) []byte { return tenantKey(0, tenant, 'o') }

// allMessagesPrefix is the prefix of every message of a tenant.
func allMessagesPrefix(tenant string) []byte { return tenantKey(0, tenant, 'm') }

// messageRef is the value of a message id index entry: "<conv>/<seq:8>".
func messageRef(conv string, seq uint64) []byte {
	ref := make([]byte, 0, len(conv)+9)
	ref = append(append(ref, conv...), '/')
	return binary.BigEndian.AppendUint64(ref, seq)
}

func parseMessageRef(v []byte) (conv string, seq uint64, err error) {
	if len(v) < 10 {
		return "", 0, fmt.Errorf("BUG: message id index entry %q too short", v)
	}
	return string(v[:len(v)-9]), binary.BigEndian.Uint64(v[len(v)-8:]), nil
}

// sendQueuePrefix is the prefix of a channel's send queue.
func sendQueuePrefix(tenant, channel string) []byte {
	return append(append(tenantKey(len(channel)+9, tenant, 'y'), channel...), '/')
}

func sendJobKey(r SendRef) []byte {
	return binary.BigEndian.AppendUint64(sendQueuePrefix(r.Tenant, r.Channel), r.Seq)
}

// noteKey names the recorded answer to message seq of a conversation.
func noteKey(tenant, conv string, seq uint64) []byte {
	k := append(append(tenantKey(len(conv)+9, tenant, 'v'), conv...), '/')
	return binary.BigEndian.AppendUint64(k, seq)
}

func notePrefix(tenant string) []byte { return tenantKey(0, tenant, 'v') }

// parseNoteKey returns the conversation and message seq a note key names, given the tenant's note prefix.
func parseNoteKey(prefix, k []byte) (conv string, seq uint64, err error) {
	rest := k[len(prefix):]
	if len(rest) < 10 || rest[len(rest)-9] != '/' {
		return "", 0, fmt.Errorf("BUG: delivery note key %q malformed", k)
	}
	return string(rest[:len(rest)-9]), binary.BigEndian.Uint64(rest[len(rest)-8:]), nil
}

// The fields of a search posting, the last byte of its key. Their order is the order a conversation's postings of
// one token sort in, so a seek finds the contact name before the phone and the phone before the messages.
const (
	fieldName  = 'n'
	fieldPhone = 'p'
	fieldText  = 't'
)

// postingsPrefix is the prefix of every search posting of a tenant.
func postingsPrefix(tenant string) []byte { return tenantKey(0, tenant, 'f') }

// tokenPrefix is the prefix of the postings of token (tokens hold letters and digits only, never "/"); a prefix of
// several tokens when open is set (no "/" appended).
func tokenPrefix(tenant, token string, open bool) []byte {
	k := append(tenantKey(len(token)+1, tenant, 'f'), token...)
	if open {
		return k
	}
	return append(k, '/')
}

func postingKey(tenant, token, conv string, field byte) []byte {
	k := append(append(tokenPrefix(tenant, token, false), conv...), '/')
	return append(k, field)
}

// convTermsKey is the prefix of a conversation's postings of token in the form of stores written before issue 15
// ("g", conversation first), or of every token it begins when open is set.
func convTermsKey(tenant, conv, token string, open bool) []byte {
	k := append(append(append(tenantKey(len(conv)+len(token)+3, tenant, 'g'), conv...), '/'), token...)
	if open {
		return k
	}
	return append(k, '/')
}

// forwardKey is a posting in the form of stores written before issue 15: deleted with its by-token twin.
func forwardKey(tenant, conv, token string, field byte) []byte {
	return append(convTermsKey(tenant, conv, token, false), field)
}

// parsePosting splits what follows a tenant's postings prefix: "<token>/<conv>/<field>".
func parsePosting(rest []byte) (token, conv []byte, field byte, err error) {
	i := bytes.IndexByte(rest, '/')
	if i < 0 || len(rest) < i+4 || rest[len(rest)-2] != '/' {
		return nil, nil, 0, fmt.Errorf("BUG: search posting %q malformed", rest)
	}
	return rest[:i], rest[i+1 : len(rest)-2], rest[len(rest)-1], nil
}

// templatePrefix is the prefix of a business account's templates, or of every account's when waba is "".
func templatePrefix(tenant, waba string) []byte {
	k := tenantKey(len(waba)+1, tenant, 'e')
	if waba == "" {
		return k
	}
	return append(append(k, waba...), '/')
}

func templateKey(tenant, waba, name, lang string) []byte {
	return append(append(append(templatePrefix(tenant, waba), name...), '/'), lang...)
}

// outboxKey is the key of the outbox entry seq of tenant.
func outboxKey(seq uint64, tenant string) []byte {
	return appendOutboxRest(append(make([]byte, 0, 11+len(tenant)), outboxPrefix...), seq, tenant)
}

// appendOutboxRest appends what follows the outbox prefix in an entry's key.
func appendOutboxRest(k []byte, seq uint64, tenant string) []byte {
	k = binary.BigEndian.AppendUint64(k, seq)
	return append(append(k, '/'), tenant...)
}

func beUint64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

// outboxLower is the smallest outbox key with a sequence number above after.
func outboxLower(after uint64) []byte {
	if after == ^uint64(0) {
		return []byte(outboxEnd)
	}
	return binary.BigEndian.AppendUint64([]byte(outboxPrefix), after+1)
}

func parseOutboxKey(k []byte) (seq uint64, tenant string, err error) {
	if len(k) < 12 || k[10] != '/' {
		return 0, "", fmt.Errorf("BUG: outbox key %q malformed", k)
	}
	return binary.BigEndian.Uint64(k[2:10]), string(k[11:]), nil
}

func timerKey(t TimerKey) []byte {
	k := make([]byte, 0, 13+len(t.Tenant)+len(t.Conversation)+len(t.Kind))
	k = append(k, timerPrefix...)
	k = binary.BigEndian.AppendUint64(k, uint64(t.Due.UnixMilli()))
	k = append(k, '/')
	k = append(k, t.Tenant...)
	k = append(k, '/')
	k = append(k, t.Conversation...)
	k = append(k, '/')
	return append(k, t.Kind...)
}

// timerUpper is the first timer key due after now (in ms).
func timerUpper(dueMs int64) []byte {
	return binary.BigEndian.AppendUint64([]byte(timerPrefix), uint64(dueMs)+1)
}

func parseTimerKey(k []byte) (TimerKey, error) {
	if len(k) < 11 {
		return TimerKey{}, fmt.Errorf("BUG: timer key %q too short", k)
	}
	parts := strings.SplitN(string(k[11:]), "/", 3)
	if len(parts) != 3 {
		return TimerKey{}, fmt.Errorf("BUG: timer key %q malformed", k)
	}
	due := int64(binary.BigEndian.Uint64(k[2:10]))
	return TimerKey{Due: timeOfMs(due), Tenant: parts[0], Conversation: parts[1], Kind: parts[2]}, nil
}

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte{}, p...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

// keyAfter returns the smallest key greater than k.
func keyAfter(k []byte) []byte { return append(append(make([]byte, 0, len(k)+1), k...), 0) }

func timeOfMs(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

const scrubMarkPrefix = "e/"

// scrubMarkKey names the scrub owed for an erase of id (a conversation or a contact) in tenant.
func scrubMarkKey(tenant, id string) []byte {
	return append(append(append([]byte(scrubMarkPrefix), tenant...), '/'), id...)
}

// parseScrubMarkKey returns the tenant of a scrub mark.
func parseScrubMarkKey(k []byte) (tenant string, err error) {
	rest := k[len(scrubMarkPrefix):]
	i := bytes.IndexByte(rest, '/')
	if i <= 0 {
		return "", fmt.Errorf("BUG: scrub mark %q malformed", k)
	}
	return string(rest[:i]), nil
}

const (
	sessionPrefix       = "a/"
	sessionExpiryPrefix = "b/"
)

func sessionKey(hash [32]byte) []byte { return append([]byte(sessionPrefix), hash[:]...) }

func sessionExpiryKey(expires time.Time, hash [32]byte) []byte {
	k := binary.BigEndian.AppendUint64([]byte(sessionExpiryPrefix), uint64(expires.UnixMilli()))
	return append(append(k, '/'), hash[:]...)
}

func parseSessionExpiryKey(k []byte) (expiresMs int64, hash [32]byte, err error) {
	if len(k) != 2+8+1+32 || k[10] != '/' {
		return 0, hash, fmt.Errorf("BUG: session expiry key %q malformed", k)
	}
	copy(hash[:], k[11:])
	return int64(binary.BigEndian.Uint64(k[2:10])), hash, nil
}

func cannedKey(tenant, id string) []byte { return append(tenantKey(len(id), tenant, 'd'), id...) }

// cannedPrefix is the prefix of every canned response of a tenant.
func cannedPrefix(tenant string) []byte { return tenantKey(0, tenant, 'd') }

func refusedStartKey(tenant, conv string) []byte {
	return append(tenantKey(len(conv), tenant, 'p'), conv...)
}

// Contact keys (contacts.go).

func contactKey(tenant, id string) []byte { return append(tenantKey(len(id), tenant, 'k'), id...) }

func contactPostingKey(tenant, token, id string) []byte {
	k := append(append(tenantKey(len(token)+1+len(id), tenant, 'r'), token...), '/')
	return append(k, id...)
}

// contactTokenPrefix is the prefix of the postings of token, or of every token it begins when open is set.
func contactTokenPrefix(tenant, token string, open bool) []byte {
	k := append(tenantKey(len(token)+1, tenant, 'r'), token...)
	if open {
		return k
	}
	return append(k, '/')
}

func blockedKey(tenant, id string) []byte { return append(tenantKey(len(id), tenant, 'u'), id...) }

// erasedContactKey is the mark an erase leaves of a contact (contacts_erased.go).
func erasedContactKey(tenant, id string) []byte {
	return append(tenantKey(len(id), tenant, 't'), id...)
}
