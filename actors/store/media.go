package store

// The media index: which message carries a media id, so the API can tell whether a tenant may download it.
//
// Key (keys.go): t/<tenant>/a/<media id>, value "<conv>/<seq:8>" of the message (inbound or outbound) whose content
// names the id. PutMessage writes it with the message, in the same batch, so an id is downloadable exactly when a
// durable message of the tenant carries it. A media id sent twice points at the later message; either proves the
// tenant's right to it.

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/switchboard-hq/switchboard/actors/conversation"
)

// maxMediaID bounds the media ids indexed: Meta's are short digit strings.
const maxMediaID = 128

// MediaID returns the media id a message carries ("" for none): the id of the content object of an image, video,
// audio, document or sticker message.
func MediaID(m *conversation.Message) string {
	switch m.Type {
	case "image", "video", "audio", "document", "sticker":
	default:
		return ""
	}
	if len(m.Content) == 0 {
		return ""
	}
	var c struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(m.Content, &c) != nil || len(c.ID) > maxMediaID {
		return ""
	}
	return c.ID
}

// putMediaRef indexes the media id m carries, if any.
func (b *Batch) putMediaRef(tenant string, m *conversation.Message) error {
	id := MediaID(m)
	if id == "" {
		return nil
	}
	if err := b.b.Set(mediaKey(tenant, id), messageRef(m.ConversationID, m.Seq), nil); err != nil {
		return fmt.Errorf("index media %s: %w", id, err)
	}
	return nil
}

// MediaRef returns the conversation and sequence number of a message of the tenant carrying media id, or
// ErrNotFound.
func (s *Store) MediaRef(tenant, id string) (conv string, seq uint64, err error) {
	if id == "" || len(id) > maxMediaID {
		return "", 0, ErrNotFound
	}
	val, closer, err := s.db.Get(mediaKey(tenant, id))
	if errors.Is(err, pebble.ErrNotFound) {
		return "", 0, ErrNotFound
	}
	if err != nil {
		return "", 0, fmt.Errorf("get media %s: %w", id, err)
	}
	defer closer.Close()
	return parseMessageRef(val)
}

// DeleteMediaRef removes the index entry of the media id m carries, if it points at m (erasing a message: its media
// is then nobody's to download). An entry a later message of the same id rewrote stays.
func (b *Batch) DeleteMediaRef(s *Store, tenant string, m *conversation.Message) error {
	id := MediaID(m)
	if id == "" {
		return nil
	}
	conv, seq, err := s.MediaRef(tenant, id)
	if errors.Is(err, ErrNotFound) || err == nil && (conv != m.ConversationID || seq != m.Seq) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := b.b.Delete(mediaKey(tenant, id), nil); err != nil {
		return fmt.Errorf("unindex media %s: %w", id, err)
	}
	return nil
}
