// Package flagenv parses a command's flags and fills the ones not given on the command line from the environment,
// so every Switchboard command reads its settings the same way. Only packages under cmd/ import it (STYLE rule 3:
// flags and environment are read only in cmd/).
package flagenv

import (
	"flag"
	"fmt"
	"strings"
)

// Parse parses args, then fills every flag not given on the command line from the variable prefix + FLAG in upper
// snake case (--webhook-url → <prefix>WEBHOOK_URL), read with lookupEnv (os.LookupEnv outside tests). A flag on
// the command line wins. Positional arguments are refused. A flag filled from the environment counts as set
// (Given, flag.FlagSet.Visit).
func Parse(fs *flag.FlagSet, args []string, prefix string, lookupEnv func(string) (string, bool)) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		env := prefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := lookupEnv(env); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s=%q: %w", env, v, e)
			}
		}
	})
	return err
}

// Given reports whether flag name was set, on the command line or from the environment (after Parse).
func Given(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// List splits a comma-separated flag value, dropping blanks: "a, b,," is [a b]; "" is nil.
func List(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
