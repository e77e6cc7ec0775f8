package live

// Erasing a customer (issue 12) reaches the replay log: the events of an erased conversation that the log still
// holds lose their message previews (the only customer content an event carries) and their message ids (a WhatsApp
// message id, wamid, is the base64 of a record holding the customer's number), so a console resuming from before
// the erase is not replayed the erased texts or numbers. The conversation.erased event comes after every earlier event of its
// conversation in the partition, so a log refilled from Kafka after a restart is redacted again when the feed reaches
// it.

import (
	"bytes"
	"encoding/json"
)

// TypeErased is the event that redacts its conversation's earlier events in the log.
const TypeErased = "conversation.erased"

// redact removes the preview and the message id of every logged event of the conversation e erased. Erasures are rare: it parses
// only the logged frames that name the conversation.
func (h *Hub) redact(t *tenantLog, e Event) {
	var erased struct {
		ConversationID string `json:"conversation_id"`
	}
	if json.Unmarshal(e.Data, &erased) != nil || erased.ConversationID == "" {
		return
	}
	conv := []byte(`"conversation_id":"` + erased.ConversationID + `"`)
	for i := range t.n {
		en := &t.ring[(t.start+i)%len(t.ring)]
		if !bytes.Contains(en.frame, conv) ||
			(!bytes.Contains(en.frame, []byte(`"preview"`)) && !bytes.Contains(en.frame, []byte(`"message_id"`))) {
			continue
		}
		data := en.frame[bytes.Index(en.frame, []byte("\ndata: "))+len("\ndata: ") : len(en.frame)-2]
		var fields map[string]json.RawMessage
		if json.Unmarshal(data, &fields) != nil {
			continue
		}
		delete(fields, "preview")
		delete(fields, "message_id")
		b, err := json.Marshal(fields)
		if err != nil {
			continue
		}
		en.frame = formatSeqFrame(en.seq, en.typ, b)
	}
}
