package inbox

import (
	"fmt"
	"testing"
)

// benchRecord is the most common inbox record: one customer text message.
func benchRecord() Record {
	return Record{Tenant: "acme", IngestAt: 1700000000123, Items: []Item{{Kind: KindMessage, Channel: "acme-wa",
		Message: &Message{ID: "wamid.HBgLMTU1NTAwMDExMTEVAgASGCA5", From: "15550001111", ProfileName: "Maria",
			Type: "text", Timestamp: 1700000000, Text: "Hello, my order 1234 has not arrived yet"}}}}
}

// benchDecodeDistinct decodes 1,024 message records in format f that differ in message id, sender and text, as a
// partition's records do.
func benchDecodeDistinct(b *testing.B, f Format) {
	vals := make([][]byte, 1024)
	size := 0
	for i := range vals {
		r := benchRecord()
		r.Items[0].Message.ID = fmt.Sprintf("wamid.HBgLMTU1NTAwMDExMTEVAgASGCA5%06d", i)
		r.Items[0].Message.From = fmt.Sprintf("155500%05d", i)
		r.Items[0].Message.Text = fmt.Sprintf("Hello, my order %d has not arrived yet", i)
		v, err := f.Append(nil, &r)
		if err != nil {
			b.Fatal(err)
		}
		vals[i] = v
		size += len(v)
	}
	benchDecode(b, vals, size/len(vals))
}

// benchEncode encodes r in format f into one buffer again and again.
func benchEncode(b *testing.B, f Format, r Record) {
	buf, err := f.Append(nil, &r)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = f.Append(buf[:0], &r); err != nil {
			b.Fatal(err)
		}
	}
}

// benchDecode decodes vals in turn, each of about size bytes.
func benchDecode(b *testing.B, vals [][]byte, size int) {
	b.SetBytes(int64(size))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := Decode(vals[i%len(vals)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// benchDecodeOne decodes r's wire form in format f again and again.
func benchDecodeOne(b *testing.B, f Format, r Record) {
	v, err := f.Append(nil, &r)
	if err != nil {
		b.Fatal(err)
	}
	benchDecode(b, [][]byte{v}, len(v))
}

// BenchmarkRecordEncode and BenchmarkRecordDecode are the inbox record codec (the default, binary form), once per
// inbound message on each side of Kafka (issue 15 measures every hot stage before changing it).
//
//	go test ./ingest/inbox -run '^$' -bench Record -benchmem
func BenchmarkRecordEncode(b *testing.B) { benchEncode(b, FormatBinary, benchRecord()) }

func BenchmarkRecordDecode(b *testing.B) { benchDecodeOne(b, FormatBinary, benchRecord()) }

// BenchmarkRecordDecodeDistinct decodes 1,024 distinct message records: a benchmark that decodes one value again and
// again flatters a decoder that keeps the strings it made last time (encoding/json and the binary form both do).
func BenchmarkRecordDecodeDistinct(b *testing.B) { benchDecodeDistinct(b, FormatBinary) }

// BenchmarkFormats compares the two wire forms on the common message record, in one run so that both see the same
// machine: encode, decode of one value again and again, and decode of 1,024 distinct ones.
//
//	GOEXPERIMENT=jsonv2 go test ./ingest/inbox -run '^$' -bench Formats -benchmem -count 5
func BenchmarkFormats(b *testing.B) {
	for _, f := range []Format{FormatJSON, FormatBinary} {
		b.Run(string(f)+"/encode", func(b *testing.B) { benchEncode(b, f, benchRecord()) })
		b.Run(string(f)+"/decode", func(b *testing.B) { benchDecodeOne(b, f, benchRecord()) })
		b.Run(string(f)+"/decode-distinct", func(b *testing.B) { benchDecodeDistinct(b, f) })
	}
}

// BenchmarkGolden encodes and decodes each golden record (golden_test.go), every item kind, in both forms.
func BenchmarkGolden(b *testing.B) {
	recs := goldenRecords()
	for _, name := range goldenNames() {
		for _, f := range []Format{FormatJSON, FormatBinary} {
			b.Run(string(f)+"/encode/"+name, func(b *testing.B) { benchEncode(b, f, recs[name]) })
			b.Run(string(f)+"/decode/"+name, func(b *testing.B) { benchDecodeOne(b, f, recs[name]) })
		}
	}
}
