package store

// The tenant's WhatsApp template catalogue (actors/template): one record per business account, name and language,
// written by the tenant's catalogue actor from template_sync commands and Meta's template webhooks, read by the API.

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/cockroachdb/pebble/v2"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/template"
)

// StoredTemplate is a catalogue record with the position of the input that last wrote it, so a replayed input
// older than it is skipped.
type StoredTemplate struct {
	template.Template
	Applied conversation.Position `json:"applied"`
}

// validTemplateKey reports whether the parts of a template key can be stored: non-empty and without "/" (Meta's
// names are lowercase letters, digits and underscores; languages are like en_US).
func validTemplateKey(waba, name, lang string) error {
	for _, p := range []string{waba, name, lang} {
		if p == "" || strings.IndexByte(p, '/') >= 0 || len(p) > 512 {
			return fmt.Errorf("template key %q/%q/%q: parts must be 1 to 512 bytes without \"/\"", waba, name, lang)
		}
	}
	return nil
}

// PutTemplate writes a catalogue record.
func (b *Batch) PutTemplate(tenant string, t *StoredTemplate) error {
	if err := validTemplateKey(t.WABA, t.Name, t.Language); err != nil {
		return err
	}
	return b.putJSON(templateKey(tenant, t.WABA, t.Name, t.Language), t)
}

// DeleteTemplate removes a catalogue record (a template Meta no longer lists).
func (b *Batch) DeleteTemplate(tenant, waba, name, lang string) error {
	if err := validTemplateKey(waba, name, lang); err != nil {
		return err
	}
	return b.b.Delete(templateKey(tenant, waba, name, lang), nil)
}

// Template returns a catalogue record, or ErrNotFound (also for a key that cannot be stored).
func (s *Store) Template(tenant, waba, name, lang string) (StoredTemplate, error) {
	var t StoredTemplate
	if validTemplateKey(waba, name, lang) != nil {
		return t, ErrNotFound
	}
	err := s.getJSON(templateKey(tenant, waba, name, lang), &t)
	return t, err
}

// Templates returns the catalogue of one business account of tenant, by name then language; waba "" returns
// every account's, by account first. A tenant's catalogue is small (Meta allows a few hundred templates per
// account), so it is read whole.
func (s *Store) Templates(tenant, waba string) ([]StoredTemplate, error) {
	prefix := templatePrefix(tenant, waba)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, fmt.Errorf("read templates of %s: %w", tenant, err)
	}
	defer it.Close()
	var out []StoredTemplate
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("read template %s: %w", it.Key(), err)
		}
		var t StoredTemplate
		if err := json.Unmarshal(v, &t); err != nil {
			return nil, fmt.Errorf("decode template %s: %w", it.Key(), err)
		}
		out = append(out, t)
	}
	return out, it.Error()
}
