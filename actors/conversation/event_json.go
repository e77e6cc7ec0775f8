package conversation

// An event's JSON without reflection: the router encodes every event of every change into its outbox batch, and
// json.Marshal cost two allocations and about 750 ns an event. AppendJSON writes what json.Marshal writes, byte for
// byte (TestEventAppendJSON compares them over random events), and hands anything out of the ordinary to
// encoding/json through jsonappend.

import (
	"strconv"

	"github.com/switchboard-hq/switchboard/actors/jsonappend"
)

// AppendJSON appends e's JSON, as json.Marshal(e) writes it, to dst; it fails where json.Marshal fails (a time whose
// year is outside 0-9999, a float that is not finite).
func (e *Event) AppendJSON(dst []byte) ([]byte, error) {
	var err error
	dst = append(dst, `{"id":`...)
	dst = jsonappend.String(dst, e.ID)
	dst = append(dst, `,"type":`...)
	dst = jsonappend.String(dst, e.Type)
	dst = append(dst, `,"at":`...)
	if dst, err = jsonappend.Time(dst, e.At); err != nil {
		return nil, err
	}
	dst = append(dst, `,"tenant_id":`...)
	dst = jsonappend.String(dst, e.TenantID)
	dst = append(dst, `,"conversation_id":`...)
	dst = jsonappend.String(dst, e.ConversationID)
	dst = appendOptString(dst, `,"channel_id":`, e.ChannelID)
	dst = appendOptString(dst, `,"contact_id":`, e.ContactID)
	dst = appendOptString(dst, `,"actor_id":`, e.ActorID)
	dst = appendOptString(dst, `,"operator_id":`, e.OperatorID)
	dst = appendOptString(dst, `,"previous_operator_id":`, e.PreviousOperatorID)
	dst = appendOptString(dst, `,"assignee_id":`, e.AssigneeID)
	dst = appendOptString(dst, `,"message_id":`, e.MessageID)
	dst = append(dst, `,"status":`...)
	dst = jsonappend.String(dst, string(e.Status))
	if e.Sticky {
		dst = append(dst, `,"sticky":true`...)
	}
	dst = appendOptStrings(dst, `,"mentions":`, e.Mentions)
	dst = appendOptStrings(dst, `,"labels":`, e.Labels)
	if !e.WindowExpiresAt.IsZero() {
		dst = append(dst, `,"window_expires_at":`...)
		if dst, err = jsonappend.Time(dst, e.WindowExpiresAt); err != nil {
			return nil, err
		}
	}
	if dst, err = appendOptFloat(dst, `,"wait_seconds":`, e.WaitSeconds); err != nil {
		return nil, err
	}
	if dst, err = appendOptFloat(dst, `,"first_response_seconds":`, e.FirstResponseSeconds); err != nil {
		return nil, err
	}
	if dst, err = appendOptFloat(dst, `,"handling_seconds":`, e.HandlingSeconds); err != nil {
		return nil, err
	}
	dst = appendOptString(dst, `,"message_status":`, string(e.MessageStatus))
	if e.ErrorCode != 0 {
		dst = append(dst, `,"error_code":`...)
		dst = strconv.AppendInt(dst, int64(e.ErrorCode), 10)
	}
	dst = appendOptString(dst, `,"error_title":`, e.ErrorTitle)
	dst = appendOptString(dst, `,"message_type":`, e.MessageType)
	dst = appendOptString(dst, `,"preview":`, e.Preview)
	if e.Seq != 0 {
		dst = append(dst, `,"seq":`...)
		dst = strconv.AppendUint(dst, e.Seq, 10)
	}
	return append(dst, '}'), nil
}

// appendOptString appends name and s unless s is empty (omitempty).
func appendOptString(dst []byte, name, s string) []byte {
	if s == "" {
		return dst
	}
	return jsonappend.String(append(dst, name...), s)
}

// appendOptStrings appends name and ss unless ss is empty (omitempty: nil and empty alike).
func appendOptStrings(dst []byte, name string, ss []string) []byte {
	if len(ss) == 0 {
		return dst
	}
	dst = append(append(dst, name...), '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonappend.String(dst, s)
	}
	return append(dst, ']')
}

// appendOptFloat appends name and f unless f is zero (omitempty).
func appendOptFloat(dst []byte, name string, f float64) ([]byte, error) {
	if f == 0 {
		return dst, nil
	}
	return jsonappend.Float(append(dst, name...), f)
}
