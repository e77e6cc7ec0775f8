package flagenv

import (
	"flag"
	"slices"
	"testing"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestParse(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	rate := fs.Int("rate", 80, "")
	secret := fs.String("app-secret", "", "")
	if err := Parse(fs, []string{"--rate", "7"}, "P_", env(map[string]string{"P_RATE": "5", "P_APP_SECRET": "s"})); err != nil || *rate != 7 || *secret != "s" {
		t.Errorf("rate %d secret %q err %v, want 7 (the flag wins), s (from P_APP_SECRET), nil", *rate, *secret, err)
	}
	fs = flag.NewFlagSet("t", flag.ContinueOnError)
	fs.Int("rate", 80, "")
	if err := Parse(fs, nil, "P_", env(map[string]string{"P_RATE": "many"})); err == nil {
		t.Error("P_RATE=many accepted")
	}
	fs = flag.NewFlagSet("t", flag.ContinueOnError)
	if err := Parse(fs, []string{"stray"}, "P_", env(nil)); err == nil {
		t.Error("a positional argument accepted")
	}
}

func TestList(t *testing.T) {
	if got := List(" a, b,,"); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("List = %q", got)
	}
	if got := List(""); got != nil {
		t.Errorf("List(\"\") = %q, want nil", got)
	}
}

// A flag counts as given from the command line or from the environment, not from its default.
func TestGiven(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  map[string]string
		want bool
	}{
		{nil, nil, false},
		{[]string{"--changelog=false"}, nil, true},
		{nil, map[string]string{"X_CHANGELOG": "true"}, true},
		{nil, map[string]string{"X_OTHER": "true"}, false},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.Bool("changelog", false, "")
		fs.Bool("other", false, "")
		lookup := func(k string) (string, bool) { v, ok := c.env[k]; return v, ok }
		if err := Parse(fs, c.args, "X_", lookup); err != nil {
			t.Fatal(err)
		}
		if got := Given(fs, "changelog"); got != c.want {
			t.Errorf("args %v env %v: Given = %v, want %v", c.args, c.env, got, c.want)
		}
	}
}
