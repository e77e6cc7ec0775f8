package api

// The CSV reader of POST /v1/contacts/import. encoding/csv keeps a whole record in memory however long it is, so a
// 10 GB line would be read whole; this reader bounds every record (maxRecord), skips one that is longer without
// keeping it, and reports it as that row's error while the import goes on. It follows RFC 4180 as encoding/csv does
// without LazyQuotes: fields separated by commas, a field in double quotes may hold commas, newlines and "" for a
// quote; a record ends at a newline outside quotes (\n or \r\n; \r\n inside a quoted field reads as \n).

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Row error codes of an import's report (the errors list; never an HTTP status of their own).
const (
	codeLineTooLong     = "line_too_long"    // a record over maxRecord bytes
	codeInvalidCSV      = "invalid_csv"      // a quote out of place, a field count unlike the header's
	codeInvalidEncoding = "invalid_encoding" // not UTF-8 (the file: 400; one row: that row refused)
)

// csvError is a record's own problem: the record is refused, the reader goes on with the next.
type csvError struct {
	Code, Reason string
}

func (e *csvError) Error() string { return e.Code + ": " + e.Reason }

// csvReader reads bounded CSV records from a stream. It is not safe for concurrent use.
type csvReader struct {
	br  *bufio.Reader
	max int // the longest record kept, in bytes as they are in the file

	line int   // line number of the next byte (1-based)
	off  int64 // bytes consumed

	rec    []byte // the current record's fields, unquoted, back to back
	ends   []int  // where each field of rec ends
	fields [][]byte
}

// csv parser states.
const (
	stFieldStart = iota
	stUnquoted
	stQuoted
	stQuoteInQuoted // a quote inside a quoted field: the field's end, or the first of ""
	stSkipLine      // after an error: the rest of the physical line is dropped
)

func newCSVReader(r io.Reader, maxRecord int) *csvReader {
	return &csvReader{br: bufio.NewReaderSize(r, 64<<10), max: maxRecord, line: 1}
}

// Offset is how many bytes of the stream the reader has consumed.
func (c *csvReader) Offset() int64 { return c.off }

// Read returns the next record and the line it starts on. The fields alias the reader's buffer: they are valid until
// the next call. A record the reader refuses comes back with a *csvError (and no fields); io.EOF ends the stream;
// any other error is the stream's and ends the import. Blank lines, and lines of only commas, are skipped.
func (c *csvReader) Read() (line int, fields [][]byte, err error) {
	for {
		line, err = c.readRecord()
		if err != nil {
			return line, nil, err
		}
		c.fields = c.fields[:0]
		start, blank := 0, true
		for _, end := range c.ends {
			c.fields = append(c.fields, c.rec[start:end:end])
			if end > start {
				blank = false
			}
			start = end
		}
		if blank {
			continue
		}
		for i, f := range c.fields {
			if !utf8.Valid(f) {
				bad := 0
				for bad < len(f) {
					r, size := utf8.DecodeRune(f[bad:])
					if r == utf8.RuneError && size <= 1 {
						break
					}
					bad += size
				}
				return line, nil, &csvError{codeInvalidEncoding, fmt.Sprintf("column %d is not UTF-8: it has the byte 0x%02X, %s; save the file as CSV UTF-8", i+1, f[bad], guessEncoding(f[bad:]))}
			}
		}
		return line, c.fields, nil
	}
}

// readRecord fills rec and ends with the next record. It returns io.EOF only when no record is left.
func (c *csvReader) readRecord() (line int, err error) {
	c.rec, c.ends = c.rec[:0], c.ends[:0]
	line = c.line
	state := stFieldStart
	raw := 0 // the record's bytes as they are in the file
	var recErr *csvError
	started := false
	for {
		chunk, rerr := c.br.ReadSlice('\n')
		if len(chunk) > 0 {
			started = true
		}
		c.off += int64(len(chunk))
		raw += len(chunk)
		if raw > c.max && recErr == nil {
			recErr = &csvError{Code: codeLineTooLong}
		}
		keep := recErr == nil
		for i := 0; i < len(chunk); i++ {
			b := chunk[i]
			switch state {
			case stSkipLine:
				if b == '\n' {
					c.line++
					return line, recErr
				}
			case stFieldStart, stUnquoted:
				switch b {
				case ',':
					c.ends = append(c.ends, len(c.rec))
					state = stFieldStart
				case '\n':
					c.line++
					c.ends = append(c.ends, len(c.rec))
					return line, c.finish(recErr, raw)
				case '\r':
					if i+1 < len(chunk) && chunk[i+1] == '\n' {
						continue // \r\n ends the record at the \n
					}
					state = stUnquoted
					if keep {
						c.rec = append(c.rec, b)
					}
				case '"':
					if state == stFieldStart {
						state = stQuoted
						continue
					}
					if recErr == nil {
						recErr = &csvError{codeInvalidCSV, fmt.Sprintf(`a quote (") inside field %d, which is not quoted: quote the field and double the quote ("")`, len(c.ends)+1)}
					}
					keep, state = false, stSkipLine
				default:
					state = stUnquoted
					if keep {
						i = c.copyRun(chunk, i, &stopUnquoted)
					}
				}
			case stQuoted:
				switch b {
				case '"':
					state = stQuoteInQuoted
				case '\n':
					c.line++
					if keep {
						if n := len(c.rec); n > 0 && c.rec[n-1] == '\r' {
							c.rec = c.rec[:n-1]
						}
						c.rec = append(c.rec, '\n')
					}
				default:
					if keep {
						i = c.copyRun(chunk, i, &stopQuoted)
					}
				}
			case stQuoteInQuoted:
				switch b {
				case '"':
					state = stQuoted
					if keep {
						c.rec = append(c.rec, '"')
					}
				case ',':
					c.ends = append(c.ends, len(c.rec))
					state = stFieldStart
				case '\n':
					c.line++
					c.ends = append(c.ends, len(c.rec))
					return line, c.finish(recErr, raw)
				case '\r':
					if i+1 < len(chunk) && chunk[i+1] == '\n' {
						continue
					}
					fallthrough
				default:
					if recErr == nil {
						recErr = &csvError{codeInvalidCSV, fmt.Sprintf(`field %d: a quoted field must end at its closing quote, followed by a comma or the end of the line (write "" for a quote inside it)`, len(c.ends)+1)}
					}
					keep, state = false, stSkipLine
				}
			}
		}
		switch {
		case rerr == nil || errors.Is(rerr, bufio.ErrBufferFull):
			continue
		case rerr == io.EOF:
			if !started {
				return line, io.EOF
			}
			// The last record has no newline.
			switch state {
			case stQuoted:
				if recErr == nil || recErr.Code == codeLineTooLong {
					recErr = &csvError{codeInvalidCSV, fmt.Sprintf("a quoted field opened on this line is never closed: the rest of the file (to line %d) was read as this row", c.line)}
				}
				return line, recErr
			case stSkipLine:
				return line, recErr
			}
			c.ends = append(c.ends, len(c.rec))
			return line, c.finish(recErr, raw)
		default:
			return line, fmt.Errorf("read the CSV body: %w", rerr)
		}
	}
}

// The bytes that end a run of field content: in an unquoted field and in a quoted one.
var stopUnquoted, stopQuoted = byteSet(",\n\r\""), byteSet("\"\n")

func byteSet(s string) (set [256]bool) {
	for i := range len(s) {
		set[s[i]] = true
	}
	return set
}

// copyRun appends chunk[i:] up to the next byte in stop to the record at once, and returns the index of the last
// byte copied.
func (c *csvReader) copyRun(chunk []byte, i int, stop *[256]bool) int {
	j := i + 1
	for j < len(chunk) && !stop[chunk[j]] {
		j++
	}
	c.rec = append(c.rec, chunk[i:j]...)
	return j - 1
}

// finish turns a record's pending error into its final form, now that its length is known.
func (c *csvReader) finish(recErr *csvError, raw int) error {
	if recErr == nil {
		return nil
	}
	if recErr.Code == codeLineTooLong {
		recErr.Reason = fmt.Sprintf("the row is %d bytes long, over the limit of %d; it was skipped", raw, c.max)
	}
	return recErr
}

// Start reads the beginning of the stream: it drops a UTF-8 byte order mark and refuses a file in another encoding
// (a UTF-16 or UTF-32 byte order mark, or UTF-16 without one) with a message that names it. Bytes that are not
// UTF-8 are found field by field (Read).
func (c *csvReader) Start() error {
	_, err := c.br.Peek(4) // a byte order mark; a shorter file is read as it is
	if err != nil && err != io.EOF {
		return fmt.Errorf("read the CSV body: %w", err)
	}
	head, _ := c.br.Peek(c.br.Buffered())
	switch {
	case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
		_, _ = c.br.Discard(3)
		c.off += 3
		return nil
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE, 0, 0}):
		return &csvError{codeInvalidEncoding, "the file is UTF-32 (little-endian byte order mark); save it as CSV UTF-8"}
	case bytes.HasPrefix(head, []byte{0, 0, 0xFE, 0xFF}):
		return &csvError{codeInvalidEncoding, "the file is UTF-32 (big-endian byte order mark); save it as CSV UTF-8"}
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}):
		return &csvError{codeInvalidEncoding, "the file is UTF-16 (little-endian byte order mark); save it as CSV UTF-8"}
	case bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		return &csvError{codeInvalidEncoding, "the file is UTF-16 (big-endian byte order mark); save it as CSV UTF-8"}
	}
	if n := min(len(head), 512); n >= 4 && bytes.Count(head[:n], []byte{0}) > n/4 {
		return &csvError{codeInvalidEncoding, "the file looks like UTF-16 (every other byte is zero); save it as CSV UTF-8"}
	}
	return nil
}

// guessEncoding names what bytes that are not UTF-8 probably are.
func guessEncoding(b []byte) string {
	if bytes.IndexByte(b, 0) >= 0 {
		return "it looks like UTF-16"
	}
	return "it looks like Latin-1 (ISO-8859-1) or Windows-1252"
}
