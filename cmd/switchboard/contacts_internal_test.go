package main

import (
	"flag"
	"fmt"
	"testing"
)

// The file may come before, between or after the flags; a flag's value is never taken for the file.
func TestSplitArgs(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.String("tenant", "", "")
	fs.Bool("json", false, "")
	for _, tc := range []struct {
		args         []string
		flags, files string
	}{
		{[]string{"--tenant", "acme", "f.csv"}, "[--tenant acme]", "[f.csv]"},
		{[]string{"f.csv", "--json", "--tenant=acme"}, "[--json --tenant=acme]", "[f.csv]"},
		{[]string{"--json", "f.csv", "-tenant", "acme"}, "[--json -tenant acme]", "[f.csv]"},
		{[]string{"--tenant", "acme", "--", "-odd.csv"}, "[--tenant acme]", "[-odd.csv]"},
		{[]string{"a.csv", "b.csv"}, "[]", "[a.csv b.csv]"},
	} {
		flags, files := splitArgs(fs, tc.args)
		if fmt.Sprint(flags) != tc.flags || fmt.Sprint(files) != tc.files {
			t.Errorf("splitArgs(%q) = %v %v, want %s %s", tc.args, flags, files, tc.flags, tc.files)
		}
	}
}
