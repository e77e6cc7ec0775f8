package main_test

// The contacts import end to end: a node started from the binary (embedded Kafka, Pebble), a CSV file sent over
// HTTP and with `switchboard contacts import`, and the file sent again, which changes nothing.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchboard-hq/switchboard/api"
)

const (
	importToken  = "imp-admin-token-000001"
	importConfig = `tenants:
  - id: acme
    settings:
      contact_fields:
        - {key: city, label: City, type: text}
        - {key: plan, label: Plan, type: choice, choices: [basic, premium]}
        - {key: birthday, label: Birthday, type: date}
        - {key: vip, label: VIP, type: boolean}
` + acmeChannelY + `    operators:
      - id: alice
        name: Alice
        role: admin
        token: "` + importToken + `"
` + betaTenantY + carolY
)

// importReport is the node's report.
type importReport = api.ImportReport

// contactsCSV is n contacts, with a few rows wrong in every way a row can be, and a BOM.
func contactsCSV(n int) string {
	var b strings.Builder
	b.WriteString("\xEF\xBB\xBFphone,name,city,plan,birthday,vip\r\n")
	for i := 0; i < n; i++ {
		switch i {
		case 10:
			b.WriteString("5551234,No Country Code,,,,\r\n") // line 12
		case 20:
			b.WriteString("+4915100000020,Bad Plan,Berlin,gold,,\r\n") // line 22
		case 30:
			b.WriteString("+4915100000001,Twice,,,,\r\n") // line 32: the phone of line 3
		case 40:
			b.WriteString("+4915100000040,\"Multi\nLine, \"\"Quoted\"\"\",Köln,basic,1990-02-03,no\r\n") // lines 42-43
		default:
			fmt.Fprintf(&b, "+49151%08d,Person %d,City %d,premium,1980-01-%02d,yes\r\n", i, i, i%7, 1+i%28)
		}
	}
	return b.String()
}

// postImport sends a CSV file to POST /v1/contacts/import (query: "" or "?…").
func postImport(t *testing.T, n *node, token, query string, body io.Reader) (int, []byte) {
	t.Helper()
	return n.send(http.MethodPost, "/v1/contacts/import"+query, token, "text/csv", body)
}

func TestImportContactsHTTPAndCLI(t *testing.T) {
	n := newNodeConfig(t, importConfig)
	n.start()
	const rows = 2000
	file := contactsCSV(rows)

	code, body := postImport(t, n, importToken, "", strings.NewReader(file))
	var rep importReport
	if code != 200 || json.Unmarshal(body, &rep) != nil {
		t.Fatalf("import = %d %s", code, body)
	}
	if rep.Rows != rows || rep.Created != rows-3 || rep.Refused != 3 || rep.Updated != 0 || rep.Unchanged != 0 || rep.Error != nil {
		t.Fatalf("first import: %s", body)
	}
	wantErrs := []struct {
		line int
		code string
	}{{12, "invalid_phone"}, {22, "invalid_field"}, {32, "duplicate_phone"}}
	for i, w := range wantErrs {
		if e := rep.Errors[i]; e.Line != w.line || e.Code != w.code || e.Reason == "" {
			t.Errorf("error %d = %+v, want line %d %s", i, e, w.line, w.code)
		}
	}
	if !strings.Contains(rep.Errors[2].Reason, "line 3") {
		t.Errorf("the duplicate does not name the first line: %+v", rep.Errors[2])
	}

	// A file refused whole changes nothing already stored: the first file, sent again, is all unchanged.
	code, body = postImport(t, n, importToken, "", strings.NewReader("phone,name,shoe_size\n+4915100000000,Changed,42\n"))
	if code != 400 || !strings.Contains(string(body), "unknown_column") {
		t.Fatalf("unknown column = %d %s", code, body)
	}
	code, body = postImport(t, n, importToken, "", strings.NewReader("phone,name\n+4915100000000,Ch\xe4nged\n"))
	if code != 400 || !strings.Contains(string(body), "Latin-1") {
		t.Fatalf("latin-1 file = %d %s", code, body)
	}

	// The same file with the CLI: every row unchanged (the three refused again), exit status 1 for them.
	path := filepath.Join(t.TempDir(), "contacts.csv")
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, exit := runCLI(t, "contacts", "import", "--tenant", "acme", "--url", n.url(""), "--token", importToken, "--json", path)
	if exit != 1 || !strings.Contains(errOut, "3 rows refused") {
		t.Fatalf("CLI re-run: exit %d\nstdout %s\nstderr %s", exit, out, errOut)
	}
	var again importReport
	if err := json.Unmarshal([]byte(out), &again); err != nil {
		t.Fatalf("CLI --json: %v\n%s", err, out)
	}
	if again.Rows != rows || again.Unchanged != rows-3 || again.Created != 0 || again.Updated != 0 || again.Refused != 3 || again.ImportID == rep.ImportID {
		t.Fatalf("re-run changed something: %+v", again)
	}

	// A change to one row updates that row only; the human report lists refused rows by line.
	changed := strings.Replace(file, "Person 5,City 5", "Person Five,City 5", 1)
	if err := os.WriteFile(path, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, exit = runCLI(t, "contacts", "import", "--tenant", "acme", "--url", n.url(""), "--token", importToken, path)
	if exit != 1 || !strings.Contains(out, fmt.Sprintf("%d rows — 0 created, 1 updated, %d unchanged, 3 refused", rows, rows-4)) ||
		!strings.Contains(out, "line 12 5551234: invalid_phone:") || !strings.Contains(out, "line 32 +4915100000001: duplicate_phone:") {
		t.Fatalf("CLI with one change: exit %d\nstdout %s\nstderr %s", exit, out, errOut)
	}
	if !strings.Contains(errOut, "rows/s") {
		t.Errorf("no progress on stderr: %s", errOut)
	}

	// A clean file: exit 0.
	if err := os.WriteFile(path, []byte("phone,name\n+4915199999999,New Person\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, exit = runCLI(t, "contacts", "import", "--tenant", "acme", "--url", n.url(""), "--token", importToken, path)
	if exit != 0 || !strings.Contains(out, "1 rows — 1 created") {
		t.Fatalf("CLI clean file: exit %d\nstdout %s\nstderr %s", exit, out, errOut)
	}

	// Clear errors: a wrong token, another tenant's name, a node that is not there, an unknown column.
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bad token", []string{"--tenant", "acme", "--url", n.url(""), "--token", "nope"}, "the node refused the token"},
		{"another tenant", []string{"--tenant", "beta", "--url", n.url(""), "--token", importToken}, "tenant_mismatch: the token belongs to tenant acme"},
		{"no node", []string{"--tenant", "acme", "--url", "http://" + freeAddr(t), "--token", importToken}, "cannot reach the node"},
	} {
		out, errOut, exit := runCLI(t, append(append([]string{"contacts", "import"}, tc.args...), path)...)
		if exit != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, stderr %q (want %q), stdout %q", tc.name, exit, errOut, tc.want, out)
		}
	}
	if err := os.WriteFile(path, []byte("phone,shoe_size\n+4915199999999,42\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, exit = runCLI(t, "contacts", "import", "--tenant", "acme", "--url", n.url(""), "--token", importToken, path)
	if exit != 1 || !strings.Contains(errOut, `unknown_column: unknown column "shoe_size"`) || !strings.Contains(errOut, `"shoe_size" → unknown`) {
		t.Errorf("unknown column: exit %d, stderr %q", exit, errOut)
	}
	_, errOut, exit = runCLI(t, "contacts", "import", "--tenant", "acme", "--url", n.url(""), "--token", importToken, "--ignore-unknown", path)
	if exit != 0 {
		t.Errorf("--ignore-unknown: exit %d, stderr %q", exit, errOut)
	}
}

// runCLI runs the binary and returns its stdout, stderr and exit status.
func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errOut.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), 0
}
