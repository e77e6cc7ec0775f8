package api_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/audit"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

type auditPage struct {
	Entries    []audit.Entry `json:"entries"`
	NextCursor string        `json:"next_cursor"`
}

func TestAuditListAdminsOnlyOwnTenant(t *testing.T) {
	e := start(t, options{})
	t0 := time.Date(2025, 10, 9, 9, 0, 0, 0, time.UTC)
	e.commit(t, func(b *store.Batch) error {
		for i := range 5 {
			en := audit.Entry{ID: audit.ID(int64(i), 0, 0), TenantID: "acme", At: t0.Add(time.Duration(i) * time.Minute),
				ActorID: []string{"bob", "alice"}[i%2], Action: []string{audit.ActionSettingsChanged, audit.ActionAccessDenied}[i%2],
				Target: "settings"}
			if err := b.PutAudit("acme", &en); err != nil {
				return err
			}
		}
		return b.PutAudit("globex", &audit.Entry{ID: "9-0-0", TenantID: "globex", At: t0, ActorID: "dave",
			Action: audit.ActionSettingsChanged})
	})
	ids := func(p auditPage) []string {
		var out []string
		for _, en := range p.Entries {
			out = append(out, en.ID)
		}
		return out
	}
	var all []string
	cursor := ""
	for range 4 {
		var p auditPage
		e.getJSON(t, "/v1/audit?limit=2&cursor="+url.QueryEscape(cursor), bobToken, &p)
		all = append(all, ids(p)...)
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	if want := []string{"4-0-0", "3-0-0", "2-0-0", "1-0-0", "0-0-0"}; !slices.Equal(all, want) {
		t.Errorf("pages newest first = %v, want %v", all, want)
	}
	cases := []struct {
		query string
		want  []string
	}{
		{"actor=alice", []string{"3-0-0", "1-0-0"}},
		{"action=access.denied", []string{"3-0-0", "1-0-0"}},
		{"action=settings.", []string{"4-0-0", "2-0-0", "0-0-0"}},
		{"from=2025-10-09T09:02:00Z&to=2025-10-09T09:04:00Z", []string{"3-0-0", "2-0-0"}},
	}
	for _, c := range cases {
		var p auditPage
		e.getJSON(t, "/v1/audit?"+c.query, bobToken, &p)
		if got := ids(p); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.query, got, c.want)
		}
	}
	// Another tenant's admin sees its own entries only.
	var p auditPage
	e.getJSON(t, "/v1/audit", daveToken, &p)
	if got := ids(p); !slices.Equal(got, []string{"9-0-0"}) {
		t.Errorf("globex admin sees %v", got)
	}
	// Operators and builders are refused; a refused read is not audited.
	wantError(t, "operator", e.do(t, "GET", "/v1/audit", aliceToken, ""), fasthttp.StatusForbidden, "forbidden")
	wantError(t, "builder", e.do(t, "GET", "/v1/audit", carolToken, ""), fasthttp.StatusForbidden, "forbidden")
	wantError(t, "bad from", e.do(t, "GET", "/v1/audit?from=yesterday", bobToken, ""), fasthttp.StatusBadRequest, "invalid_from")
	wantError(t, "bad cursor", e.do(t, "GET", "/v1/audit?cursor=zz", bobToken, ""), fasthttp.StatusBadRequest, "invalid_cursor")
	wantError(t, "bad limit", e.do(t, "GET", "/v1/audit?limit=0", bobToken, ""), fasthttp.StatusBadRequest, "invalid_limit")
	for _, r := range e.prod.records() {
		t.Errorf("a read produced %+v", r)
	}
}

func TestAuditRefusedChangeIsRecorded(t *testing.T) {
	e := start(t, options{})
	wantError(t, "operator patches settings", e.do(t, "PATCH", "/v1/settings", aliceToken, `{"routing":"manual"}`),
		fasthttp.StatusForbidden, "forbidden")
	recs := e.prod.records()
	if len(recs) != 1 || len(recs[0].Items) != 1 {
		t.Fatalf("records %+v, want one audit command", recs)
	}
	cmd := recs[0].Items[0].Command
	want := inbox.AuditInput{Action: "access.denied", Target: "PATCH /v1/settings"}
	if recs[0].Tenant != "acme" || cmd == nil || cmd.Type != inbox.CmdAudit || cmd.OperatorID != "alice" ||
		cmd.Audit == nil || *cmd.Audit != want || cmd.Config != nil {
		b, _ := json.Marshal(recs[0])
		t.Errorf("record %s, want only an audit command of alice for %+v", b, want)
	}
	// The record is one the router decodes (the producer stamps the version).
	rec := recs[0]
	rec.V = inbox.Version
	b, _ := json.Marshal(rec)
	if _, err := inbox.Decode(b); err != nil {
		t.Errorf("audit record does not decode: %v", err)
	}
}
