package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/contact"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/store/storetest"
	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/api"
	"github.com/switchboard-hq/switchboard/cmd/switchboard/node"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
	"github.com/switchboard-hq/switchboard/ingest/server"
)

// importEnv serves the API behind the node's HTTP server (ingest/server), which streams the import's body, with
// the recorder standing in for Kafka and the catalogue.
type importEnv struct {
	url  string
	prod *recorder
	srv  *server.Server
}

func startImport(t *testing.T, commandTimeout time.Duration) *importEnv {
	t.Helper()
	return startImportWith(t, commandTimeout, nil)
}

// startImportWith serves the import with the Producer wrap makes of the recorder (the recorder itself when nil).
func startImportWith(t *testing.T, commandTimeout time.Duration, wrap func(*recorder) api.Producer) *importEnv {
	t.Helper()
	return startImportConfig(t, commandTimeout, wrap, nil)
}

// startImportConfig is startImportWith with configure's changes to the API's configuration.
func startImportConfig(t *testing.T, commandTimeout time.Duration, wrap func(*recorder) api.Producer, configure func(*api.Config)) *importEnv {
	t.Helper()
	cfg, err := tenant.Load("testdata/import_tenants.yaml")
	if err != nil {
		t.Fatal(err)
	}
	reg := outcome.NewRegistry()
	e := &importEnv{prod: &recorder{outcomes: reg}}
	var prod api.Producer = e.prod
	if wrap != nil {
		prod = wrap(e.prod)
	}
	acfg := api.Config{Directory: tenant.NewDirectory(cfg), Reader: node.APIReader(storetest.Open(t, store.Config{})),
		Outcomes: reg, Producer: prod, CommandTimeout: commandTimeout, Now: func() time.Time { return now },
		Logger: slog.New(slog.DiscardHandler)}
	if configure != nil {
		configure(&acfg)
	}
	a, err := api.New(acfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Addr: "127.0.0.1:0", API: a.Serve, StreamsBody: api.StreamsBody,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(t.Context()) }()
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		<-done
	})
	e.url = "http://" + srv.Addr()
	e.srv = srv
	e.prod.set(nil, catalogue())
	return e
}

// catalogue answers contact_import batches as the tenant's catalogue would for a store without contacts: a phone
// is created the first time an import gives it and refused as a duplicate after.
func catalogue() func(inbox.Command) (outcome.Result, bool) {
	var mu sync.Mutex
	seen := map[string]int{} // import id + phone → line
	return func(cmd inbox.Command) (outcome.Result, bool) {
		if cmd.Type != "contact_import" {
			return outcome.Result{Code: outcome.CodeInternal, Message: "not an import"}, true
		}
		mu.Lock()
		defer mu.Unlock()
		res := &contact.ImportResult{}
		for _, c := range cmd.Contacts {
			k := cmd.ImportID + c.Phone
			if l, dup := seen[k]; dup {
				res.Add(contact.ImportRow{Line: c.Line, Phone: c.Phone, Result: contact.Refused, Code: contact.CodeDuplicatePhone, Reason: fmt.Sprintf("duplicate phone (line %d)", l)})
				continue
			}
			seen[k] = c.Line
			res.Add(contact.ImportRow{Line: c.Line, Phone: c.Phone, Result: contact.Created})
		}
		return outcome.Result{Body: res}, true
	}
}

func (e *importEnv) post(t *testing.T, query, token string, body io.Reader, ndjson bool) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+"/v1/contacts/import"+query, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "text/csv")
	if ndjson {
		req.Header.Set("Accept", "application/x-ndjson")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func decodeReport(t *testing.T, r response) api.ImportReport {
	t.Helper()
	var rep api.ImportReport
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("report %s: %v", r.body, err)
	}
	return rep
}

func (e *importEnv) contacts() []inbox.ContactInput {
	var all []inbox.ContactInput
	for _, rec := range e.prod.records() {
		for _, it := range rec.Items {
			all = append(all, it.Command.Contacts...)
		}
	}
	return all
}

// csvRows writes n rows with phones +1555000000 + i.
func csvRows(header string, n int, row func(i int) string) string {
	var b strings.Builder
	b.WriteString(header + "\n")
	for i := 0; i < n; i++ {
		b.WriteString(row(i) + "\n")
	}
	return b.String()
}

// A file whose header or encoding is wrong is refused whole, with a 400 that says why, before any row is sent.
func TestImportRefusesTheFile(t *testing.T) {
	e := startImport(t, 0)
	utf16 := []byte{0xFF, 0xFE}
	for _, r := range "phone,name\n+15551234567,Ana\n" {
		utf16 = append(utf16, byte(r), 0)
	}
	for _, tc := range []struct {
		name, query, body string
		status            int
		code, msg         string
	}{
		{"unknown column", "", "phone,name,shoe_size\n+15551234567,Ana,42\n", 400, "unknown_column", "shoe_size"},
		{"no phone column", "", "name,city\nAna,Lisbon\n", 400, "missing_column", "phone"},
		{"a column twice", "", "phone,Phone\n+15551234567,+15551234567\n", 400, "duplicate_column", "phone"},
		{"empty", "", "", 400, "invalid_csv", "empty"},
		{"utf-16", "", string(utf16), 400, "invalid_encoding", "UTF-16"},
		{"latin-1", "", "phone,name\n+15551234567,Jos\xe9\n", 400, "invalid_encoding", "Latin-1"},
		{"another tenant", "?tenant=globex", "phone\n+15551234567\n", 403, "tenant_mismatch", "acme"},
		{"bad ignore_unknown", "?ignore_unknown=maybe", "phone\n+15551234567\n", 400, "invalid_query", "ignore_unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.post(t, tc.query, carolToken, strings.NewReader(tc.body), false)
			wantError(t, tc.name, r, tc.status, tc.code)
			if !strings.Contains(string(r.body), tc.msg) {
				t.Errorf("%s: message %s does not say %q", tc.name, r.body, tc.msg)
			}
		})
	}
	if n := len(e.prod.records()); n != 0 {
		t.Fatalf("%d records produced for refused files", n)
	}
	wantError(t, "no token", e.post(t, "", "", strings.NewReader("phone\n"), false), 401, "unauthorized")
}

// The header's mapping without importing: ?check=header.
func TestImportCheckHeader(t *testing.T) {
	e := startImport(t, 0)
	r := e.post(t, "?check=header", carolToken, strings.NewReader("\xEF\xBB\xBFPhone, name ,city,plan,shoe_size\n+15551234567,Ana,Lisbon,basic,42\n"), false)
	if r.status != 200 {
		t.Fatalf("check = %s", r)
	}
	var got api.ImportCheck
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	want := []api.ImportColumn{{Column: "Phone", MapsTo: "phone", Type: "phone"}, {Column: "name", MapsTo: "name", Type: "name"},
		{Column: "city", MapsTo: "city", Type: "text"}, {Column: "plan", MapsTo: "plan", Type: "choice"}, {Column: "shoe_size", Unknown: true}}
	if got.TenantID != "acme" || fmt.Sprint(got.Columns) != fmt.Sprint(want) || got.Error == nil || got.Error.Code != "unknown_column" {
		t.Fatalf("check = %+v", got)
	}
	if n := len(e.prod.records()); n != 0 {
		t.Fatalf("a check produced %d records", n)
	}
}

// Rows go in batches of at most 500 in file order; rows refused here (phone, field, CSV) and by the catalogue
// (a phone twice) come back with their lines, and the counts add up.
func TestImportBatchesAndReport(t *testing.T) {
	e := startImport(t, 0)
	body := csvRows("phone,name,city,plan,vip,birthday,score", 1203, func(i int) string {
		switch i {
		case 7:
			return "15550000007,No Plus,,,,," // line 9
		case 100:
			return fmt.Sprintf("+1555%07d,Bad Plan,,gold,,,", i)
		case 101:
			return fmt.Sprintf("+1555%07d,Bad Date,,,,2025-13-01,", i)
		case 102:
			return fmt.Sprintf("+1555%07d,\"Quoted\nName\",,,,,", i) // takes lines 104 and 105
		case 600:
			return "+15550000001,Twice,,,,," // the phone of row 1, line 3
		case 700:
			return "+15550000700,too,many,,,,,"
		}
		return fmt.Sprintf("+1555%07d,Person %d,\"Lisbon, PT\",premium,yes,1990-01-02,%d.5", i, i, i)
	})
	r := e.post(t, "", carolToken, strings.NewReader(body), false)
	if r.status != 200 {
		t.Fatalf("import = %s", r)
	}
	rep := decodeReport(t, r)
	wantErrs := []api.ImportRowError{
		{Line: 9, Phone: "15550000007", Code: "invalid_phone"},
		{Line: 102, Code: "invalid_field"},
		{Line: 103, Code: "invalid_field"},
		{Line: 603, Phone: "+15550000001", Code: "duplicate_phone"},
		{Line: 703, Phone: "+15550000700", Code: "invalid_csv"},
	}
	if rep.Rows != 1203 || rep.Created != 1198 || rep.Refused != 5 || rep.Updated != 0 || rep.Unchanged != 0 || rep.Error != nil || rep.ErrorsTruncated || rep.Bytes != int64(len(body)) {
		t.Fatalf("report %+v", rep)
	}
	for i, w := range wantErrs {
		g := rep.Errors[i]
		if g.Line != w.Line || g.Code != w.Code || (w.Phone != "" && g.Phone != w.Phone) || g.Reason == "" {
			t.Errorf("error %d = %+v, want %+v", i, g, w)
		}
	}
	if !strings.Contains(rep.Errors[3].Reason, "line 3") || !strings.Contains(rep.Errors[1].Reason, "plan") {
		t.Errorf("reasons do not say what: %+v", rep.Errors)
	}
	recs := e.prod.records()
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3", len(recs))
	}
	line := 0
	for i, rec := range recs {
		cmd := rec.Items[0].Command
		if rec.Tenant != "acme" || cmd.Type != "contact_import" || cmd.ImportID != rep.ImportID || cmd.OperatorID != "carol" || len(cmd.Contacts) > 500 {
			t.Fatalf("record %d: %+v", i, cmd)
		}
		for _, c := range cmd.Contacts {
			if c.Line <= line {
				t.Fatalf("line %d after %d: rows out of order", c.Line, line)
			}
			line = c.Line
		}
		// What the router decodes.
		b, err := rec.Encode(nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := inbox.Decode(b); err != nil {
			t.Fatal(err)
		}
	}
	all := e.contacts()
	first := all[0]
	if first.Line != 2 || first.Phone != "+15550000000" || *first.Name != "Person 0" || string(first.Fields["city"]) != `"Lisbon, PT"` ||
		string(first.Fields["vip"]) != "true" || string(first.Fields["score"]) != "0.5" || string(first.Fields["birthday"]) != `"1990-01-02"` {
		t.Errorf("first row = %+v %s", first, first.Fields)
	}
	for _, c := range all {
		if c.Line == 104 && *c.Name != "Quoted\nName" {
			t.Errorf("quoted newline: %q", *c.Name)
		}
	}
}

// A phone cell or field cell left empty leaves what is stored: the row does not carry it.
func TestImportEmptyCells(t *testing.T) {
	e := startImport(t, 0)
	r := e.post(t, "", carolToken, strings.NewReader("phone,name,city\n+15551234567,,\n"), false)
	if rep := decodeReport(t, r); r.status != 200 || rep.Created != 1 {
		t.Fatalf("import = %s", r)
	}
	c := e.contacts()[0]
	if c.Name != nil || c.Fields != nil {
		t.Fatalf("empty cells sent as values: %+v", c)
	}
}

// With ?ignore_unknown=true, unknown columns are left out.
func TestImportIgnoreUnknown(t *testing.T) {
	e := startImport(t, 0)
	r := e.post(t, "?ignore_unknown=true&tenant=acme", carolToken, strings.NewReader("phone,shoe_size,name\n+15551234567,42,Ana\n"), false)
	if rep := decodeReport(t, r); r.status != 200 || rep.Created != 1 {
		t.Fatalf("import = %s", r)
	}
	if c := e.contacts()[0]; *c.Name != "Ana" || len(c.Fields) != 0 {
		t.Fatalf("row = %+v", c)
	}
}

// The columns of an export that an import does not set are left out without ignore_unknown.
func TestImportExportedFile(t *testing.T) {
	e := startImport(t, 0)
	r := e.post(t, "", carolToken, strings.NewReader("id,phone,wa_id,name,city,blocked,created_at,updated_at\nk123,+15551234567,15551234567,Ana,Porto,false,2025-01-01T00:00:00Z,2025-01-01T00:00:00Z\n"), false)
	if rep := decodeReport(t, r); r.status != 200 || rep.Created != 1 {
		t.Fatalf("import = %s", r)
	}
	if c := e.contacts()[0]; *c.Name != "Ana" || len(c.Fields) != 1 || c.Phone != "+15551234567" {
		t.Fatalf("row = %+v", c)
	}
	// The export writes a cell that starts like a formula after a '; the import reads it back as it was.
	r = e.post(t, "", carolToken, strings.NewReader("id,phone,name,city,score,blocked,created_at\nk1,+15551234568,'=SUM(A1),'@home,'-5,false,\n"), false)
	if rep := decodeReport(t, r); r.status != 200 || rep.Created != 1 {
		t.Fatalf("import = %s", r)
	}
	if c := e.contacts()[1]; *c.Name != "=SUM(A1)" || string(c.Fields["city"]) != `"@home"` || string(c.Fields["score"]) != "-5" {
		t.Fatalf("neutralised cells read as %+v %s", c, c.Fields)
	}
}

// A 10 MB line is that row's error; the file is read as a stream (more than the server's 2 MiB body limit) and
// the rows around it are imported.
func TestImportLongLineAndLargeFile(t *testing.T) {
	e := startImport(t, 0)
	var b strings.Builder
	b.WriteString("phone,name\n+15550000001,Ana\n+15550000002,")
	b.WriteString(strings.Repeat("x", 10<<20))
	b.WriteString("\n")
	for i := 0; i < 40000; i++ {
		fmt.Fprintf(&b, "+1666%07d,Person %d\n", i, i)
	}
	body := b.String()
	// io.MultiReader hides the length: the client sends it chunked, as a pipe would.
	r := e.post(t, "", carolToken, io.MultiReader(strings.NewReader(body)), false)
	rep := decodeReport(t, r)
	if r.status != 200 || rep.Rows != 40002 || rep.Created != 40001 || rep.Refused != 1 || rep.Errors[0].Line != 3 || rep.Errors[0].Code != "line_too_long" {
		t.Fatalf("import = %d %+v", r.status, rep)
	}
}

// With Accept: application/x-ndjson the answer is progress lines, one per batch, then the report.
func TestImportProgress(t *testing.T) {
	e := startImport(t, 0)
	body := csvRows("phone,name", 1500, func(i int) string { return fmt.Sprintf("+1555%07d,P%d", i, i) })
	r := e.post(t, "", carolToken, strings.NewReader(body), true)
	if r.status != 200 || r.header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("import = %d %v", r.status, r.header)
	}
	lines := strings.Split(strings.TrimSpace(string(r.body)), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines: %s", len(lines), r.body)
	}
	for i, l := range lines[:3] {
		var p api.ImportProgress
		if err := json.Unmarshal([]byte(l), &p); err != nil || p.Rows != 500*(i+1) || p.Created != p.Rows || p.Bytes <= 0 {
			t.Errorf("progress %d = %s", i, l)
		}
	}
	rep := decodeReport(t, response{body: []byte(lines[3])})
	if rep.Rows != 1500 || rep.Created != 1500 || rep.ImportID == "" {
		t.Fatalf("report = %+v", rep)
	}
}

// failFrom is Kafka refusing every produce call that holds a batch from line onwards.
type failFrom struct {
	line int
	next *recorder
}

func (f *failFrom) Produce(ctx context.Context, recs []inbox.Record) error {
	for _, r := range recs {
		if r.Items[0].Command.Contacts[0].Line >= f.line {
			return errors.New("kafka: not enough replicas")
		}
	}
	return f.next.Produce(ctx, recs)
}

// Never a silent partial import: when Kafka stops taking batches, the answer is a failure that says which lines
// were imported and where it stopped. (Which batches share the failed produce call depends on timing: the report
// is checked for what must hold whatever they are.)
func TestImportStopsWhenKafkaFails(t *testing.T) {
	e := startImportWith(t, 0, func(p *recorder) api.Producer { return &failFrom{line: 1002, next: p} })
	body := csvRows("phone,name", 1700, func(i int) string { return fmt.Sprintf("+1555%07d,P%d", i, i) })
	r := e.post(t, "", carolToken, strings.NewReader(body), false)
	if r.status != 503 {
		t.Fatalf("import = %s", r)
	}
	rep := decodeReport(t, r)
	if rep.Error == nil || rep.Error.Code != "unavailable" || rep.Rows != rep.Created || rep.Rows%500 != 0 || rep.Rows > 1000 ||
		rep.StoppedAtLine != rep.Rows+2 || rep.Unconfirmed < 500 || rep.Rows+rep.Unconfirmed > 1700 ||
		!strings.Contains(rep.Error.Message, fmt.Sprintf("line %d", rep.StoppedAtLine)) {
		t.Fatalf("report = %+v %+v", rep, rep.Error)
	}
	for _, c := range e.contacts() {
		if c.Line >= rep.StoppedAtLine {
			t.Fatalf("line %d was produced after the stop at line %d", c.Line, rep.StoppedAtLine)
		}
	}
}

// When an outcome does not arrive, the import stops there: the batches in flight are unconfirmed (they may still
// apply), nothing after them is sent.
func TestImportStopsWhenAnOutcomeDoesNotCome(t *testing.T) {
	e := startImport(t, 300*time.Millisecond)
	cat := catalogue()
	var mu sync.Mutex
	n := 0
	e.prod.set(nil, func(cmd inbox.Command) (outcome.Result, bool) {
		mu.Lock()
		n++
		k := n
		mu.Unlock()
		if k == 3 {
			return outcome.Result{}, false
		}
		return cat(cmd)
	})
	body := csvRows("phone,name", 5000, func(i int) string { return fmt.Sprintf("+1555%07d,P%d", i, i) })
	r := e.post(t, "", carolToken, strings.NewReader(body), true)
	lines := strings.Split(strings.TrimSpace(string(r.body)), "\n")
	rep := decodeReport(t, response{body: []byte(lines[len(lines)-1])})
	// Batches 1 and 2 answered; 3 (lines 1002–1501) never; 4 to 10 were in flight behind it (a window of 8).
	if rep.Error == nil || rep.Error.Code != "outcome_unknown" || rep.Rows != 1000 || rep.StoppedAtLine != 1002 || rep.Unconfirmed != 4000 {
		t.Fatalf("report = %+v %+v", rep, rep.Error)
	}
	if got := len(e.prod.records()); got != 10 {
		t.Fatalf("%d batches sent, want 10: nothing past the window", got)
	}
}

// The progress stream reaches the client while the file is still being sent.
func TestImportProgressWhileUploading(t *testing.T) {
	e := startImport(t, 0)
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, e.url+"/v1/contacts/import", pr)
	req.Header.Set("Authorization", "Bearer "+carolToken)
	req.Header.Set("Accept", "application/x-ndjson")
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		fmt.Fprintln(pw, "phone,name")
		for i := 0; i < 600; i++ {
			fmt.Fprintf(pw, "+1555%07d,P%d\n", i, i)
		}
	}()
	type result struct {
		resp *http.Response
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		got <- result{resp, err}
	}()
	res := <-got
	if res.err != nil {
		t.Fatal(res.err)
	}
	defer res.resp.Body.Close()
	br := bufio.NewReader(res.resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || !strings.Contains(line, `"rows":500`) {
		t.Fatalf("first line %q %v", line, err)
	}
	// The file is not finished yet: the rest comes now.
	<-wrote
	for i := 600; i < 700; i++ {
		fmt.Fprintf(pw, "+1555%07d,P%d\n", i, i)
	}
	pw.Close()
	rest, _ := io.ReadAll(br)
	lines := strings.Split(strings.TrimSpace(string(rest)), "\n")
	rep := decodeReport(t, response{body: []byte(lines[len(lines)-1])})
	if rep.Rows != 700 || rep.Created != 700 {
		t.Fatalf("report %+v after %s", rep, rest)
	}
}

// Imports running at once on a node are bounded (Config.MaxImports): one more is answered 503 too_many_imports with
// Retry-After; the place comes back when an import ends, streamed or not.
func TestImportsBounded(t *testing.T) {
	e := startImportConfig(t, 0, nil, func(c *api.Config) { c.MaxImports = 1 })
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, e.url+"/v1/contacts/import", pr)
	req.Header.Set("Authorization", "Bearer "+carolToken)
	req.Header.Set("Accept", "application/x-ndjson")
	go func() {
		fmt.Fprintln(pw, "phone,name")
		for i := 0; i < 600; i++ {
			fmt.Fprintf(pw, "+1555%07d,P%d\n", i, i)
		}
	}()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); err != nil || !strings.Contains(line, `"rows":500`) {
		t.Fatalf("first line %q %v", line, err)
	}
	// The first import is running (its file not finished): a second is refused.
	r := e.post(t, "", carolToken, strings.NewReader("phone,name\n+15559990001,A\n"), false)
	wantError(t, "an import past the bound", r, http.StatusServiceUnavailable, "too_many_imports")
	if r.header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	pw.Close()
	if _, err := io.ReadAll(br); err != nil {
		t.Fatal(err)
	}
	// Streamed or not, an import that ended gives its place back.
	for i := range 3 {
		var r response
		for range 200 { // the stream writer gives the place back just after the last line
			if r = e.post(t, "", carolToken, strings.NewReader(fmt.Sprintf("phone,name\n+1555888%04d,A\n", i)), i == 1); r.status != http.StatusServiceUnavailable {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if r.status != http.StatusOK {
			t.Fatalf("import %d after the first ended = %s", i, r)
		}
	}
}

// A node that shuts down stops an import at the next batch, and says so: the server does not wait for the file's end.
func TestImportStopsWhenTheNodeShutsDown(t *testing.T) {
	e := startImport(t, 0)
	pr, pw := io.Pipe()
	go func() {
		fmt.Fprintln(pw, "phone,name")
		for i := 0; ; i++ {
			if _, err := fmt.Fprintf(pw, "+1555%07d,P%d\n", i, i); err != nil {
				return
			}
		}
	}()
	defer pw.Close()
	req, _ := http.NewRequest(http.MethodPost, e.url+"/v1/contacts/import", pr)
	req.Header.Set("Authorization", "Bearer "+carolToken)
	req.Header.Set("Accept", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- e.srv.Close() }()
	rest, _ := io.ReadAll(br)
	lines := strings.Split(strings.TrimSpace(string(rest)), "\n")
	rep := decodeReport(t, response{body: []byte(lines[len(lines)-1])})
	if rep.Error == nil || rep.Error.Code != "unavailable" || !strings.Contains(rep.Error.Message, "shutting down") ||
		rep.Rows == 0 || rep.Rows%500 != 0 || rep.StoppedAtLine != rep.Rows+2 {
		t.Fatalf("report %+v %+v", rep, rep.Error)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
}
