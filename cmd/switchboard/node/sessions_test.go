package node

import (
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/store/storetest"
	"github.com/switchboard-hq/switchboard/api"
	"github.com/switchboard-hq/switchboard/api/sessiontest"
)

func TestStoreSessionsConform(t *testing.T) {
	sessiontest.Run(t, func(t *testing.T, max int, now func() time.Time) api.Sessions {
		s, err := StoreSessions(storetest.Open(t, store.Config{}), max, now)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// Sessions outlive the store's reopening, and the bound counts those already stored.
func TestStoreSessionsSurviveARestart(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2025, 10, 9, 10, 0, 0, 0, time.UTC)
	now := func() time.Time { return at }
	open := func() (*store.Store, api.Sessions) {
		st, err := store.Open(store.Config{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		s, err := StoreSessions(st, 2, now)
		if err != nil {
			t.Fatal(err)
		}
		return st, s
	}
	st, s := open()
	for _, c := range []string{"a", "b"} {
		at = at.Add(time.Second)
		if err := s.Put(api.KeyOf(c), api.Session{Tenant: "acme", Operator: c, ExpiresAt: at.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, s = open()
	defer st.Close()
	if got, ok, err := s.Get(api.KeyOf("a")); err != nil || !ok || got.Operator != "a" {
		t.Fatalf("after a restart: %+v %v %v", got, ok, err)
	}
	at = at.Add(time.Second)
	if err := s.Put(api.KeyOf("c"), api.Session{Tenant: "acme", Operator: "c", ExpiresAt: at.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Get(api.KeyOf("a")); ok {
		t.Error("the oldest session is kept over the bound of 2")
	}
}
