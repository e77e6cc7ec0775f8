package scenariofile

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseAndRewrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.txt")
	src := "# two steps\nadd 1\n----\n1\n\nadd 2\n----\nstale\n\n# end\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	steps, tail, err := Parse(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 2 || steps[0].Cmd != "add 1" || steps[0].Want != "1" || steps[1].Line != 6 || tail != "\n# end\n" {
		t.Fatalf("steps %+v tail %q", steps, tail)
	}
	sum := 0
	step := func(cmd string) (string, error) {
		var n int
		for _, c := range strings.TrimPrefix(cmd, "add ") {
			n = n*10 + int(c-'0')
		}
		sum += n
		return string(rune('0' + sum)), nil
	}
	Run(t, path, true, step)
	got, _ := os.ReadFile(path)
	if want := "# two steps\nadd 1\n----\n1\n\nadd 2\n----\n3\n\n# end\n"; string(got) != want {
		t.Fatalf("rewritten:\n%s\nwant:\n%s", got, want)
	}
	if _, _, err := Parse(writeFile(t, "step\nno separator\n")); err == nil {
		t.Error("a step without ---- parsed")
	}
}

func writeFile(t *testing.T, s string) string {
	p := filepath.Join(t.TempDir(), "bad.txt")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// fatalRecorder is a testing.TB that records a Fatal instead of ending the test.
type fatalRecorder struct {
	testing.TB
	failed string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatal(args ...any) { r.failed = fmt.Sprint(args...) }

// Files lists testdata/*.txt of the working directory (the package's, under go test), in name order, and fails
// when there is none: a suite that lost its files must not pass empty.
func TestFiles(t *testing.T) {
	t.Chdir(t.TempDir())
	r := &fatalRecorder{TB: t}
	if files := Files(r); len(files) != 0 || !strings.Contains(r.failed, "no scenarios") {
		t.Fatalf("without testdata: files %v, failure %q; want none and a failure", files, r.failed)
	}
	if err := os.Mkdir("testdata", 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"b.txt", "a.txt", "notes.md"} {
		if err := os.WriteFile(filepath.Join("testdata", name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{filepath.Join("testdata", "a.txt"), filepath.Join("testdata", "b.txt")}
	if files := Files(t); !slices.Equal(files, want) {
		t.Fatalf("Files = %v, want %v", files, want)
	}
}
