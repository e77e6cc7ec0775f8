// Package refusaltest checks that a rule package's list of refusal codes (its Codes function, which the API's code →
// status table is tested against) names every Code constant the package declares, so a new code cannot reach the
// API unmapped.
//
// It imports only the standard library; only tests import it.
package refusaltest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"testing"
)

// CheckCodes parses file (the package's errors.go, relative to the test's directory) and fails t for every string
// constant whose name starts with "Code" and whose value listed does not hold, and for every listed code no constant
// declares.
func CheckCodes(t *testing.T, file string, listed []string) {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var declared []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if len(name.Name) < 5 || name.Name[:4] != "Code" || i >= len(vs.Values) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					continue
				}
				v, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				declared = append(declared, v)
				if !slices.Contains(listed, v) {
					t.Errorf("%s declares %s = %q, which Codes does not list", file, name.Name, v)
				}
			}
		}
	}
	if len(declared) == 0 {
		t.Fatalf("%s declares no Code constants", file)
	}
	for _, c := range listed {
		if !slices.Contains(declared, c) {
			t.Errorf("Codes lists %q, which %s does not declare", c, file)
		}
	}
}
