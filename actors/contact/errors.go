package contact

import "github.com/switchboard-hq/switchboard/actors/refusal"

// Refusal codes of the contact rules. The API's edge maps each one to its HTTP status (api/errors.go).
const (
	// CodeInvalidPhone [input]: the phone number is not a valid E.164 number, or an update tries to change it.
	CodeInvalidPhone = "invalid_phone"
	// CodeInvalidField [input]: a custom field's value does not fit its type or choices, a required field is
	// missing, or the name is too long. The message names the field.
	CodeInvalidField = "invalid_field"
	// CodeUnknownField [input]: a custom field that the tenant's schema does not define. The message names it.
	CodeUnknownField = "unknown_field"
	// CodeContactExists [state]: create of a contact whose phone number is already a contact.
	CodeContactExists = "contact_exists"
	// CodeNotFound [missing]: the contact does not exist (or belongs to another tenant).
	CodeNotFound = "contact_not_found"
	// CodeDuplicatePhone [input]: an import row repeats a phone number an earlier row of the same import wrote.
	CodeDuplicatePhone = "duplicate_phone"
	// CodeContactBlocked [state]: a message to, or a conversation started with, a blocked contact.
	CodeContactBlocked = "contact_blocked"
	// CodeInvalidCommand [input]: a catalogue command without what it needs (a contact, an id, rows).
	CodeInvalidCommand = "invalid_contact_command"
)

// Codes returns every refusal code of this package, so the API's edge can check that it maps each one.
func Codes() []string {
	return []string{CodeInvalidPhone, CodeInvalidField, CodeUnknownField, CodeContactExists, CodeNotFound,
		CodeDuplicatePhone, CodeContactBlocked, CodeInvalidCommand}
}

// Refusal is the refusal type the rules share.
type Refusal = refusal.Refusal
