package api_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-hq/switchboard/actors/tenant"
	"github.com/switchboard-hq/switchboard/api"
)

const (
	permTableStart = "<!-- permissions table: generated from api.Routes; SWITCHBOARD_UPDATE_README=1 go test -run TestREADMEPermissionsTable ./api/ -->"
	permTableEnd   = "<!-- end of the permissions table -->"
)

// permissionsTable renders the matrix as the README shows it.
func permissionsTable() string {
	var b strings.Builder
	b.WriteString("| Route | Permission | admin | builder | operator | Token scope | What |\n|---|---|:-:|:-:|:-:|---|---|\n")
	for _, rt := range api.Routes {
		b.WriteString("| `" + rt.Method + " " + rt.Pattern + "` | `" + rt.Permission + "` |")
		for _, role := range []string{tenant.RoleAdmin, tenant.RoleBuilder, tenant.RoleOperator} {
			switch {
			case rt.Public || slices.Contains(rt.Roles(), role):
				b.WriteString(" ✓ |")
			case rt.Self != "" && api.Allowed(role, rt.Self):
				b.WriteString(" own |")
			default:
				b.WriteString(" — |")
			}
		}
		switch {
		case rt.Public:
			b.WriteString(" — |")
		case rt.Scope == "":
			b.WriteString(" `" + tenant.ScopeAdmin + "` |")
		default:
			b.WriteString(" `" + rt.Scope + "` |")
		}
		b.WriteString(" " + rt.Doc + " |\n")
	}
	return b.String()
}

// TestREADMEPermissionsTable: the README's "## Permissions" table is the matrix of api.Routes.
func TestREADMEPermissionsTable(t *testing.T) {
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	i, j := strings.Index(readme, permTableStart), strings.Index(readme, permTableEnd)
	if i < 0 || j < i {
		t.Fatalf("README.md has no permissions table between %q and %q", permTableStart, permTableEnd)
	}
	got := strings.TrimSpace(readme[i+len(permTableStart) : j])
	want := strings.TrimSpace(permissionsTable())
	if got == want {
		return
	}
	if os.Getenv("SWITCHBOARD_UPDATE_README") == "1" {
		readme = readme[:i+len(permTableStart)] + "\n" + want + "\n" + readme[j:]
		if err := os.WriteFile("../README.md", []byte(readme), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("the README's permissions table differs from api.Routes; regenerate it with SWITCHBOARD_UPDATE_README=1. Want:\n%s", want)
}
