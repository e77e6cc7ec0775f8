package inbox

// Event is one object on switchboard.events (CONTRACT.md, "Kafka topics"), keyed by tenant id. ID is stable: an
// event relayed twice (the relay is at-least-once) carries the same id and the same content, so consumers drop
// repeats by id.
type Event struct {
	ID             string `json:"id"`
	Type           string `json:"type"`
	TenantID       string `json:"tenant_id"`
	ConversationID string `json:"conversation_id"`
	// At is the event's domain time (the record's ingest time, or a timer's due time), RFC 3339 with milliseconds.
	At                 string   `json:"at"`
	OperatorID         string   `json:"operator_id,omitempty"`
	PreviousOperatorID string   `json:"previous_operator_id,omitempty"`
	ContactID          string   `json:"contact_id,omitempty"`
	ChannelID          string   `json:"channel_id,omitempty"`
	MessageID          string   `json:"message_id,omitempty"`
	Status             string   `json:"status,omitempty"`
	Labels             []string `json:"labels,omitempty"`
	Mentions           []string `json:"mentions,omitempty"`
	// WaitSeconds, FirstResponseSeconds and HandlingSeconds close the intervals of DESIGN.md's analytics
	// definitions on the event that ends them (assigned, first reply, closed).
	WaitSeconds          float64 `json:"wait_seconds,omitempty"`
	FirstResponseSeconds float64 `json:"first_response_seconds,omitempty"`
	HandlingSeconds      float64 `json:"handling_seconds,omitempty"`
	ReplySeconds         float64 `json:"reply_seconds,omitempty"`
}
