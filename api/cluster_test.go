package api_test

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/api"
	"github.com/switchboard-hq/switchboard/api/cluster"
)

const clusterSecret = "the-cluster-secret-of-these-tests"

// ring is three API nodes sharing an owner table the test writes (the membership records, in a node).
type ring struct {
	table *cluster.Table
	part  map[string]int // tenant → partition
	nodes map[string]*env
	owns  map[string]func(tenant string) bool

	mu  sync.Mutex
	gen int32
	at  time.Time
}

func startRing(t *testing.T) *ring {
	r := &ring{table: cluster.NewTable(0, nil), part: map[string]int{"acme": 0, "globex": 1},
		nodes: map[string]*env{}, owns: map[string]func(string) bool{}, at: time.Unix(1, 0)}
	for _, name := range []string{"a", "b", "c"} {
		r.nodes[name] = start(t, options{commandTimeout: time.Second, configure: func(c *api.Config) {
			c.Cluster = &api.ClusterConfig{Node: name, Secret: []byte(clusterSecret),
				Owner: func(tn string) (cluster.Owner, bool) { return r.table.Owner(r.part[tn]) },
				Owns: func(tn string) bool {
					r.mu.Lock()
					f := r.owns[name]
					r.mu.Unlock()
					return f != nil && f(tn)
				},
				Changed: r.table.Changed, Settle: 200 * time.Millisecond}
		}})
	}
	return r
}

// claim publishes node's claim on partitions, in a newer generation than any before.
func (r *ring) claim(node string, partitions ...int) {
	r.mu.Lock()
	r.gen++
	r.at = r.at.Add(time.Second)
	m := cluster.Member{Node: node, URL: r.nodes[node].url, Generation: r.gen, Partitions: partitions, At: r.at}
	r.mu.Unlock()
	r.table.Update(m)
}

func (r *ring) setOwns(node string, f func(tenant string) bool) {
	r.mu.Lock()
	r.owns[node] = f
	r.mu.Unlock()
}

func TestForwardToTheOwner(t *testing.T) {
	r := startRing(t)
	a, b := r.nodes["a"], r.nodes["b"]
	// b owns acme (partition 0) and holds its conversation; a owns globex and holds nothing of acme.
	b.putConvs(t, conv("acme", "c0000000000000001", conversation.Assigned, "alice"))
	b.putMessages(t, "acme", "c0000000000000001", 2)
	a.putConvs(t, conv("globex", "c0000000000000002", conversation.Unassigned, ""))
	r.setOwns("b", func(tn string) bool { return tn == "acme" })
	r.setOwns("a", func(tn string) bool { return tn == "globex" })
	r.claim("b", 0)
	r.claim("a", 1)

	var direct, viaA map[string]any
	b.getJSON(t, "/v1/conversations/c0000000000000001", aliceToken, &direct)
	a.getJSON(t, "/v1/conversations/c0000000000000001", aliceToken, &viaA)
	if dj, aj := mustJSON(t, direct), mustJSON(t, viaA); dj != aj {
		t.Fatalf("through a: %s\nfrom the owner b: %s", aj, dj)
	}
	// A command goes to the owner too (its outcome comes to the node that waits for it).
	// (The recorder of these tests gives no outcome: the owner answers 503 outcome_unknown after its timeout.)
	a.do(t, http.MethodPost, "/v1/conversations/c0000000000000001/notes", aliceToken, `{"text":"hi"}`)
	if len(a.prod.records()) != 0 || len(b.prod.records()) != 1 {
		t.Fatalf("the command through a was produced %d times by a and %d by b, want only by the owner b",
			len(a.prod.records()), len(b.prod.records()))
	}
	// Another tenant's ids are 404 on every node, owner or not.
	wantError(t, "globex's admin reads acme's c1 on a", a.do(t, http.MethodGet, "/v1/conversations/c0000000000000001", daveToken, ""),
		http.StatusNotFound, conversation.CodeNotFound)
	wantError(t, "acme's operator reads globex's g1 through a", a.do(t, http.MethodGet, "/v1/conversations/c0000000000000002", aliceToken, ""),
		http.StatusNotFound, conversation.CodeNotFound)
	wantError(t, "acme's operator reads globex's g1 on b", b.do(t, http.MethodGet, "/v1/conversations/c0000000000000002", aliceToken, ""),
		http.StatusNotFound, conversation.CodeNotFound)
	// globex's own call on b is forwarded to a, which holds g1.
	var g map[string]any
	b.getJSON(t, "/v1/conversations/c0000000000000002", daveToken, &g)
	if g["id"] != "c0000000000000002" {
		t.Fatalf("globex's g1 through b: %v", g)
	}
	// A wrong token is refused by the node it reaches, never forwarded.
	wantError(t, "unknown token on a", a.do(t, http.MethodGet, "/v1/conversations/c0000000000000001", "nope-nope-nope", ""),
		http.StatusUnauthorized, "unauthorized")
}

func TestForwardRetriesOnTheNewOwnerAfter421(t *testing.T) {
	r := startRing(t)
	a, b := r.nodes["a"], r.nodes["b"]
	b.putConvs(t, conv("acme", "c0000000000000001", conversation.Assigned, "alice"))
	// The table says c owns acme, but c lost it: it answers 421, and the rebalance's record (b, newer generation)
	// arrives as c refuses.
	var refused atomic.Int32
	r.setOwns("c", func(tn string) bool {
		if refused.Add(1) == 1 {
			r.claim("b", 0)
		}
		return false
	})
	r.setOwns("b", func(tn string) bool { return tn == "acme" })
	r.claim("c", 0)
	var got map[string]any
	a.getJSON(t, "/v1/conversations/c0000000000000001", aliceToken, &got)
	if got["id"] != "c0000000000000001" || refused.Load() != 1 {
		t.Fatalf("through a after c's 421: %v, c refused %d times", got, refused.Load())
	}

	// Nobody owns it any more: a forwards to b, which refuses, then the tries end with 503 and Retry-After.
	r.setOwns("b", func(string) bool { return false })
	resp := a.do(t, http.MethodGet, "/v1/conversations/c0000000000000001", aliceToken, "")
	wantError(t, "every owner refuses", resp, http.StatusServiceUnavailable, "owner_unavailable")
	if resp.header.Get("Retry-After") == "" {
		t.Error("owner_unavailable without Retry-After")
	}
	// A direct call to a node that owns nothing is its own (not a forward): served from its store, as before.
	if got := b.do(t, http.MethodGet, "/v1/conversations/c0000000000000001", aliceToken, ""); got.status != http.StatusOK {
		t.Fatalf("b's own call: %s", got)
	}
}

func TestForgedForwardsAreRefused(t *testing.T) {
	r := startRing(t)
	b := r.nodes["b"]
	b.putConvs(t, conv("acme", "c0000000000000001", conversation.Assigned, "alice"))
	r.setOwns("b", func(tn string) bool { return tn == "acme" })
	ident := `{"tenant":"acme","operator":"alice"}`
	sign := func(secret, method, uri, identity string, at time.Time) string {
		return cluster.Sign([]byte(secret), cluster.Signed{Method: method, RequestURI: uri, Identity: identity, From: "a"}, at)
	}
	hdr := func(sig, identity string) map[string]string {
		return map[string]string{cluster.HeaderForward: sig, cluster.HeaderIdentity: identity, cluster.HeaderFrom: "a"}
	}
	good := sign(clusterSecret, "GET", "/v1/conversations/c0000000000000001", ident, now)
	if got := b.send(t, http.MethodGet, "/v1/conversations/c0000000000000001", hdr(good, ident), ""); got.status != http.StatusOK {
		t.Fatalf("a well-signed forward: %s", got)
	}
	cases := map[string]map[string]string{
		"replayed":           hdr(good, ident),
		"unsigned":           {cluster.HeaderIdentity: ident, cluster.HeaderForward: "x"},
		"wrong secret":       hdr(sign("another", "GET", "/v1/conversations/c0000000000000001", ident, now), ident),
		"old":                hdr(sign(clusterSecret, "GET", "/v1/conversations/c0000000000000001", ident, now.Add(-time.Minute)), ident),
		"altered identity":   hdr(sign(clusterSecret, "GET", "/v1/conversations/c0000000000000001", ident, now), `{"tenant":"acme","operator":"bob"}`),
		"another path":       hdr(sign(clusterSecret, "GET", "/v1/conversations/c0000000000000003", ident, now), ident),
		"identity of no one": hdr(sign(clusterSecret, "GET", "/v1/conversations/c0000000000000001", `{}`, now), `{}`),
	}
	for name, h := range cases {
		wantError(t, name, b.send(t, http.MethodGet, "/v1/conversations/c0000000000000001", h, ""), http.StatusUnauthorized, "forward_refused")
	}
	// Signed for globex's admin: acme's conversation stays 404 (the owner applies the identity's tenant).
	gi := `{"tenant":"globex","operator":"dave"}`
	r.setOwns("b", func(string) bool { return true })
	wantError(t, "globex's identity reads acme's c1", b.send(t, http.MethodGet, "/v1/conversations/c0000000000000001",
		hdr(sign(clusterSecret, "GET", "/v1/conversations/c0000000000000001", gi, now), gi), ""), http.StatusNotFound, conversation.CodeNotFound)
	// A forward for a tenant the node does not own is 421.
	r.setOwns("b", func(string) bool { return false })
	wantError(t, "not the owner", b.send(t, http.MethodGet, "/v1/conversations/c0000000000000001",
		hdr(sign(clusterSecret, "GET", "/v1/conversations/c0000000000000001", ident, now), ident), ""), http.StatusMisdirectedRequest, "not_owner")
}
