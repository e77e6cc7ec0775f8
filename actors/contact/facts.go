package contact

import "encoding/json"

// Visible returns the values of fields (a contact's Fields) that the schema shows, in their form for the field's
// current definition: a value of a field the schema no longer has, or one its definition now refuses (its type or
// choices changed), is left out. Such values stay in the contact's record (a schema change never rewrites
// contacts); the field's former definition shows them again. It returns nil when nothing is shown.
func (s Schema) Visible(fields map[string]json.RawMessage) map[string]json.RawMessage {
	var out map[string]json.RawMessage
	for k, raw := range fields {
		v, err := s.Check(k, raw)
		if err != nil || v == nil {
			continue
		}
		if out == nil {
			out = make(map[string]json.RawMessage, len(fields))
		}
		out[k] = v
	}
	return out
}

// Texts are the visible values of fields (Visible) as text, as routing rules compare them: a string's text, a
// number in its shortest form, true or false.
func (s Schema) Texts(fields map[string]json.RawMessage) map[string]string {
	vis := s.Visible(fields)
	if len(vis) == 0 {
		return nil
	}
	out := make(map[string]string, len(vis))
	for k, v := range vis {
		var str string
		if len(v) > 0 && v[0] == '"' && json.Unmarshal(v, &str) == nil {
			out[k] = str
			continue
		}
		out[k] = string(v)
	}
	return out
}
