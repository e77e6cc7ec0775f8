package deploy_test

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestFilesParse parses every YAML and JSON file under deploy/.
func TestFilesParse(t *testing.T) {
	var n int
	err := filepath.WalkDir(deployDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(deployDir, path)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		switch filepath.Ext(path) {
		case ".yml", ".yaml":
			n++
			var docs int
			if err := yamlDocs(b, func(*yaml.Node) error { docs++; return nil }); err != nil {
				t.Errorf("%s: %v", rel, err)
			} else if docs == 0 {
				t.Errorf("%s: no YAML document", rel)
			}
		case ".json":
			n++
			var v any
			if err := json.Unmarshal(b, &v); err != nil {
				t.Errorf("%s: %v", rel, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Errorf("only %d YAML/JSON files under deploy/", n)
	}
}
