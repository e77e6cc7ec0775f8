package api

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

type csvRow struct {
	line   int
	fields []string
	code   string // a record's refusal
}

func readAll(t *testing.T, in string, max int) ([]csvRow, error) {
	t.Helper()
	r := newCSVReader(strings.NewReader(in), max)
	if err := r.Start(); err != nil {
		return nil, err
	}
	var rows []csvRow
	for {
		line, fields, err := r.Read()
		if err == io.EOF {
			return rows, nil
		}
		var ce *csvError
		if errors.As(err, &ce) {
			rows = append(rows, csvRow{line: line, code: ce.Code})
			continue
		}
		if err != nil {
			return rows, err
		}
		row := csvRow{line: line}
		for _, f := range fields {
			row.fields = append(row.fields, string(f))
		}
		rows = append(rows, row)
	}
}

func TestCSVReader(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want []csvRow
	}{
		{"plain", "phone,name\n+1555,Ana\n+1666,Bo\n", []csvRow{{1, []string{"phone", "name"}, ""}, {2, []string{"+1555", "Ana"}, ""}, {3, []string{"+1666", "Bo"}, ""}}},
		{"crlf and no final newline", "phone,name\r\n+1555,Ana\r\n+1666,Bo", []csvRow{{1, []string{"phone", "name"}, ""}, {2, []string{"+1555", "Ana"}, ""}, {3, []string{"+1666", "Bo"}, ""}}},
		{"bom stripped", "\xEF\xBB\xBFphone,name\n+1555,Ana\n", []csvRow{{1, []string{"phone", "name"}, ""}, {2, []string{"+1555", "Ana"}, ""}}},
		{"quoted commas, quotes and newlines", "phone,name\n\"+1555\",\"Ana, \"\"the\"\"\r\nsecond line\"\n+1666,Bo\n",
			[]csvRow{{1, []string{"phone", "name"}, ""}, {2, []string{"+1555", "Ana, \"the\"\nsecond line"}, ""}, {4, []string{"+1666", "Bo"}, ""}}},
		{"blank lines and only commas skipped", "phone,name\n\n,\r\n+1555,Ana\n\n", []csvRow{{1, []string{"phone", "name"}, ""}, {4, []string{"+1555", "Ana"}, ""}}},
		{"empty fields kept", "a,b,c\n1,,\n", []csvRow{{1, []string{"a", "b", "c"}, ""}, {2, []string{"1", "", ""}, ""}}},
		{"bare quote refuses its line only", "phone,name\n+1555,An\"a\n+1666,Bo\n", []csvRow{{1, []string{"phone", "name"}, ""}, {2, nil, codeInvalidCSV}, {3, []string{"+1666", "Bo"}, ""}}},
		{"text after a closing quote", "phone,name\n+1555,\"Ana\"x\n+1666,Bo\n", []csvRow{{1, []string{"phone", "name"}, ""}, {2, nil, codeInvalidCSV}, {3, []string{"+1666", "Bo"}, ""}}},
		{"unclosed quote at the end", "phone,name\n+1555,\"Ana\n+1666,Bo\n", []csvRow{{1, []string{"phone", "name"}, ""}, {2, nil, codeInvalidCSV}}},
		{"latin-1 after the first 64 KiB refuses the row", "phone,name\n" + strings.Repeat("+15550000000,Ana\n", 4000) + "+1555,Jos\xe9\n+1666,Bo\n",
			nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readAll(t, tc.in, 1<<20)
			if err != nil {
				t.Fatalf("error %v", err)
			}
			if tc.want == nil { // the latin-1 case: check the tail only
				if n := len(got); n != 4003 || got[n-2].code != codeInvalidEncoding || got[n-2].line != 4002 || got[n-1].line != 4003 || got[n-1].fields[1] != "Bo" {
					t.Fatalf("tail = %+v", got[len(got)-2:])
				}
				return
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i].line != tc.want[i].line || got[i].code != tc.want[i].code || strings.Join(got[i].fields, "|") != strings.Join(tc.want[i].fields, "|") {
					t.Errorf("row %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestCSVReaderRefusesOtherEncodings(t *testing.T) {
	utf16le := []byte{0xFF, 0xFE}
	for _, r := range "phone,name\n+1555,Ana\n" {
		utf16le = append(utf16le, byte(r), 0)
	}
	utf16noBOM := utf16le[2:]
	for _, tc := range []struct {
		name, in, want string
	}{
		{"utf-16 le", string(utf16le), "UTF-16 (little-endian"},
		{"utf-16 be", "\xFE\xFF\x00p\x00h", "UTF-16 (big-endian"},
		{"utf-32 le", "\xFF\xFE\x00\x00p\x00\x00\x00", "UTF-32"},
		{"utf-16 without bom", string(utf16noBOM), "looks like UTF-16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readAll(t, tc.in, 1<<20)
			var ce *csvError
			if !errors.As(err, &ce) || ce.Code != codeInvalidEncoding || !strings.Contains(ce.Reason, tc.want) {
				t.Fatalf("error %v, want invalid_encoding naming %q", err, tc.want)
			}
		})
	}
	// Bytes that are not UTF-8 refuse their record, with the byte and a guess.
	rows, err := readAll(t, "phone,name\n+1555,Jos\xe9\n+1666,Bo\n", 1<<20)
	if err != nil || len(rows) != 3 || rows[1].code != codeInvalidEncoding || rows[2].fields[1] != "Bo" {
		t.Fatalf("latin-1 row: %+v %v", rows, err)
	}
	r := newCSVReader(strings.NewReader("phone,name\n+1555,Jos\xe9\n"), 1<<20)
	_, _, _ = r.Read()
	if _, _, err := r.Read(); err == nil || !strings.Contains(err.Error(), "column 2 is not UTF-8: it has the byte 0xE9, it looks like Latin-1") {
		t.Fatalf("latin-1 reason: %v", err)
	}
}

// A 10 MB line is refused as that row without being kept, and the rows after it keep their line numbers.
func TestCSVReaderLongLines(t *testing.T) {
	const max = 1 << 20
	long := strings.Repeat("x", 10<<20)
	quotedLong := "\"" + strings.Repeat("y\n", 5<<20) + "\""
	in := "phone,name\n+1555," + long + "\n+1666,Bo\n+1777," + quotedLong + "\n+1888,Cy\n+1999," + strings.Repeat("z", max-len("+1999,")-1) + "\n"
	r := newCSVReader(strings.NewReader(in), max)
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	type res struct {
		line int
		code string
		n    int
	}
	var got []res
	for {
		line, fields, err := r.Read()
		if err == io.EOF {
			break
		}
		var ce *csvError
		if errors.As(err, &ce) {
			got = append(got, res{line, ce.Code, 0})
			if !strings.Contains(ce.Reason, "over the limit of 1048576") {
				t.Errorf("line %d: reason %q", line, ce.Reason)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, res{line, "", len(fields)})
		if c := cap(r.rec); c > max+128<<10 {
			t.Fatalf("the record buffer grew to %d bytes", c)
		}
	}
	want := []res{{1, "", 2}, {2, codeLineTooLong, 0}, {3, "", 2}, {4, codeLineTooLong, 0}, {5 + 5<<20, "", 2}, {6 + 5<<20, "", 2}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("record %d = %v, want %v", i, got[i], want[i])
		}
	}
	if r.Offset() != int64(len(in)) {
		t.Errorf("offset %d, want %d", r.Offset(), len(in))
	}
}

// The reader reads what encoding/csv writes, field for field and line for line.
func TestCSVReaderAgreesWithEncodingCSV(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "b", "é", ",", "\"", "\n", "\r\n", " ", "0", "+", "日本"}
	for iter := 0; iter < 200; iter++ {
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		w.UseCRLF = rng.IntN(2) == 0
		ncol := 1 + rng.IntN(4)
		var want [][]string
		for r := 0; r < 1+rng.IntN(20); r++ {
			rec := make([]string, ncol)
			for c := range rec {
				var sb strings.Builder
				sb.WriteString("v") // no blank records
				for k := rng.IntN(6); k > 0; k-- {
					sb.WriteString(alphabet[rng.IntN(len(alphabet))])
				}
				rec[c] = sb.String()
			}
			want = append(want, rec)
			if err := w.Write(rec); err != nil {
				t.Fatal(err)
			}
		}
		w.Flush()
		ref := csv.NewReader(bytes.NewReader(buf.Bytes()))
		got, err := readAll(t, buf.String(), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("iteration %d: %d records, want %d", iter, len(got), len(want))
		}
		for i := range got {
			rec, err := ref.Read()
			if err != nil {
				t.Fatal(err)
			}
			line, _ := ref.FieldPos(0)
			if got[i].code != "" || strings.Join(got[i].fields, "\x00") != strings.Join(rec, "\x00") || got[i].line != line {
				t.Fatalf("iteration %d record %d = %+v, encoding/csv read %q at line %d", iter, i, got[i], rec, line)
			}
		}
	}
}

func BenchmarkCSVReader(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString("phone,name,city,plan\n")
	for i := 0; i < 10000; i++ {
		buf.WriteString("+15551230000,Ana Lopez,\"Lisbon, PT\",premium\n")
	}
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	for b.Loop() {
		r := newCSVReader(bytes.NewReader(buf.Bytes()), 1<<20)
		for {
			if _, _, err := r.Read(); err != nil {
				break
			}
		}
	}
}
