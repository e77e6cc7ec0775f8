// Package actors_test holds the import-boundary test of the pure domain: the rule packages import only the standard
// library and the project's leaf packages listed in allowed, directly or through anything they import
// (docs/design.md, "The house"; docs/style.md, convention 2). It runs `go list -deps`, so it sees exactly what a build
// links.
package actors_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/switchboard-hq/switchboard/"

// domain are the packages of pure rules.
var domain = []string{
	module + "actors/conversation",
	module + "actors/routing",
	module + "actors/operator",
	module + "actors/canned",
	module + "actors/template",
	module + "actors/contact",
	module + "actors/audit",
}

// allowed are the project packages the domain may depend on: itself, the inbox record's types and encoding, the
// binary field reader both record forms share, the refusal type the rules share, the search tokenizer and the JSON
// appenders, leaves that import only the standard library (checked here too, as dependencies of the domain).
var allowed = append([]string{module + "ingest/inbox", module + "ingest/wire", module + "actors/refusal",
	module + "actors/search", module + "actors/jsonappend"}, domain...)

// edgeOnly are standard library packages the domain must not link either: HTTP statuses and transports belong to
// the API's edge, which maps the domain's refusal codes (api/errors.go).
var edgeOnly = []string{"net/http", "net"}

// listed is what `go list -json` says of a package, as far as this test needs.
type listed struct {
	ImportPath string
	Standard   bool
	Imports    []string
	Error      *struct{ Err string }
}

func TestDomainImportsOnlyStandardLibrary(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the domain's imports: %v", err)
	}
	cmd := exec.Command(goBin, append([]string{"list", "-deps", "-json"}, domain...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", strings.Join(domain, " "), err, stderr.Bytes())
	}
	pkgs, err := decodeList(out)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range pkgs {
		seen[p.ImportPath] = true
		if p.Error != nil {
			t.Errorf("%s: %s", p.ImportPath, p.Error.Err)
		}
	}
	for _, d := range domain {
		if !seen[d] {
			t.Errorf("go list did not list %s: the test no longer checks it", d)
		}
	}
	byPath := map[string]*listed{}
	for i := range pkgs {
		byPath[pkgs[i].ImportPath] = &pkgs[i]
	}
	ok := func(path string) bool {
		p := byPath[path]
		return slices.Contains(allowed, path) || p != nil && p.Standard && !slices.Contains(edgeOnly, path)
	}
	// Each edge that leaves the allowed set is reported where it starts, then how much it drags in.
	var outside []string
	for _, p := range pkgs {
		if !ok(p.ImportPath) {
			outside = append(outside, p.ImportPath)
			continue
		}
		if p.Standard {
			continue // its imports are standard too
		}
		for _, imp := range p.Imports {
			if !ok(imp) {
				t.Errorf("%s imports %s, which is not in the standard library (or is edge-only: %s) nor an allowed "+
					"project leaf (%s)", p.ImportPath, imp, strings.Join(edgeOnly, ", "), strings.Join(allowed, ", "))
			}
		}
	}
	if len(outside) > 0 {
		t.Errorf("through those imports the domain links %d packages it must not, e.g. %s",
			len(outside), strings.Join(outside[:min(5, len(outside))], ", "))
	}
}

func decodeList(out []byte) ([]listed, error) {
	var pkgs []listed
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			return pkgs, nil
		}
		if err != nil {
			return nil, err
		}
		pkgs = append(pkgs, p)
	}
}
