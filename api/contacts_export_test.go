package api_test

import (
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-hq/switchboard/actors/contact"
	"github.com/switchboard-hq/switchboard/api"
)

// exportReader fails Contacts from its fail-th call on (1 = the first).
type exportReader struct {
	api.Reader
	fail  int
	calls *int
}

func (r exportReader) Contacts(tn string, q api.ContactQuery) ([]contact.Contact, string, error) {
	*r.calls++
	if r.fail > 0 && *r.calls >= r.fail {
		return nil, "", errDisk
	}
	return r.Reader.Contacts(tn, q)
}

// seedExport stores n contacts in acme (numbers +4470000000000 + i) and one in globex; the first has a name and a
// field a spreadsheet would run.
func seedExport(t *testing.T, e *env, n int) {
	t.Helper()
	var cs []contact.Contact
	for i := 0; i < n; i++ {
		c := person(fmt.Sprintf("44700%08d", i), fmt.Sprintf("Person %d", i), map[string]string{"city": `"Leeds"`, "vip": "false"})
		if i == 0 {
			c = person(fmt.Sprintf("44700%08d", i), `=HYPERLINK("http://evil.example","Eve")`,
				map[string]string{"city": `"-2+3"`, "plan": `"premium"`, "birthday": `"1990-02-01"`, "vip": "true"})
			c.Blocked = true
		}
		cs = append(cs, c)
	}
	e.putContacts(t, "acme", cs...)
	e.putContacts(t, "globex", person("15550009999", "Globex Person", nil))
}

func readCSV(t *testing.T, r response) [][]string {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("export = %s, want 200", r)
	}
	if ct := r.header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := r.header.Get("Content-Disposition"); cd != `attachment; filename="contacts-acme.csv"` {
		t.Errorf("Content-Disposition %q", cd)
	}
	recs, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v", err)
	}
	return recs
}

// TestContactsExport: every contact of the caller's tenant, over several of the Reader's pages, in id order, with the
// schema's columns; formula cells neutralised; numbers whole for an admin and masked for an operator of a tenant
// that hides them.
func TestContactsExport(t *testing.T) {
	e := contactsEnv(t)
	const n = 1203 // three of the export's pages of 500
	seedExport(t, e, n)

	recs := readCSV(t, e.do(t, http.MethodGet, "/v1/contacts/export.csv", bobToken, ""))
	if got := strings.Join(recs[0], ","); got != "id,phone,name,city,plan,birthday,vip,blocked,created_at" {
		t.Fatalf("header %q", got)
	}
	rows := recs[1:]
	if len(rows) != n {
		t.Fatalf("%d rows, want %d", len(rows), n)
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r[0]
		if r[2] == "Globex Person" {
			t.Fatal("another tenant's contact exported")
		}
	}
	if !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != n {
		t.Fatal("rows not each contact once in id order")
	}
	eve := person("4470000000000", "", nil)
	i := slices.Index(ids, eve.ID)
	if i < 0 {
		t.Fatal("the first contact is missing")
	}
	want := []string{eve.ID, "+4470000000000", `'=HYPERLINK("http://evil.example","Eve")`, "'-2+3", "premium", "1990-02-01",
		"true", "true", at.UTC().Format("2006-01-02T15:04:05Z07:00")}
	if !slices.Equal(rows[i], want) {
		t.Errorf("row\n%q\nwant\n%q", rows[i], want)
	}

	// alice is an operator: the export is the People page's (contacts.manage), not hers.
	r := e.do(t, http.MethodGet, "/v1/contacts/export.csv", aliceToken, "")
	wantError(t, "operator's export", r, http.StatusForbidden, "forbidden")
	if strings.Contains(string(r.body), "4470000000000") {
		t.Error("a whole number in the operator's answer")
	}
}

// TestContactsExportStoreFails: a store that cannot be read before the answer starts is a 503 with the contract's
// error; one that fails after the first page cuts the download, which the client sees as failed, never as a complete
// file.
func TestContactsExportStoreFails(t *testing.T) {
	calls := 0
	e := start(t, options{tenants: "testdata/contacts_tenants.yaml", reader: func(r api.Reader) api.Reader {
		return exportReader{Reader: r, fail: 1, calls: &calls}
	}})
	wantError(t, "first page", e.do(t, http.MethodGet, "/v1/contacts/export.csv", bobToken, ""), http.StatusServiceUnavailable, "store_unavailable")

	calls = 0
	e = start(t, options{tenants: "testdata/contacts_tenants.yaml", reader: func(r api.Reader) api.Reader {
		return exportReader{Reader: r, fail: 2, calls: &calls}
	}})
	seedExport(t, e, 600)
	resp := e.request(t, http.MethodGet, "/v1/contacts/export.csv", map[string]string{"Authorization": "Bearer " + bobToken}, "")
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || err == nil {
		t.Fatalf("export cut by the store: %d, read error %v after %d bytes; want 200 and a failed read", resp.StatusCode, err, len(b))
	}
	if lines := strings.Count(string(b), "\n"); lines > 501 {
		t.Errorf("%d lines before the cut, want at most the header and the first page", lines)
	}
}
