package api

// POST /v1/contacts/import: a CSV file of contacts, read as a stream (the node's server leaves this path's body to
// the handler: StreamsBody), turned row by row into contact_import commands of at most importBatchRows rows,
// with importWindow batches in flight, each answered by the tenant's catalogue once durable. The answer is a report
// of every row, and with Accept: application/x-ndjson a progress line per batch before it.
//
// Never a silent partial import: batches are produced and answered in file order, and when one cannot be produced
// or its outcome does not come, the import stops and the report says which lines were applied, which were sent
// without an answer (they may still apply), and that nothing after them was sent.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/contact"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/refusal"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// Limits of an import.
const (
	// ImportMaxLine is the longest CSV record (row) kept, in bytes: a longer one is refused as that row
	// (line_too_long) and the import goes on.
	ImportMaxLine = 1 << 20
	// importBatchRows and importBatchBytes bound one contact_import command (a Kafka record).
	importBatchRows  = 500
	importBatchBytes = 256 << 10
	// importWindow is how many batches may be read and not yet answered at once.
	importWindow = 16
	// importMaxErrors is how many refused rows the report lists; it counts them all.
	importMaxErrors = 1000
	// importIdle is how long the body may stall before the import stops: the server's ReadTimeout and
	// WriteTimeout cover whole requests, and an import takes as long as its file.
	importIdle = 30 * time.Second
	// importRowBytes bounds one row's values once encoded, so a batch always fits a Kafka record.
	importRowBytes = 64 << 10
)

// The import's own error codes (codeStatus maps them).
const (
	codeUnknownColumn   = "unknown_column"   // a header column that is neither phone, name nor a field key
	codeMissingColumn   = "missing_column"   // no phone column
	codeDuplicateColumn = "duplicate_column" // the same column twice in the header
	codeTenantMismatch  = "tenant_mismatch"  // ?tenant= names another tenant than the token's
	codeRowTooLarge     = "row_too_large"    // a row's values over importRowBytes
	codeTooManyImports  = "too_many_imports" // Config.MaxImports imports already running on the node
)

// ImportReport is the answer of POST /v1/contacts/import (and the last NDJSON line).
type ImportReport struct {
	ImportID string `json:"import_id"`
	// Rows is how many rows (records after the header; blank lines are not rows) have an outcome: Created +
	// Updated + Unchanged + Refused.
	Rows      int `json:"rows"`
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
	Refused   int `json:"refused"`
	// Errors are the first importMaxErrors refused rows, in line order.
	Errors          []ImportRowError `json:"errors"`
	ErrorsTruncated bool             `json:"errors_truncated"`
	// Bytes is how much of the file was read.
	Bytes int64 `json:"bytes"`
	// Error is set when the import stopped before the end of the file: rows from StoppedAtLine on have no
	// outcome in this report; Unconfirmed of them were sent and may still apply, the rest were never sent.
	Error         *Error `json:"error,omitempty"`
	StoppedAtLine int    `json:"stopped_at_line,omitempty"`
	Unconfirmed   int    `json:"unconfirmed,omitempty"`
}

// ImportProgress is an NDJSON progress line: the counts so far and how much of the file was read.
type ImportProgress struct {
	Rows      int   `json:"rows"`
	Created   int   `json:"created"`
	Updated   int   `json:"updated"`
	Unchanged int   `json:"unchanged"`
	Refused   int   `json:"refused"`
	Bytes     int64 `json:"bytes"`
}

// ImportRowError is a refused row: its line in the file (where it starts), the phone cell as given, and why.
type ImportRowError struct {
	Line   int    `json:"line"`
	Phone  string `json:"phone"`
	Code   string `json:"code"`
	Reason string `json:"reason"`
}

// ImportColumn is how one header column maps: to "phone", "name", a field key, or nothing (Unknown, or ignored).
type ImportColumn struct {
	Column  string `json:"column"`
	MapsTo  string `json:"maps_to,omitempty"`
	Type    string `json:"type,omitempty"` // phone, name, or the field's type
	Unknown bool   `json:"unknown,omitempty"`
	// ReadOnly marks a contact's own column that an import does not set (id, wa_id, blocked, created_at,
	// updated_at, as the export writes them): it is left out, so an exported file imports as it is.
	ReadOnly bool `json:"read_only,omitempty"`
}

// importReadOnly are the contact's own columns an import leaves out.
var importReadOnly = []string{"id", "wa_id", "blocked", "created_at", "updated_at"}

// ImportCheck is the answer of POST /v1/contacts/import?check=header: the header's mapping, and the error the
// import would answer for it (none when it would start).
type ImportCheck struct {
	TenantID string         `json:"tenant_id"`
	Columns  []ImportColumn `json:"columns"`
	Error    *Error         `json:"error,omitempty"`
}

// importColumns maps a header; the error is the import's 400.
func importColumns(header [][]byte, schema contact.Schema, ignoreUnknown bool) ([]ImportColumn, *Error) {
	cols := make([]ImportColumn, len(header))
	seen := map[string]int{}
	var unknown []string
	var first *Error
	for i, h := range header {
		name := strings.TrimSpace(string(h))
		key := strings.ToLower(name)
		c := ImportColumn{Column: name}
		switch {
		case key == "phone" || key == "name":
			c.MapsTo, c.Type = key, key
		case slices.Contains(importReadOnly, key):
			c.ReadOnly = true
		default:
			if f, ok := schema.Field(key); ok {
				c.MapsTo, c.Type = f.Key, f.Type
			} else {
				c.Unknown = true
				unknown = append(unknown, strconv.Quote(clipCell(name)))
			}
		}
		if c.MapsTo != "" {
			if j, dup := seen[c.MapsTo]; dup && first == nil {
				first = &Error{codeDuplicateColumn, fmt.Sprintf("columns %d and %d are both %s", j+1, i+1, c.MapsTo)}
			}
			seen[c.MapsTo] = i
		}
		cols[i] = c
	}
	if first == nil && len(unknown) > 0 && !ignoreUnknown {
		known := []string{"phone", "name"}
		for _, f := range schema {
			known = append(known, f.Key)
		}
		first = &Error{codeUnknownColumn, fmt.Sprintf("unknown column %s (the columns are %s); nothing was imported: rename it, remove it or import with ignore_unknown=true",
			strings.Join(unknown, ", "), strings.Join(known, ", "))}
	}
	if _, ok := seen["phone"]; !ok && first == nil {
		first = &Error{codeMissingColumn, "the header has no phone column: the first row must name the columns, one of them phone"}
	}
	return cols, first
}

// importContacts handles POST /v1/contacts/import.
func (a *API) importContacts(ctx *fasthttp.RequestCtx, op tenant.OperatorRef) {
	// The body is not read to its end when the answer comes early: the connection cannot carry another request.
	ctx.SetConnectionClose()
	args := ctx.QueryArgs()
	if t := string(args.Peek("tenant")); t != "" && t != op.Tenant.ID {
		fail(ctx, codeTenantMismatch, fmt.Sprintf("the token belongs to tenant %s, not %s", op.Tenant.ID, quoteID(t)))
		return
	}
	check := string(args.Peek("check"))
	if check != "" && check != "header" {
		fail(ctx, codeInvalidQuery, "check must be header")
		return
	}
	if check == "" && (a.cfg.Producer == nil || a.cfg.Outcomes == nil) {
		fail(ctx, codeUnavailable, "this node does not take commands")
		return
	}
	ignoreUnknown := false
	if v := args.Peek("ignore_unknown"); len(v) > 0 {
		b, err := strconv.ParseBool(string(v))
		if err != nil {
			fail(ctx, codeInvalidQuery, "ignore_unknown must be true or false")
			return
		}
		ignoreUnknown = b
	}
	var body io.Reader
	if s := ctx.RequestBodyStream(); s != nil {
		body = s
	} else {
		body = bytes.NewReader(ctx.PostBody())
	}
	conn := ctx.Conn()
	body = &idleReader{r: body, conn: conn}
	r := newCSVReader(body, ImportMaxLine)
	if err := r.Start(); err != nil {
		importBadFile(ctx, body, "", err)
		return
	}
	_, header, err := r.Read()
	if err == io.EOF {
		fail(ctx, codeInvalidCSV, "the file is empty: its first row must name the columns, one of them phone")
		return
	}
	if err != nil {
		importBadFile(ctx, body, "the header (line 1): ", err)
		return
	}
	schema := schemaOf(op.Tenant)
	cols, cerr := importColumns(header, schema, ignoreUnknown)
	if check == "header" {
		drain(body)
		a.writeJSON(ctx, fasthttp.StatusOK, ImportCheck{TenantID: op.Tenant.ID, Columns: cols, Error: cerr})
		return
	}
	if cerr != nil {
		drain(body)
		fail(ctx, cerr.Code, cerr.Message)
		return
	}
	select {
	case a.imports <- struct{}{}:
	default:
		drain(body)
		ctx.Response.Header.Set("Retry-After", "30")
		fail(ctx, codeTooManyImports, fmt.Sprintf("%d imports are running on this node; retry shortly", cap(a.imports)))
		return
	}
	// The place is given back when the import ends: in the handler, or in the stream writer that runs after it.
	streamed := false
	defer func() {
		if !streamed {
			<-a.imports
		}
	}()
	imp := &importer{a: a, op: op, r: r, cols: cols, schema: schema, id: newID(), stopping: ctx.Done()}
	// The first batch is read before answering: a file that is not UTF-8 shows it there, and is refused whole
	// while nothing is sent (further down, such a row is refused alone).
	first := &importBatch{}
	eof, line, err := imp.fill(first)
	if err != nil {
		fail(ctx, codeInvalidCSV, fmt.Sprintf("the body could not be read past line %d: %v", line, err))
		return
	}
	if e, bad := first.notUTF8(); bad {
		drain(body)
		fail(ctx, codeInvalidEncoding, fmt.Sprintf("the file is not UTF-8: line %d, %s", e.Line, e.Reason))
		return
	}
	if strings.Contains(string(ctx.Request.Header.Peek("Accept")), "application/x-ndjson") {
		ctx.SetContentType("application/x-ndjson")
		ctx.Response.Header.Set("X-Accel-Buffering", "no")
		ctx.Response.Header.Set("Cache-Control", "no-store")
		// The stream writer runs after the handler returns, while fasthttp still holds the request's body stream
		// (it is released once the response is written).
		streamed = true
		ctx.SetBodyStreamWriter(func(w *bufio.Writer) {
			defer func() { <-a.imports }()
			enc := json.NewEncoder(w)
			line := func(v any) {
				if conn != nil {
					_ = conn.SetWriteDeadline(time.Now().Add(importIdle))
				}
				_ = enc.Encode(v)
				_ = w.Flush()
			}
			line(imp.run(first, eof, func(p ImportProgress) { line(p) }))
		})
		return
	}
	rep := imp.run(first, eof, nil)
	status := fasthttp.StatusOK
	if rep.Error != nil {
		status = StatusOf(rep.Error.Code)
	}
	a.writeJSON(ctx, status, rep)
}

// importBadFile answers a file refused by its start or its header (400): what the CSV reader found, prefixed by
// where, or that the body could not be read.
func importBadFile(ctx *fasthttp.RequestCtx, body io.Reader, where string, err error) {
	var ce *csvError
	if errors.As(err, &ce) {
		drain(body)
		fail(ctx, ce.Code, where+ce.Reason)
		return
	}
	fail(ctx, codeInvalidCSV, "the body could not be read: "+err.Error())
}

// drain reads up to 256 KiB of what is left of an unread body, so that a client still sending a small file reads
// the answer rather than a reset connection (what net/http's server does too).
func drain(r io.Reader) { _, _ = io.CopyN(io.Discard, r, 256<<10) }

// idleReader gives every read of the body importIdle from the previous one, so an import is bounded by stalls, not
// by its length.
type idleReader struct {
	r    io.Reader
	conn net.Conn
	last time.Time
}

func (ir *idleReader) Read(p []byte) (int, error) {
	if ir.conn != nil {
		if now := time.Now(); now.Sub(ir.last) > time.Second {
			ir.last = now
			_ = ir.conn.SetReadDeadline(now.Add(importIdle))
		}
	}
	return ir.r.Read(p)
}

// importer runs one import in three goroutines joined by channels, in file order: the reader parses rows into
// batches; the producer sends them to Kafka, all the batches waiting at once in one produce call (so Kafka's
// acknowledgement time is paid once per call, not once per batch, and the order holds); the awaiter takes each
// batch's outcome into the report and the progress lines. At most importWindow batches are between the reader and
// the report.
type importer struct {
	a      *API
	op     tenant.OperatorRef
	r      *csvReader
	cols   []ImportColumn
	schema contact.Schema
	id     string
	// stopping closes when the server shuts down: the import stops at the next batch (a long import would hold
	// the shutdown otherwise).
	stopping <-chan struct{}

	batches  int               // produced so far (producer)
	read     atomic.Int64      // bytes of the file read so far
	slots    chan struct{}     // one per batch in flight: importWindow
	queue    chan *importBatch // read, to be produced
	sent     chan *importBatch // produced, awaiting their outcome
	failed   atomic.Bool       // the producer or the awaiter stopped: nothing more is produced
	prodStop *importStop       // why the producer stopped (its own until it closes sent)
	rep      ImportReport      // the awaiter's until it returns
	stop     *importStop       // why the awaiter stopped
}

// importStop is where and why an import stopped.
type importStop struct {
	line        int
	code, msg   string
	unconfirmed int
}

// importBatch is one contact_import command and what the API refused of its lines before sending it.
type importBatch struct {
	rows      []inbox.ContactInput
	phones    []string // the phone cells as given, by row
	bytes     int
	firstLine int
	local     []ImportRowError // rows refused here, merged with the catalogue's refusals in line order
	localRows int

	result <-chan outcome.Result
	cancel func()
	sentAt time.Time
}

// fill reads rows into b until it is full or the file ends (eof). A read error of the body is returned with the
// line it stopped at.
func (im *importer) fill(b *importBatch) (eof bool, line int, err error) {
	defer func() { im.read.Store(im.r.Offset()) }()
	for len(b.rows) < importBatchRows && b.bytes < importBatchBytes {
		line, fields, err := im.r.Read()
		if err == io.EOF {
			return true, line, nil
		}
		if err != nil {
			var ce *csvError
			if !errors.As(err, &ce) {
				return false, line, err
			}
			b.refuse(line, "", ce.Code, ce.Reason)
			continue
		}
		im.row(b, line, fields)
	}
	return false, line, nil
}

// nextLine is the line of the next record to read.
func (im *importer) nextLine() int { return im.r.line }

// notUTF8 returns the first row of b refused for its encoding.
func (b *importBatch) notUTF8() (ImportRowError, bool) {
	for _, e := range b.local {
		if e.Code == codeInvalidEncoding {
			return e, true
		}
	}
	return ImportRowError{}, false
}

// run sends b, the first batch (eof when it holds the whole file), reads and sends the rest, and returns the report
// once every batch sent has its outcome, or the import stopped. progress, when not nil, is called by the awaiting
// goroutine after each batch.
func (im *importer) run(b *importBatch, eof bool, progress func(ImportProgress)) ImportReport {
	im.rep = ImportReport{ImportID: im.id, Errors: []ImportRowError{}}
	im.slots = make(chan struct{}, importWindow)
	im.queue = make(chan *importBatch, importWindow)
	im.sent = make(chan *importBatch, importWindow)
	awaited := make(chan struct{})
	go im.produce()
	go func() {
		defer close(awaited)
		im.await(progress)
	}()
	var stop *importStop
	for {
		if len(b.rows) > 0 || b.localRows > 0 {
			if !im.send(b) {
				break
			}
		}
		if eof {
			break
		}
		select {
		case <-im.stopping:
			stop = &importStop{line: im.nextLine(), code: codeUnavailable, msg: fmt.Sprintf(
				"the import stopped at line %d: the node is shutting down; the rows before it are in this report, the rest were not imported: import the file again (rows already imported will be unchanged)", im.nextLine())}
		default:
		}
		if stop != nil {
			break
		}
		b = &importBatch{}
		var line int
		var err error
		if eof, line, err = im.fill(b); err != nil {
			// The body stopped: nothing after this line was read; the rows read before it are still sent.
			if (len(b.rows) > 0 || b.localRows > 0) && !im.send(b) {
				break
			}
			stop = &importStop{line: line, code: codeInvalidCSV,
				msg: fmt.Sprintf("the import stopped at line %d: the body could not be read past it (%v); the rows before it are in this report", line, err)}
			break
		}
	}
	close(im.queue)
	<-awaited
	// The awaiter's stop comes first in the file, then the producer's: the batches after either were not waited for.
	switch {
	case im.stop != nil:
		stop = im.stop
	case im.prodStop != nil:
		stop = im.prodStop
	}
	im.rep.Bytes = im.r.Offset()
	if stop != nil {
		im.rep.Error = &Error{Code: stop.code, Message: stop.msg}
		im.rep.StoppedAtLine = stop.line
		im.rep.Unconfirmed = stop.unconfirmed
	}
	return im.rep
}

// unneutralise undoes the export's guard against formula injection (api/contacts_export.go: a cell that starts
// with = + - @ tab or carriage return is written after a '), so an exported file imports unchanged.
func unneutralise(cell []byte) []byte {
	if len(cell) > 1 && cell[0] == '\'' {
		switch cell[1] {
		case '=', '+', '-', '@', '\t', '\r':
			return cell[1:]
		}
	}
	return cell
}

// row checks one record and adds it to b, or refuses it there.
func (im *importer) row(b *importBatch, line int, fields [][]byte) {
	for i := range fields {
		fields[i] = unneutralise(fields[i])
	}
	var phone string
	for i, c := range im.cols {
		if c.MapsTo == "phone" && i < len(fields) {
			phone = string(bytes.TrimSpace(fields[i]))
		}
	}
	if len(fields) != len(im.cols) {
		b.refuse(line, phone, codeInvalidCSV, fmt.Sprintf("the row has %d columns, the header %d", len(fields), len(im.cols)))
		return
	}
	e164, _, err := contact.NormalizePhone(phone)
	if err != nil {
		b.refuse(line, phone, refusalCode(err), refusalMessage(err))
		return
	}
	in := inbox.ContactInput{Line: line, Phone: e164}
	size := len(e164)
	for i, c := range im.cols {
		cell := fields[i]
		switch c.MapsTo {
		case "", "phone":
			continue
		case "name":
			name := string(bytes.TrimSpace(cell))
			if name == "" {
				continue // an empty cell leaves the contact's name as it is
			}
			in.Name = &name
			size += len(name)
		default:
			cell = bytes.TrimSpace(cell)
			if len(cell) == 0 {
				continue // an empty cell leaves the field as it is
			}
			v, err := im.schema.Check(c.MapsTo, appendJSONString(nil, cell))
			if err != nil {
				b.refuse(line, phone, refusalCode(err), refusalMessage(err))
				return
			}
			if in.Fields == nil {
				in.Fields = make(map[string]json.RawMessage, len(im.cols))
			}
			in.Fields[c.MapsTo] = v
			size += len(c.MapsTo) + len(v)
		}
	}
	if in.Name != nil && utf8.RuneCountInString(*in.Name) > contact.MaxNameRunes {
		b.refuse(line, phone, contact.CodeInvalidField, fmt.Sprintf("field %q: longer than %d characters", "name", contact.MaxNameRunes))
		return
	}
	if size > importRowBytes {
		b.refuse(line, phone, codeRowTooLarge, fmt.Sprintf("the row's values are %d bytes, over %d", size, importRowBytes))
		return
	}
	if b.firstLine == 0 {
		b.firstLine = line
	}
	b.rows = append(b.rows, in)
	b.phones = append(b.phones, phone)
	b.bytes += size
}

func (b *importBatch) refuse(line int, phone, code, reason string) {
	if b.firstLine == 0 {
		b.firstLine = line
	}
	b.localRows++
	b.local = append(b.local, ImportRowError{Line: line, Phone: clipCell(phone), Code: code, Reason: reason})
}

// send hands b to the producer once fewer than importWindow batches are in flight; false when the import stopped
// meanwhile (b is not sent).
func (im *importer) send(b *importBatch) bool {
	im.slots <- struct{}{}
	if im.failed.Load() {
		<-im.slots
		return false
	}
	im.queue <- b
	return true
}

// produce sends the queued batches to Kafka, every batch waiting at once in one call, in order, until the reader
// closes the queue; then it closes sent. After a failed call nothing more is produced.
func (im *importer) produce() {
	defer close(im.sent)
	var group []*importBatch
	var recs []inbox.Record
	for b := range im.queue {
		group = append(group[:0], b)
	more:
		for len(group) < importWindow {
			select {
			case b, ok := <-im.queue:
				if !ok {
					break more
				}
				group = append(group, b)
			default:
				break more
			}
		}
		if im.failed.Load() {
			for range group {
				<-im.slots
			}
			continue
		}
		recs = recs[:0]
		for _, b := range group {
			if len(b.rows) == 0 {
				continue
			}
			im.batches++
			cmd := &inbox.Command{Type: "contact_import", RequestID: im.id + "." + strconv.Itoa(im.batches),
				OperatorID: im.op.Operator.ID, Contacts: b.rows, ImportID: im.id}
			b.result, b.cancel = im.a.cfg.Outcomes.Register(cmd.RequestID)
			recs = append(recs, inbox.Record{Tenant: im.op.Tenant.ID, IngestAt: im.a.cfg.Now().UnixMilli(),
				Items: []inbox.Item{{Kind: inbox.KindCommand, Command: cmd}}})
		}
		var err error
		if len(recs) > 0 {
			pctx, cancel := context.WithTimeout(context.Background(), im.a.cfg.CommandTimeout)
			err = im.a.cfg.Producer.Produce(pctx, recs)
			cancel()
		}
		if err != nil {
			im.a.log.Warn("queue import batches", "tenant", im.op.Tenant.ID, "operator", im.op.Operator.ID, "import", im.id, "err", err)
			first, rows := 0, 0
			for _, b := range group {
				if b.cancel != nil {
					b.cancel()
				}
				if first == 0 {
					first = b.firstLine
				}
				rows += len(b.rows)
				<-im.slots
			}
			// A produce Kafka did not acknowledge may still have been written: its rows are unconfirmed.
			im.prodStop = &importStop{line: first, code: codeUnavailable, unconfirmed: rows, msg: fmt.Sprintf(
				"the import stopped at line %d: Kafka did not acknowledge the rows from line %d (they were most likely not imported, but may still apply), and nothing after them was sent; import the file again: rows already imported will be unchanged",
				first, first)}
			im.failed.Store(true)
			continue
		}
		now := time.Now()
		for _, b := range group {
			b.sentAt = now
			im.sent <- b
		}
	}
}

// await takes each batch's outcome into the report, in file order, until the reader closes sent. After a batch
// whose outcome does not come (or is a failure) it stops waiting: that batch and those after it are unconfirmed.
func (im *importer) await(progress func(ImportProgress)) {
	for b := range im.sent {
		im.awaitOne(b, progress)
		<-im.slots
	}
}

// awaitOne takes b's outcome into the report, or after a stop counts it unconfirmed.
func (im *importer) awaitOne(b *importBatch, progress func(ImportProgress)) {
	if im.stop != nil {
		im.stop.unconfirmed += len(b.rows)
		if b.cancel != nil {
			b.cancel()
		}
		return
	}
	rows, stop := im.outcome(b)
	if stop != nil {
		im.stop = stop
		im.failed.Store(true)
		return
	}
	im.account(b, rows)
	if progress != nil {
		progress(ImportProgress{Rows: im.rep.Rows, Created: im.rep.Created, Updated: im.rep.Updated,
			Unchanged: im.rep.Unchanged, Refused: im.rep.Refused, Bytes: im.read.Load()})
	}
}

// outcome waits for b's outcome (at most CommandTimeout from its sending).
func (im *importer) outcome(b *importBatch) ([]contact.ImportRow, *importStop) {
	if len(b.rows) == 0 {
		return nil, nil
	}
	defer b.cancel()
	var res outcome.Result
	select {
	case res = <-b.result:
	default:
		timer := time.NewTimer(im.a.cfg.CommandTimeout - time.Since(b.sentAt))
		defer timer.Stop()
		select {
		case res = <-b.result:
		case <-timer.C:
			return nil, &importStop{line: b.firstLine, code: codeOutcomeUnknown, unconfirmed: len(b.rows), msg: fmt.Sprintf(
				"the import stopped at line %d: the outcome of the rows from line %d did not arrive in time; they and the rows sent after them may still apply, nothing later was sent; retry the import: rows already imported will be unchanged",
				b.firstLine, b.firstLine)}
		}
	}
	if res.Code != "" {
		im.a.log.Warn("import batch refused", "tenant", im.op.Tenant.ID, "import", im.id, "code", res.Code, "message", res.Message)
		return nil, &importStop{line: b.firstLine, code: res.Code, unconfirmed: len(b.rows),
			msg: fmt.Sprintf("the import stopped at line %d: %s", b.firstLine, res.Message)}
	}
	rows, err := importOutcomes(res.Body, len(b.rows))
	if err != nil {
		im.a.log.Error("import batch outcome", "tenant", im.op.Tenant.ID, "import", im.id, "err", err)
		return nil, &importStop{line: b.firstLine, code: outcome.CodeInternal, unconfirmed: len(b.rows),
			msg: fmt.Sprintf("the import stopped at line %d: the outcome of its batch could not be read", b.firstLine)}
	}
	return rows, nil
}

// account adds a batch's outcomes, local refusals and the catalogue's, to the report in line order.
func (im *importer) account(b *importBatch, rows []contact.ImportRow) {
	rep := &im.rep
	li := 0
	addErr := func(e ImportRowError) {
		rep.Refused++
		if len(rep.Errors) < importMaxErrors {
			rep.Errors = append(rep.Errors, e)
		} else {
			rep.ErrorsTruncated = true
		}
	}
	for i, o := range rows {
		line := b.rows[i].Line
		for li < len(b.local) && b.local[li].Line < line {
			addErr(b.local[li])
			li++
		}
		switch o.Result {
		case contact.Created:
			rep.Created++
		case contact.Updated:
			rep.Updated++
		case contact.Unchanged:
			rep.Unchanged++
		default:
			addErr(ImportRowError{Line: line, Phone: clipCell(b.phones[i]), Code: o.Code, Reason: o.Reason})
		}
	}
	for ; li < len(b.local); li++ {
		addErr(b.local[li])
	}
	rep.Rows = rep.Created + rep.Updated + rep.Unchanged + rep.Refused
}

// importOutcomes reads a contact_import outcome's body (the catalogue's *contact.ImportResult): one row per row of
// the batch, in its order.
func importOutcomes(body any, n int) ([]contact.ImportRow, error) {
	res, ok := body.(*contact.ImportResult)
	if !ok || res == nil {
		return nil, fmt.Errorf("contact_import outcome body is %T, want *contact.ImportResult", body)
	}
	if len(res.Rows) != n {
		return nil, fmt.Errorf("contact_import outcome has %d rows, the batch %d", len(res.Rows), n)
	}
	return res.Rows, nil
}

func refusalCode(err error) string {
	var r *refusal.Refusal
	if errors.As(err, &r) {
		return r.Code
	}
	return codeInvalidCSV
}

func refusalMessage(err error) string {
	var r *refusal.Refusal
	if errors.As(err, &r) {
		return r.Message
	}
	return err.Error()
}

// clipCell cuts a cell quoted in a report to 64 bytes (at a character boundary): a refused cell may be a megabyte.
func clipCell(s string) string {
	if len(s) <= 64 {
		return s
	}
	i := 64
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// appendJSONString appends s as a JSON string (valid UTF-8 is assumed: the CSV reader checked it).
func appendJSONString(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
