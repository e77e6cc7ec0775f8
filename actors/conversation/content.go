package conversation

import (
	"encoding/json"
	"unicode/utf8"
)

// validContent checks the Cloud API object of a media, reaction or interactive reply the way Meta does before it is
// stored and sent, so a reply Meta would refuse is refused at once with a 400.
func validContent(typ string, content json.RawMessage) *Refusal {
	var v struct {
		ID        string  `json:"id"`
		Link      string  `json:"link"`
		Caption   string  `json:"caption"`
		MessageID string  `json:"message_id"`
		Emoji     *string `json:"emoji"`
		Type      string  `json:"type"`
		Body      struct {
			Text string `json:"text"`
		} `json:"body"`
		Action struct {
			Buttons []struct {
				Type  string `json:"type"`
				Reply struct {
					ID    string `json:"id"`
					Title string `json:"title"`
				} `json:"reply"`
			} `json:"buttons"`
		} `json:"action"`
	}
	if len(content) == 0 || json.Unmarshal(content, &v) != nil {
		return refuse(CodeInvalidMessage, "a %s reply needs its content object", typ)
	}
	switch typ {
	case "image", "audio", "video", "document", "sticker":
		if (v.ID == "") == (v.Link == "") {
			return refuse(CodeInvalidMessage, "%s content needs exactly one of id and link", typ)
		}
		if utf8.RuneCountInString(v.Caption) > 1024 {
			return refuse(CodeInvalidMessage, "caption over 1024 characters")
		}
		if v.Caption != "" && (typ == "audio" || typ == "sticker") {
			return refuse(CodeInvalidMessage, "%s takes no caption", typ)
		}
	case "reaction":
		if v.MessageID == "" || v.Emoji == nil {
			return refuse(CodeInvalidMessage, "reaction content needs message_id and emoji")
		}
	case "interactive":
		if v.Type != "button" {
			return refuse(CodeInvalidMessage, "interactive replies are of type button")
		}
		if !validText(v.Body.Text) {
			return refuse(CodeInvalidMessage, "interactive body.text must have 1 to %d characters", MaxTextLength)
		}
		if n := len(v.Action.Buttons); n < 1 || n > 3 {
			return refuse(CodeInvalidMessage, "interactive replies have 1 to 3 buttons, not %d", n)
		}
		seen := map[string]bool{}
		for _, b := range v.Action.Buttons {
			t := utf8.RuneCountInString(b.Reply.Title)
			if b.Type != "reply" || b.Reply.ID == "" || t < 1 || t > 20 || seen[b.Reply.ID] {
				return refuse(CodeInvalidMessage, "each button is a reply with a unique id and a title of 1 to 20 characters")
			}
			seen[b.Reply.ID] = true
		}
	}
	return nil
}

// captionOf is the text a person reads first in a reply's content: a caption, an emoji, the interactive body.
func captionOf(typ string, content json.RawMessage) string {
	var v struct {
		Caption string `json:"caption"`
		Emoji   string `json:"emoji"`
		Body    struct {
			Text string `json:"text"`
		} `json:"body"`
	}
	_ = json.Unmarshal(content, &v)
	switch typ {
	case "reaction":
		return v.Emoji
	case "interactive":
		return v.Body.Text
	}
	return v.Caption
}
