package store

import (
	"errors"
	"slices"
	"testing"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/template"
)

func tpl(waba, name, lang, status string, off int64) StoredTemplate {
	return StoredTemplate{Template: template.Template{ID: name + "-id", WABA: waba, Name: name, Language: lang,
		Status: status, Params: 2}, Applied: conversation.Position{Offset: off}}
}

func TestTemplates(t *testing.T) {
	s := openStore(t, t.TempDir())
	commitWait(t, s, func(b *Batch) error {
		for _, x := range []StoredTemplate{
			tpl("111", "order_update", "en_US", "APPROVED", 1),
			tpl("111", "order_update", "pt_BR", "PENDING", 1),
			tpl("111", "alpha", "en_US", "REJECTED", 1),
			tpl("222", "other", "en", "APPROVED", 1),
			tpl("1110", "prefix_neighbour", "en", "APPROVED", 1),
		} {
			if err := b.PutTemplate("acme", &x); err != nil {
				return err
			}
		}
		other := tpl("111", "order_update", "en_US", "PAUSED", 1)
		return b.PutTemplate("globex", &other)
	})
	got, err := s.Template("acme", "111", "order_update", "pt_BR")
	if err != nil || got.Status != "PENDING" || got.Params != 2 || got.Applied.Offset != 1 {
		t.Fatalf("Template = %+v, %v", got, err)
	}
	names := func(ts []StoredTemplate) (out []string) {
		for _, x := range ts {
			out = append(out, x.WABA+"/"+x.Name+"/"+x.Language)
		}
		return out
	}
	list, err := s.Templates("acme", "111")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(list), []string{"111/alpha/en_US", "111/order_update/en_US", "111/order_update/pt_BR"}; !slices.Equal(got, want) {
		t.Errorf("Templates(acme, 111) = %v, want %v (no other account's, not the account 1110)", got, want)
	}
	all, _ := s.Templates("acme", "")
	if len(all) != 5 {
		t.Errorf("Templates(acme, \"\") = %v", names(all))
	}
	if g, _ := s.Templates("globex", ""); len(g) != 1 || g[0].Status != "PAUSED" {
		t.Errorf("globex = %+v: another tenant's catalogue leaked or was overwritten", g)
	}
	commitWait(t, s, func(b *Batch) error { return b.DeleteTemplate("acme", "111", "alpha", "en_US") })
	if _, err := s.Template("acme", "111", "alpha", "en_US"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted template: %v", err)
	}
	for _, k := range [][3]string{{"111", "a/b", "en"}, {"", "x", "en"}, {"111", "x", ""}} {
		if _, err := s.Template("acme", k[0], k[1], k[2]); !errors.Is(err, ErrNotFound) {
			t.Errorf("Template(%q) = %v, want ErrNotFound", k, err)
		}
		b := s.NewBatch()
		x := tpl(k[0], k[1], k[2], "APPROVED", 1)
		if err := b.PutTemplate("acme", &x); err == nil {
			t.Errorf("PutTemplate(%q) accepted a key that cannot be stored", k)
		}
		b.Discard()
	}
}
