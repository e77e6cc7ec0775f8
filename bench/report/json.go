package report

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// WriteJSON writes r to w as indented JSON, the form ReadJSON reads back.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Notes and descriptions are read by people; "<" and "&" need not become \u003c.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	return nil
}

// ReadJSON reads a Report written by WriteJSON. Numbers in Config come back as float64, as encoding/json decodes
// them into an any.
func ReadJSON(r io.Reader) (*Report, error) {
	var rep Report
	if err := json.NewDecoder(r).Decode(&rep); err != nil {
		return nil, fmt.Errorf("decode report: %w", err)
	}
	return &rep, nil
}

// WriteAll creates dir if needed and writes the whole report into it: report.json (WriteJSON), report.md
// (Markdown) and one PNG per plot (WritePlots). Files of an earlier report in dir are overwritten, never removed.
func (r *Report) WriteAll(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create report directory: %w", err)
	}
	if err := r.writeJSONFile(filepath.Join(dir, "report.json")); err != nil {
		return err
	}
	md := filepath.Join(dir, "report.md")
	if err := os.WriteFile(md, []byte(r.Markdown()), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", md, err)
	}
	if _, err := r.WritePlots(dir); err != nil {
		return err
	}
	return nil
}

func (r *Report) writeJSONFile(path string) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close %s: %w", path, cerr)
		}
	}()
	if err := r.WriteJSON(f); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
