package api

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"testing"
	"time"
)

func TestNeutralise(t *testing.T) {
	for in, want := range map[string]string{
		"":                  "",
		"Maria":             "Maria",
		"=HYPERLINK(\"x\")": "'=HYPERLINK(\"x\")",
		"+1 555":            "'+1 555",
		"-5":                "'-5",
		"@SUM(A1)":          "'@SUM(A1)",
		"\t=1":              "'\t=1",
		"\r=1":              "'\r=1",
		"a=1":               "a=1",
		"'already":          "'already",
	} {
		if got := neutralise(in); got != want {
			t.Errorf("neutralise(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestExportCells(t *testing.T) {
	keys := []string{"city", "plan", "vip", "score", "birthday", "missing"}
	fields := map[string]json.RawMessage{
		"city":     json.RawMessage(`"=cmd|' /C calc'!A0"`),
		"plan":     json.RawMessage(`"premium"`),
		"vip":      json.RawMessage(`true`),
		"score":    json.RawMessage(`-3.5`),
		"birthday": json.RawMessage(`"1990-02-01"`),
		"missing":  json.RawMessage(`null`),
	}
	row := make([]string, len(keys)+5)
	at := time.Date(2026, 12, 3, 10, 4, 5, 0, time.FixedZone("x", 3600))
	exportCells(row, "kabc", "+15551234567", "@Eve, \"the\"\nname", fields, keys, true, at)
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write(exportHeader(keys))
	_ = w.Write(row)
	w.Flush()
	want := "id,phone,name,city,plan,vip,score,birthday,missing,blocked,created_at\n" +
		"kabc,+15551234567,\"'@Eve, \"\"the\"\"\nname\",'=cmd|' /C calc'!A0,premium,true,'-3.5,1990-02-01,,true,2026-12-03T09:04:05Z\n"
	if buf.String() != want {
		t.Fatalf("csv:\n%s\nwant:\n%s", buf.String(), want)
	}
	// Reading it back gives the cells (neutralised) intact, including the quoted newline.
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(recs) != 2 || recs[1][2] != "'@Eve, \"the\"\nname" {
		t.Fatalf("read back: %v %q", err, recs)
	}
}
