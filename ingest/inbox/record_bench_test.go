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

// BenchmarkRecordEncode and BenchmarkRecordDecode are the inbox record codec, once per inbound message on each
// side of Kafka (issue 15 measures every hot stage before changing it).
//
//	go test ./ingest/inbox -run '^$' -bench Record -benchmem
func BenchmarkRecordEncode(b *testing.B) {
	r := benchRecord()
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = r.Encode(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkRecordDecode(b *testing.B) {
	r := benchRecord()
	buf, err := r.Encode(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecordDecodeDistinct decodes 1,024 message records that differ in message id, sender and text, as a
// partition's records do: a benchmark that decodes one value again and again flatters a decoder that keeps the
// strings it made last time (encoding/json does).
func BenchmarkRecordDecodeDistinct(b *testing.B) {
	vals := make([][]byte, 1024)
	size := 0
	for i := range vals {
		r := benchRecord()
		r.Items[0].Message.ID = fmt.Sprintf("wamid.HBgLMTU1NTAwMDExMTEVAgASGCA5%06d", i)
		r.Items[0].Message.From = fmt.Sprintf("155500%05d", i)
		r.Items[0].Message.Text = fmt.Sprintf("Hello, my order %d has not arrived yet", i)
		v, err := r.Encode(nil)
		if err != nil {
			b.Fatal(err)
		}
		vals[i] = v
		size += len(v)
	}
	b.SetBytes(int64(size / len(vals)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := Decode(vals[i%len(vals)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkGolden encodes and decodes each golden record (golden_test.go): every item kind.
func BenchmarkGolden(b *testing.B) {
	recs := goldenRecords()
	for _, name := range goldenNames() {
		r := recs[name]
		v, err := r.Encode(nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("encode/"+name, func(b *testing.B) {
			b.SetBytes(int64(len(v)))
			b.ReportAllocs()
			buf := make([]byte, 0, len(v))
			for b.Loop() {
				if buf, err = r.Encode(buf[:0]); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("decode/"+name, func(b *testing.B) {
			b.SetBytes(int64(len(v)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFormats compares the two wire forms on the common message record, in one run so that both see the same
// machine: encode, decode of one value again and again, and decode of 1,024 distinct ones.
//
//	GOEXPERIMENT=jsonv2 go test ./ingest/inbox -run '^$' -bench Formats -benchmem -count 5
func BenchmarkFormats(b *testing.B) {
	for _, f := range []Format{FormatJSON, FormatBinary} {
		r := benchRecord()
		b.Run(string(f)+"/encode", func(b *testing.B) {
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
		})
		b.Run(string(f)+"/decode", func(b *testing.B) {
			v, err := f.Append(nil, &r)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(v)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(v); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(string(f)+"/decode-distinct", func(b *testing.B) {
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
			b.SetBytes(int64(size / len(vals)))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := Decode(vals[i%len(vals)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
