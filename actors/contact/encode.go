package contact

// The contact record's JSON without reflection: an import writes a record per row, and encoding/json spent 8 % of
// an import's CPU on it (H-speed2). AppendJSON writes what json.Marshal writes, byte for byte (TestAppendJSON
// compares them over random contacts), and hands anything out of the ordinary (a string to escape, a field value
// that is not compact, a year outside 0-9999) to encoding/json.

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/switchboard-hq/switchboard/actors/jsonappend"
)

// AppendJSON appends c's JSON, as json.Marshal(c) writes it, to dst; it fails where json.Marshal fails (a field
// value that is not JSON, a time whose year is outside 0-9999).
func (c *Contact) AppendJSON(dst []byte) ([]byte, error) {
	var err error
	dst = append(dst, `{"id":`...)
	dst = jsonappend.String(dst, c.ID)
	dst = append(dst, `,"phone":`...)
	dst = jsonappend.String(dst, c.Phone)
	dst = append(dst, `,"wa_id":`...)
	dst = jsonappend.String(dst, c.WaID)
	dst = append(dst, `,"name":`...)
	dst = jsonappend.String(dst, c.Name)
	if c.ProfileName != "" {
		dst = append(dst, `,"profile_name":`...)
		dst = jsonappend.String(dst, c.ProfileName)
	}
	if len(c.Fields) > 0 {
		dst = append(dst, `,"fields":{`...)
		var small [16]string
		keys := small[:0]
		for k := range c.Fields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = jsonappend.String(dst, k)
			dst = append(dst, ':')
			if dst, err = appendRaw(dst, c.Fields[k]); err != nil {
				return nil, fmt.Errorf("field %q: %w", k, err)
			}
		}
		dst = append(dst, '}')
	}
	if c.Blocked {
		dst = append(dst, `,"blocked":true`...)
	}
	dst = append(dst, `,"created_at":`...)
	if dst, err = jsonappend.Time(dst, c.CreatedAt); err != nil {
		return nil, err
	}
	dst = append(dst, `,"updated_at":`...)
	if dst, err = jsonappend.Time(dst, c.UpdatedAt); err != nil {
		return nil, err
	}
	dst = append(dst, `,"version":`...)
	dst = strconv.AppendUint(dst, c.Version, 10)
	dst = append(dst, `,"applied":{"offset":`...)
	dst = strconv.AppendInt(dst, c.Applied.Offset, 10)
	dst = append(dst, `,"index":`...)
	dst = strconv.AppendInt(dst, int64(c.Applied.Index), 10)
	dst = append(dst, '}')
	if c.ImportID != "" {
		dst = append(dst, `,"import_id":`...)
		dst = jsonappend.String(dst, c.ImportID)
	}
	if c.ImportLine != 0 {
		dst = append(dst, `,"import_line":`...)
		dst = strconv.AppendInt(dst, int64(c.ImportLine), 10)
	}
	return append(dst, '}'), nil
}

// appendRaw appends a field value as json.Marshal writes a json.RawMessage: compacted and HTML-escaped. The values
// Schema.Check returns are compact already; anything with a space, an escape or a byte over 0x7F goes the slow way.
func appendRaw(dst []byte, v json.RawMessage) ([]byte, error) {
	plain := len(v) > 0
	for _, c := range v {
		if c <= ' ' || c == '<' || c == '>' || c == '&' || c == '\\' || c >= utf8.RuneSelf {
			plain = false
			break
		}
	}
	if plain && json.Valid(v) {
		return append(dst, v...), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(dst, b...), nil
}

// unquoteJSON decodes the JSON string raw (quotes included) as json.Unmarshal into a string does; ok is false when
// raw is not a JSON string.
func unquoteJSON(raw []byte) (s string, ok bool) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		plain, ascii := true, true
		for _, c := range raw[1 : len(raw)-1] {
			if c < 0x20 || c == '"' || c == '\\' {
				plain = false
				break
			}
			if c >= utf8.RuneSelf {
				ascii = false
			}
		}
		if plain && (ascii || utf8.Valid(raw)) {
			return string(raw[1 : len(raw)-1]), true
		}
	}
	return s, json.Unmarshal(raw, &s) == nil
}
