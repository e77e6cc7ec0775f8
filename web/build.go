//go:build ignore

// build.go bundles the console: `go generate ./web` (or `make web`) runs it from the web directory. It calls esbuild's
// Go API (the module go.mod pins as a tool), so building the console needs no Node: src/main.jsx and the CSS it
// imports become dist/assets/main-<hash>.js and main-<hash>.css, src/index.html becomes dist/index.html naming them,
// and dist/manifest.json maps each entry to its hashed file. Preact resolves from vendor/ (see vendor/fetch.sh).
//
//	go run build.go [-out DIR]   (default dist; the freshness test builds into a temporary directory and compares)
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/evanw/esbuild/pkg/api"
)

func main() {
	out := flag.String("out", "dist", "output directory (its contents are replaced)")
	flag.Parse()
	if err := build(*out); err != nil {
		fmt.Fprintln(os.Stderr, "build console:", err)
		os.Exit(1)
	}
}

const banner = "/*! Switchboard console. Includes Preact 11.2.0 (MIT licence, web/vendor/preact/LICENSE). */"

func build(out string) error {
	vendor, err := filepath.Abs("vendor")
	if err != nil {
		return err
	}
	res := api.Build(api.BuildOptions{
		EntryPoints:       []string{"src/main.jsx"},
		Bundle:            true,
		Format:            api.FormatESModule,
		Target:            api.ES2020,
		JSX:               api.JSXAutomatic,
		JSXImportSource:   "preact",
		NodePaths:         []string{vendor},
		MinifyWhitespace:  true,
		MinifyIdentifiers: true,
		MinifySyntax:      true,
		Charset:           api.CharsetUTF8,
		LegalComments:     api.LegalCommentsNone,
		Banner:            map[string]string{"js": banner},
		EntryNames:        "[name]-[hash]",
		Outdir:            "assets",
		Write:             false,
		LogLevel:          api.LogLevelWarning,
	})
	if len(res.Errors) > 0 {
		msgs := api.FormatMessages(res.Errors, api.FormatMessagesOptions{Kind: api.ErrorMessage})
		return fmt.Errorf("esbuild:\n%s", strings.Join(msgs, ""))
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(out, "assets"), 0o755); err != nil {
		return err
	}
	manifest := map[string]string{}
	var names []string
	for _, f := range res.OutputFiles {
		rel, err := filepath.Rel(mustAbs("."), f.Path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if err := os.WriteFile(filepath.Join(out, rel), f.Contents, 0o644); err != nil {
			return err
		}
		ext := filepath.Ext(rel)
		manifest["main"+ext] = rel
		names = append(names, rel)
	}
	sort.Strings(names)
	if manifest["main.js"] == "" || manifest["main.css"] == "" {
		return fmt.Errorf("esbuild wrote %v, not main.js and main.css", names)
	}
	page, err := os.ReadFile("src/index.html")
	if err != nil {
		return err
	}
	html := strings.NewReplacer("{{main.js}}", "/"+manifest["main.js"], "{{main.css}}", "/"+manifest["main.css"]).
		Replace(string(page))
	if err := os.WriteFile(filepath.Join(out, "index.html"), []byte(html), 0o644); err != nil {
		return err
	}
	m, err := json.MarshalIndent(manifest, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "manifest.json"), append(m, '\n'), 0o644)
}

func mustAbs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		panic(err)
	}
	return a
}
