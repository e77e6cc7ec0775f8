package contact

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboard-hq/switchboard/actors/jsonappend"
)

// Field types of a tenant's contact fields (settings.contact_fields).
const (
	TypeText    = "text"
	TypeNumber  = "number"
	TypeDate    = "date"
	TypeBoolean = "boolean"
	TypeChoice  = "choice"
)

// Field is one custom field of a tenant's contacts. It has the same fields as tenant.ContactField, so a config
// field converts to it directly; the config's validation (tenant.Config.Validate) checks definitions.
type Field struct {
	// Key names the field in the API and in CSV headers: [a-z][a-z0-9_]{0,31}.
	Key string `json:"key"`
	// Label is how the console shows it.
	Label string `json:"label"`
	// Type is text, number, date (YYYY-MM-DD), boolean or choice.
	Type string `json:"type"`
	// Required fields must have a value on every contact.
	Required bool `json:"required"`
	// Choices are the allowed values of a choice field.
	Choices []string `json:"choices,omitempty"`
}

// Schema is a tenant's contact fields, in the order the console shows them.
type Schema []Field

// Field returns the field with key k.
func (s Schema) Field(k string) (Field, bool) {
	for _, f := range s {
		if f.Key == k {
			return f, true
		}
	}
	return Field{}, false
}

// Check validates a value given for field k and returns its stored form: a JSON string for text, choice and date,
// a JSON number, or true/false; nil when raw removes the value (null or ""). It is lenient where a CSV cell or a
// form gives text: a number or a boolean may come as a JSON string ("42", "true", "yes", "1"). A refusal names the
// field: CodeUnknownField when s has no k, else CodeInvalidField.
func (s Schema) Check(k string, raw json.RawMessage) (json.RawMessage, error) {
	f, ok := s.Field(k)
	if !ok {
		return nil, refuse(CodeUnknownField, "unknown field %q", k)
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" || string(raw) == `""` {
		if f.Required {
			return nil, refuse(CodeInvalidField, "field %q is required", k)
		}
		return nil, nil
	}
	bad := func(format string, args ...any) error {
		return refuse(CodeInvalidField, "field %q: "+format, append([]any{k}, args...)...)
	}
	var str string
	isStr := raw[0] == '"'
	if isStr {
		var ok bool
		if str, ok = unquoteJSON(raw); !ok {
			return nil, bad("not a valid JSON string")
		}
		if !utf8.ValidString(str) {
			return nil, bad("not UTF-8")
		}
	}
	switch f.Type {
	case TypeText:
		if !isStr {
			return nil, bad("want text")
		}
		if utf8.RuneCountInString(str) > MaxTextRunes {
			return nil, bad("longer than %d characters", MaxTextRunes)
		}
		return jsonString(str), nil
	case TypeChoice:
		if !isStr {
			return nil, bad("want one of %s", strings.Join(f.Choices, ", "))
		}
		if !slices.Contains(f.Choices, str) {
			return nil, bad("%q is not one of %s", clip(str), strings.Join(f.Choices, ", "))
		}
		return jsonString(str), nil
	case TypeDate:
		if !isStr {
			return nil, bad("want a date YYYY-MM-DD")
		}
		if _, err := time.Parse(time.DateOnly, str); err != nil || len(str) != 10 {
			return nil, bad("%q is not a date YYYY-MM-DD", clip(str))
		}
		return jsonString(str), nil
	case TypeNumber:
		num := string(raw)
		if isStr {
			num = strings.TrimSpace(str)
		}
		v, err := strconv.ParseFloat(num, 64)
		if err != nil || num == "" || strings.ContainsAny(num, "xXpP_") || strings.EqualFold(num, "nan") ||
			strings.Contains(strings.ToLower(num), "inf") {
			return nil, bad("%q is not a number", clip(num))
		}
		return json.RawMessage(strconv.FormatFloat(v, 'f', -1, 64)), nil
	case TypeBoolean:
		b := string(raw)
		if isStr {
			b = strings.ToLower(strings.TrimSpace(str))
		}
		switch b {
		case "true", "yes", "1":
			return json.RawMessage("true"), nil
		case "false", "no", "0":
			return json.RawMessage("false"), nil
		}
		return nil, bad("%q is not true or false", clip(b))
	}
	return nil, bad("the schema gives it type %q, which this version does not know", f.Type)
}

func jsonString(s string) json.RawMessage {
	return jsonappend.String(nil, s)
}
