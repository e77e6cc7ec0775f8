package api

// Hiding phone numbers: a tenant with settings.hide_phone_numbers shows its contacts' numbers to the operator role
// masked — "+1555•••4567", the first four digits (the country code and what follows it) and the last four — in
// every answer that carries one: conversations (GET one, lists, search and its phone snippets, commands' answers),
// contacts, and the event stream. Admins and builders see them whole. Every handler that answers a number passes
// it through here, so the rule is in one place.

import (
	"bytes"
	"regexp"
	"strings"

	"github.com/switchboard-hq/switchboard/actors/contact"
	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/search"
	"github.com/switchboard-hq/switchboard/actors/tenant"
)

// maskMark stands for the hidden digits.
const maskMark = "•••"

// masks reports whether op sees phone numbers masked.
func masks(op tenant.OperatorRef) bool {
	return op.Tenant.Settings.HidePhoneNumbers && op.Operator.Role != tenant.RoleAdmin && op.Operator.Role != tenant.RoleBuilder
}

// MaskPhone masks a phone number or WhatsApp address ("+15551234567" → "+1555•••4567", "15551234567" →
// "1555•••4567"): its first four digits and its last four stay, at least three are hidden (a short number keeps
// fewer of its first digits). Anything else in it is dropped; "" stays "".
func MaskPhone(phone string) string {
	if phone == "" {
		return ""
	}
	plus := strings.HasPrefix(phone, "+")
	var d []byte
	for i := 0; i < len(phone); i++ {
		if c := phone[i]; c >= '0' && c <= '9' {
			d = append(d, c)
		}
	}
	// A short number gives up digits of its head first: its last four are what people read out.
	head, tail := 4, 4
	for head+tail+3 > len(d) && head+tail > 0 {
		if head > 0 {
			head--
		} else {
			tail--
		}
	}
	var b strings.Builder
	if plus {
		b.WriteByte('+')
	}
	b.Write(d[:head])
	b.WriteString(maskMark)
	b.Write(d[len(d)-tail:])
	return b.String()
}

// maskConversation masks the contact's number of c for op.
func maskConversation(op tenant.OperatorRef, c *conversation.Conversation) {
	if masks(op) {
		c.Contact.WaID = MaskPhone(c.Contact.WaID)
	}
}

// maskContact masks c's numbers for op.
func maskContact(op tenant.OperatorRef, c *contact.Contact) {
	if masks(op) {
		c.Phone, c.WaID = MaskPhone(c.Phone), MaskPhone(c.WaID)
	}
}

// maskBody masks a command's answer body for op: a conversation or a contact.
func maskBody(op tenant.OperatorRef, body any) any {
	if !masks(op) {
		return body
	}
	switch b := body.(type) {
	case conversation.Conversation:
		maskConversation(op, &b)
		return b
	case *conversation.Conversation:
		c := *b
		maskConversation(op, &c)
		return &c
	case contact.Contact:
		maskContact(op, &b)
		return b
	case *contact.Contact:
		c := *b
		maskContact(op, &c)
		return &c
	}
	return body
}

// phoneField matches the JSON members that carry a number in an event's data: "wa_id", "phone", "recipient_id",
// "from" and "to" with a value of digits, "+" first or not.
var phoneField = regexp.MustCompile(`"(wa_id|phone|recipient_id|from|to)":"(\+?[0-9]{4,20})"`)

// maskFrame masks the numbers in an event stream frame (its data line is the event's JSON). Frames without a
// member that may carry one are returned as they are, without a copy.
func maskFrame(frame []byte) []byte {
	if !bytes.Contains(frame, []byte(`":"`)) || !phoneField.Match(frame) {
		return frame
	}
	return phoneField.ReplaceAllFunc(frame, func(m []byte) []byte {
		sub := phoneField.FindSubmatch(m)
		return []byte(`"` + string(sub[1]) + `":"` + MaskPhone(string(sub[2])) + `"`)
	})
}

// digitRun matches what may be a phone number in free text: 7 digits or more, "+" first or not.
var digitRun = regexp.MustCompile(`\+?[0-9]{7,20}`)

// maskText masks what may be a phone number in a message for op, such as a refusal's: the rules' messages are
// written for everyone, and one that quoted a stored number would hand it to a masked operator.
func maskText(op tenant.OperatorRef, msg string) string {
	if !masks(op) || !digitRun.MatchString(msg) {
		return msg
	}
	return digitRun.ReplaceAllStringFunc(msg, MaskPhone)
}

// maskedDigits is the longest term of digits a masked caller may search by: a number's last four.
const maskedDigits = 4

// errHiddenDigits is the message of a masked caller's search by more digits than maskedDigits.
const errHiddenDigits = "numbers are hidden for your role: search by the last four digits or a name"

// searchText returns the search text q as op may run it; ok is false when op must be refused (400 invalid_query,
// errHiddenDigits). The search matches a number's digits from its start as a prefix, so a masked caller could
// otherwise learn the hidden digits one query at a time ("1555 1", "1555 2", …). A masked caller's term of digits
// may have at most four, and matches whole tokens only: a number's last four (which the mask shows) or a word of
// text. Four digits as a prefix would not do: a short number shows fewer than four of its first digits (MaskPhone).
func searchText(op tenant.OperatorRef, q string) (text string, ok bool) {
	if !masks(op) || q == "" {
		return q, true
	}
	pq := search.ParseQuery(q)
	lastDigits := false
	for i, t := range pq.Terms {
		if strings.Trim(t, "0123456789") != "" {
			continue
		}
		if len(t) > maskedDigits {
			return "", false
		}
		lastDigits = i == len(pq.Terms)-1
	}
	if !lastDigits || !pq.Prefix {
		return q, true
	}
	// The same terms, none a prefix: a query ending in punctuation other than a phone number's is complete.
	return strings.Join(pq.Terms, " ") + ",", true
}
