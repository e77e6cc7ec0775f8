package api

// GET /v1/contacts/export.csv: every contact of the caller's tenant as CSV, streamed page by page from the Reader's
// contact listing, so an export of a million contacts holds one page in memory. Columns: id, phone, name, each field
// of the tenant's schema (by key, in schema order), blocked, created_at. Phones are masked exactly as the JSON API
// masks them for the caller (role operator in a hide_phone_numbers tenant). Cells a customer or an operator wrote
// (name, field values) that a spreadsheet would read as a formula — starting with = + - @, tab or carriage return —
// are prefixed with ' (OWASP's CSV injection advice). The id, the phone (E.164 validated by the server, or its
// masked form), blocked and created_at are the server's own and written as they are, so an exported file imports
// back unchanged.

import (
	"encoding/json"
	"strconv"
	"time"
)

// neutralise makes a cell a spreadsheet reads as text, never as a formula.
func neutralise(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}

// fieldCell is a custom field's stored JSON value as a cell: a string unquoted, a number, true or false as written,
// null or absent as an empty cell.
func fieldCell(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			return neutralise(s)
		}
	}
	return neutralise(string(raw))
}

// exportHeader is the CSV header for a schema's field keys.
func exportHeader(keys []string) []string {
	h := make([]string, 0, len(keys)+5)
	h = append(h, "id", "phone", "name")
	h = append(h, keys...)
	return append(h, "blocked", "created_at")
}

// exportCells fills row (reused from contact to contact; its length is len(keys)+5) with one contact's cells.
func exportCells(row []string, id, phone, name string, fields map[string]json.RawMessage, keys []string, blocked bool, created time.Time) {
	row[0], row[1], row[2] = id, phone, neutralise(name)
	for i, k := range keys {
		row[3+i] = fieldCell(fields[k])
	}
	row[3+len(keys)] = strconv.FormatBool(blocked)
	row[4+len(keys)] = ""
	if !created.IsZero() {
		row[4+len(keys)] = created.UTC().Format(time.RFC3339)
	}
}
