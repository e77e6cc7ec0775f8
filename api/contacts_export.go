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
	"bufio"
	"encoding/csv"
	"encoding/json"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/tenant"
)

// exportPage is how many contacts the export reads per Reader call: the memory an export holds, whatever the
// number of contacts.
const exportPage = 500

// exportContacts answers GET /v1/contacts/export.csv. The first page is read before the answer starts, so a store
// that cannot be read is a 503, not an empty file. A store error after that cannot change the status any more: the
// connection is closed without the chunked body's last chunk, so the client sees a failed download, never a partial
// file that looks complete.
func (a *API) exportContacts(ctx *fasthttp.RequestCtx, op tenant.OperatorRef) {
	tenantID := op.Tenant.ID
	page, next, err := a.cfg.Reader.Contacts(tenantID, ContactQuery{Limit: exportPage})
	if err != nil {
		a.storeFailed(ctx, op, err)
		return
	}
	keys := make([]string, len(op.Tenant.Settings.ContactFields))
	for i, f := range op.Tenant.Settings.ContactFields {
		keys[i] = f.Key
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("text/csv; charset=utf-8")
	ctx.Response.Header.Set("Content-Disposition", `attachment; filename="contacts-`+tenantID+`.csv"`)
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
		cw := csv.NewWriter(w)
		_ = cw.Write(exportHeader(keys))
		row := make([]string, len(keys)+5)
		for {
			for i := range page {
				c := &page[i]
				if c.ID == "" {
					continue
				}
				maskContact(op, c)
				exportCells(row, c.ID, c.Phone, c.Name, c.Fields, keys, c.Blocked, c.CreatedAt)
				_ = cw.Write(row)
			}
			// A page's rows leave as one chunk; a client that went away fails the flush and ends the export.
			if cw.Flush(); cw.Error() != nil {
				return
			}
			if next == "" {
				return
			}
			if page, next, err = a.cfg.Reader.Contacts(tenantID, ContactQuery{After: next, Limit: exportPage}); err != nil {
				a.log.Error("export contacts", "tenant", tenantID, "err", err)
				_ = ctx.Conn().Close()
				return
			}
		}
	})
}

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
func exportCells(row []string, id, phone, name string, fields map[string]json.RawMessage, keys []string, blocked bool,
	created time.Time) {
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
