package scenariofile

import (
	"os"
	"path/filepath"
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
