// Package scenariofile runs the data-file scenario tests (actors/conversation, actors/routing, actors/operator,
// actors/router): a package's scenarios are its testdata/*.txt files; a file is a list of steps, each a command
// line, a "----" line and the expected output up to the next blank line; blank lines and # comments between steps
// are kept. With -rewrite, the files' expected outputs are regenerated from what the steps produce.
//
// It imports only the standard library and is imported only by tests.
package scenariofile

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Rewrite is the -rewrite flag of every test binary that runs scenarios: `go test ./actors/routing -rewrite` writes
// the outputs the steps produce into the package's scenario files instead of comparing, to be reviewed with git
// diff. Pass *Rewrite to Run.
var Rewrite = flag.Bool("rewrite", false, "rewrite the expected outputs of the testdata/*.txt scenarios")

// Files returns the package's scenario files, testdata/*.txt, and fails t if there are none.
func Files(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scenarios in testdata")
	}
	return files
}

// Step is one command of a scenario file and the output it should produce.
type Step struct {
	Line     int    // line number of the command
	Preamble string // comments and blank lines before it, kept on rewrite
	Cmd      string
	Want     string
}

// Parse reads a scenario file. tail is what follows the last step.
func Parse(path string) (steps []Step, tail string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var pre strings.Builder
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if trimmed := strings.TrimSpace(line); trimmed == "" || strings.HasPrefix(trimmed, "#") {
			pre.WriteString(line + "\n")
			continue
		}
		st := Step{Line: n, Preamble: pre.String(), Cmd: strings.TrimSpace(line)}
		pre.Reset()
		if !sc.Scan() || sc.Text() != "----" {
			return nil, "", fmt.Errorf("%s:%d: step %q is not followed by ----", path, n, st.Cmd)
		}
		n++
		var want []string
		for sc.Scan() {
			n++
			if sc.Text() == "" {
				pre.WriteString("\n")
				break
			}
			want = append(want, sc.Text())
		}
		st.Want = strings.Join(want, "\n")
		steps = append(steps, st)
	}
	if err := sc.Err(); err != nil {
		return nil, "", err
	}
	return steps, pre.String(), nil
}

// Run runs the file at path: step is called with each command and returns its output, or an error when an
// invariant broke (the test then stops at that step). Outputs that differ from the file are reported; with
// rewrite the file is written back with the outputs produced.
func Run(t *testing.T, path string, rewrite bool, step func(cmd string) (string, error)) {
	t.Helper()
	steps, tail, err := Parse(path)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, st := range steps {
		got, err := step(st.Cmd)
		if err != nil {
			t.Fatalf("%s:%d: %s: invariant broken: %v", path, st.Line, st.Cmd, err)
		}
		if rewrite {
			fmt.Fprintf(&b, "%s%s\n----\n%s\n", st.Preamble, st.Cmd, got)
			continue
		}
		if got != st.Want {
			t.Errorf("%s:%d: %s\n got:\n%s\nwant:\n%s", path, st.Line, st.Cmd, indent(got), indent(st.Want))
		}
	}
	if rewrite {
		b.WriteString(tail)
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func indent(s string) string { return "    " + strings.ReplaceAll(s, "\n", "\n    ") }

// Args are a step's words after its command: positional ones in order, key=value ones by key.
type Args struct {
	Pos []string
	KV  map[string]string
}

// ParseArgs splits fields into positional and key=value arguments.
func ParseArgs(fields []string) Args {
	a := Args{KV: map[string]string{}}
	for _, f := range fields {
		if k, v, ok := strings.Cut(f, "="); ok {
			a.KV[k] = v
		} else {
			a.Pos = append(a.Pos, f)
		}
	}
	return a
}

// Has reports whether word is one of the positional arguments.
func (a Args) Has(word string) bool { return slices.Contains(a.Pos, word) }
