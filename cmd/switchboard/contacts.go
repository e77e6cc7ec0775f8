package main

// switchboard contacts import: a CSV file of contacts sent to a running node's POST /v1/contacts/import, with a
// progress bar (rows, rows/s, ETA) fed by the node's NDJSON progress lines, and the node's report printed at the end.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/switchboard-hq/switchboard/api"
)

const contactsUsage = `Usage:
  switchboard contacts import --tenant T --url NODE_URL --token TOKEN [--ignore-unknown] [--json] FILE.csv

Imports a CSV file of contacts (header row: phone, name and the tenant's field keys) into a running node. Rows
upsert by phone; the report lists refused rows with their line. Exit status 1 when a row was refused or the
import stopped.`

func contactsCmd(args []string) error {
	if len(args) == 0 || args[0] != "import" {
		fmt.Fprintln(os.Stderr, contactsUsage)
		return errors.New("contacts: the only command is import")
	}
	return contactsImport(args[1:], os.Stdout, os.Stderr)
}

// importOptions are the flags of switchboard contacts import.
type importOptions struct {
	tenant, url, token, file string
	ignoreUnknown, json      bool
	progress                 bool
}

func contactsImport(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("contacts import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o importOptions
	fs.StringVar(&o.tenant, "tenant", "", "the tenant to import into: it must be the token's (required)")
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8080", "the node's base URL")
	fs.StringVar(&o.token, "token", "", "an operator's API token of the tenant (or SWITCHBOARD_TOKEN)")
	fs.BoolVar(&o.ignoreUnknown, "ignore-unknown", false, "leave out columns that are not phone, name or a field key, instead of refusing the file")
	fs.BoolVar(&o.json, "json", false, "print the report as JSON on stdout")
	fs.BoolVar(&o.progress, "progress", true, "show a progress bar on stderr")
	fs.Usage = func() { fmt.Fprintln(stderr, contactsUsage); fs.PrintDefaults() }
	flags, files := splitArgs(fs, args)
	if err := parseWithEnv(fs, flags); err != nil {
		return err
	}
	if len(files) != 1 {
		fs.Usage()
		return errors.New("contacts import: give one CSV file")
	}
	o.file = files[0]
	if o.tenant == "" || o.token == "" {
		return errors.New("contacts import: --tenant and --token are required")
	}
	rep, err := runImport(context.Background(), o, stderr)
	if err != nil {
		return err
	}
	if o.json {
		b, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Fprintln(stdout, string(b))
	} else {
		printReport(stdout, o.file, rep)
	}
	switch {
	case rep.Error != nil:
		return fmt.Errorf("the import stopped at line %d (%s): %s", rep.StoppedAtLine, rep.Error.Code, rep.Error.Message)
	case rep.Refused > 0:
		return fmt.Errorf("%d rows refused (see the report)", rep.Refused)
	}
	return nil
}

// splitArgs separates the flags (before or after the file) from the file: parseWithEnv takes flags only.
func splitArgs(fs *flag.FlagSet, args []string) (flags, files []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return flags, append(files, args[i+1:]...)
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			files = append(files, a)
			continue
		}
		flags = append(flags, a)
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if f := fs.Lookup(name); f != nil && !hasValue && i+1 < len(args) {
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !b.IsBoolFlag() {
				i++
				flags = append(flags, args[i])
			}
		}
	}
	return flags, files
}

// runImport checks the file's header with the node, then sends the file and follows its progress.
func runImport(ctx context.Context, o importOptions, stderr io.Writer) (api.ImportReport, error) {
	var rep api.ImportReport
	f, err := os.Open(o.file)
	if err != nil {
		return rep, fmt.Errorf("contacts import: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return rep, fmt.Errorf("contacts import: %w", err)
	}
	base := strings.TrimSuffix(o.url, "/")
	q := url.Values{"tenant": {o.tenant}}
	if o.ignoreUnknown {
		q.Set("ignore_unknown", "true")
	}
	client := &http.Client{}

	// The header first (the first line, as far as 1 MiB): a wrong token, tenant or column is answered before the
	// file is sent.
	head, err := bufio.NewReaderSize(io.LimitReader(f, api.ImportMaxLine), 64<<10).ReadSlice('\n')
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return rep, fmt.Errorf("contacts import: read %s: %w", o.file, err)
	}
	cq := url.Values{"check": {"header"}}
	for k, v := range q {
		cq[k] = v
	}
	resp, err := post(ctx, client, base+"/v1/contacts/import?"+cq.Encode(), o.token, bytes.NewReader(head), false)
	if err != nil {
		return rep, err
	}
	var check api.ImportCheck
	err = decodeAnswer(resp, &check)
	resp.Body.Close()
	if err != nil {
		return rep, err
	}
	if check.Error != nil {
		var cols []string
		for _, c := range check.Columns {
			switch {
			case c.Unknown:
				cols = append(cols, fmt.Sprintf("%q → unknown", c.Column))
			case c.ReadOnly:
				cols = append(cols, fmt.Sprintf("%q → left out", c.Column))
			default:
				cols = append(cols, fmt.Sprintf("%q → %s", c.Column, c.MapsTo))
			}
		}
		return rep, fmt.Errorf("%s: %s\ncolumns: %s", check.Error.Code, check.Error.Message, strings.Join(cols, ", "))
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return rep, fmt.Errorf("contacts import: %w", err)
	}

	bar := progressbar.NewOptions64(st.Size(),
		progressbar.OptionSetWriter(stderr),
		progressbar.OptionSetVisibility(o.progress),
		progressbar.OptionSetDescription("0 rows"),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionSetPredictTime(true),
	)
	// Until the node reports, the bar follows the bytes sent; then the bytes the node has read.
	sent := &sentCounter{r: f, bar: bar}
	resp, err = post(ctx, client, base+"/v1/contacts/import?"+q.Encode(), o.token, sent, true)
	if err != nil {
		return rep, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// A refusal of the whole file, or a JSON report of an import that stopped.
		err := decodeAnswer(resp, &rep)
		var ae *answerError
		if errors.As(err, &ae) && ae.report != nil {
			return *ae.report, nil
		}
		return rep, err
	}
	start := time.Now()
	dec := json.NewDecoder(resp.Body)
	for {
		var line struct {
			api.ImportReport
			ImportID *string `json:"import_id"`
		}
		if err := dec.Decode(&line); err != nil {
			_ = bar.Exit()
			fmt.Fprintln(stderr)
			return rep, fmt.Errorf("contacts import: the node's answer was cut (%v): the rows it took are not known here; re-run the import (rows already imported will be unchanged)", err)
		}
		if line.ImportID != nil { // the report, the last line
			line.ImportReport.ImportID = *line.ImportID
			_ = bar.Finish()
			fmt.Fprintln(stderr)
			return line.ImportReport, nil
		}
		sent.server = true
		rate := float64(line.Rows) / max(time.Since(start).Seconds(), 1e-3)
		bar.Describe(fmt.Sprintf("%d rows, %.0f rows/s", line.Rows, rate))
		_ = bar.Set64(line.Bytes)
	}
}

// sentCounter moves the bar with the bytes sent until the node's progress lines take over.
type sentCounter struct {
	r      io.Reader
	bar    *progressbar.ProgressBar
	n      int64
	server bool
}

func (s *sentCounter) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.n += int64(n)
	if !s.server {
		_ = s.bar.Set64(s.n)
	}
	return n, err
}

func post(ctx context.Context, c *http.Client, u, token string, body io.Reader, ndjson bool) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, body)
	if err != nil {
		return nil, fmt.Errorf("contacts import: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "text/csv; charset=utf-8")
	if ndjson {
		req.Header.Set("Accept", "application/x-ndjson")
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("contacts import: cannot reach the node at %s: %w", req.URL.Host, err)
	}
	return resp, nil
}

// answerError is a non-200 answer of the node, in the API's error shape (and, for an import that stopped, with
// its report).
type answerError struct {
	status int
	code   string
	msg    string
	report *api.ImportReport
}

func (e *answerError) Error() string {
	switch {
	case e.status == http.StatusUnauthorized:
		return fmt.Sprintf("the node refused the token (%d %s: %s)", e.status, e.code, e.msg)
	case e.code == "":
		return fmt.Sprintf("the node answered %d: %s", e.status, e.msg)
	}
	return fmt.Sprintf("%s: %s", e.code, e.msg)
}

// decodeAnswer decodes a 200 answer into v, and any other into an *answerError.
func decodeAnswer(resp *http.Response, v any) error {
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("contacts import: read the node's answer: %w", err)
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, v); err != nil {
			return fmt.Errorf("contacts import: the node's answer is not what an import answers (%v): %.200s", err, b)
		}
		return nil
	}
	var body struct {
		Error    api.Error `json:"error"`
		ImportID string    `json:"import_id"`
	}
	e := &answerError{status: resp.StatusCode, msg: strings.TrimSpace(string(b))}
	if json.Unmarshal(b, &body) == nil && body.Error.Code != "" {
		e.code, e.msg = body.Error.Code, body.Error.Message
		if body.ImportID != "" {
			var rep api.ImportReport
			if json.Unmarshal(b, &rep) == nil {
				e.report = &rep
			}
		}
	}
	return e
}

func printReport(w io.Writer, file string, rep api.ImportReport) {
	fmt.Fprintf(w, "%s: %d rows — %d created, %d updated, %d unchanged, %d refused (import %s)\n",
		file, rep.Rows, rep.Created, rep.Updated, rep.Unchanged, rep.Refused, rep.ImportID)
	for _, e := range rep.Errors {
		phone := ""
		if e.Phone != "" {
			phone = " " + e.Phone
		}
		fmt.Fprintf(w, "  line %d%s: %s: %s\n", e.Line, phone, e.Code, e.Reason)
	}
	if rep.ErrorsTruncated {
		fmt.Fprintf(w, "  … %d more refused rows not listed\n", rep.Refused-len(rep.Errors))
	}
	if rep.Error != nil {
		fmt.Fprintf(w, "STOPPED at line %d: %s\n", rep.StoppedAtLine, rep.Error.Message)
		if rep.Unconfirmed > 0 {
			fmt.Fprintf(w, "  %d rows sent without an answer may still apply; nothing after them was sent\n", rep.Unconfirmed)
		}
	}
}
