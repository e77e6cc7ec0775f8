package inbox

import "testing"

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
