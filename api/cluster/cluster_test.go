package cluster_test

import (
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/api/cluster"
)

func TestTableHighestGenerationWins(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	tb := cluster.NewTable(20*time.Second, func() time.Time { return now })
	tb.Update(cluster.Member{Node: "a", URL: "http://a", Generation: 3, Partitions: []int{0, 1, 2}, At: now})
	tb.Update(cluster.Member{Node: "b", URL: "http://b", Generation: 3, Partitions: []int{3, 4}, At: now})
	if o, ok := tb.Owner(1); !ok || o.Node != "a" || o.Generation != 3 {
		t.Fatalf("owner of 1 = %+v %v, want a in 3", o, ok)
	}
	// b takes partition 1 in generation 4 before a's record of generation 4 arrives: b wins.
	tb.Update(cluster.Member{Node: "b", URL: "http://b", Generation: 4, Partitions: []int{1, 3, 4}, At: now.Add(time.Second)})
	if o, _ := tb.Owner(1); o.Node != "b" || o.URL != "http://b" {
		t.Fatalf("owner of 1 = %+v, want b (generation 4 over 3)", o)
	}
	// An older record of a member is ignored.
	tb.Update(cluster.Member{Node: "b", URL: "http://b", Generation: 3, Partitions: []int{3}, At: now})
	if o, _ := tb.Owner(1); o.Node != "b" {
		t.Fatalf("a stale record of b replaced its newer one: owner of 1 = %+v", o)
	}
	if _, ok := tb.Owner(7); ok {
		t.Fatal("a partition nobody claims has an owner")
	}
	// a stops publishing; b's claims stay live by heartbeats. After the TTL a claims nothing.
	now = now.Add(21 * time.Second)
	tb.Update(cluster.Member{Node: "b", URL: "http://b", Generation: 4, Partitions: []int{1, 3, 4}, At: now})
	if _, ok := tb.Owner(0); ok {
		t.Fatal("an expired member still owns partition 0")
	}
	if o, ok := tb.Owner(3); !ok || o.Node != "b" {
		t.Fatalf("owner of 3 = %+v %v, want b", o, ok)
	}
	if ms := tb.Members(); len(ms) != 1 || ms[0].Node != "b" {
		t.Fatalf("live members = %+v, want b alone", ms)
	}
	ch := tb.Changed()
	tb.Remove("b")
	select {
	case <-ch:
	default:
		t.Fatal("Changed not closed by Remove")
	}
	if _, ok := tb.Owner(3); ok {
		t.Fatal("a removed member still owns 3")
	}
}

func TestDecodeMember(t *testing.T) {
	m := cluster.Member{Node: "n1", URL: "http://127.0.0.1:8081", Generation: 9, Partitions: []int{2, 5},
		At: time.Unix(1_700_000_000, 0).UTC()}
	got, err := cluster.DecodeMember(m.Encode())
	if err != nil || got.Node != m.Node || got.URL != m.URL || got.Generation != 9 || len(got.Partitions) != 2 ||
		!got.At.Equal(m.At) {
		t.Fatalf("round trip = %+v, %v", got, err)
	}
	for _, bad := range []string{`{}`, `{"node":"x","url":"file:///etc/passwd"}`, `{"node":"x","url":"http://"}`, `nope`} {
		if _, err := cluster.DecodeMember([]byte(bad)); err == nil {
			t.Errorf("DecodeMember(%s) accepted", bad)
		}
	}
}

func TestVerifyRefusesReplayedAlteredAndOld(t *testing.T) {
	secret := []byte("s3cret-of-the-cluster")
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	s := cluster.Signed{Method: "POST", RequestURI: "/v1/conversations/c1/reply", Body: []byte(`{"text":"hi"}`),
		Identity: `{"tenant":"acme","operator":"alice"}`, From: "http://127.0.0.1:8081"}
	v := cluster.NewVerifier(secret, 30*time.Second, clock)
	h := cluster.Sign(secret, s, now)
	if err := v.Verify(h, s); err != nil {
		t.Fatalf("a fresh forward refused: %v", err)
	}
	if err := v.Verify(h, s); !errors.Is(err, cluster.ErrReplayed) {
		t.Fatalf("a replayed forward: %v, want ErrReplayed", err)
	}
	// Each altered field is refused.
	alter := map[string]func(*cluster.Signed){
		"method":        func(x *cluster.Signed) { x.Method = "DELETE" },
		"path":          func(x *cluster.Signed) { x.RequestURI = "/v1/conversations/c2/reply" },
		"body":          func(x *cluster.Signed) { x.Body = []byte(`{"text":"ho"}`) },
		"identity":      func(x *cluster.Signed) { x.Identity = `{"tenant":"globex","operator":"alice"}` },
		"authorization": func(x *cluster.Signed) { x.Authorization = "Bearer other" },
		"from":          func(x *cluster.Signed) { x.From = "http://evil" },
	}
	for name, f := range alter {
		h := cluster.Sign(secret, s, now)
		x := s
		f(&x)
		if err := v.Verify(h, x); !errors.Is(err, cluster.ErrBadMAC) {
			t.Errorf("altered %s: %v, want ErrBadMAC", name, err)
		}
	}
	if err := v.Verify(cluster.Sign([]byte("another secret"), s, now), s); !errors.Is(err, cluster.ErrBadMAC) {
		t.Errorf("another secret: %v, want ErrBadMAC", err)
	}
	if err := v.Verify(cluster.Sign(secret, s, now.Add(-31*time.Second)), s); !errors.Is(err, cluster.ErrStale) {
		t.Errorf("signed 31 s ago: %v, want ErrStale", err)
	}
	if err := v.Verify(cluster.Sign(secret, s, now.Add(31*time.Second)), s); !errors.Is(err, cluster.ErrStale) {
		t.Errorf("signed 31 s ahead: %v, want ErrStale", err)
	}
	for _, bad := range []string{"", "t=1", "garbage", "t=x,n=0123456789abcdef,s=00"} {
		if err := v.Verify(bad, s); !errors.Is(err, cluster.ErrUnsigned) {
			t.Errorf("Verify(%q) = %v, want ErrUnsigned", bad, err)
		}
	}
	// A signature with a precomputed body hash is the same as over the body.
	h2 := cluster.Sign(secret, cluster.Signed{Method: s.Method, RequestURI: s.RequestURI, BodyHash: sha(s.Body),
		Identity: s.Identity, From: s.From}, now)
	if err := v.Verify(h2, s); err != nil {
		t.Errorf("a signature over the body's hash: %v", err)
	}
}

func sha(b []byte) [32]byte { return sha256.Sum256(b) }
