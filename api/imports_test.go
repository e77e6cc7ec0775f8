package api_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The API is an edge that any node could serve: it reads state through Reader, in its own terms, and links neither
// the store (Pebble), nor the actors (hollywood), nor Kafka (docs/design.md, "The product layer"). This checks what
// a build of package api links, as `go list -deps` reports it.
func TestAPILinksNoStoreNorActors(t *testing.T) {
	const module = "github.com/switchboard-hq/switchboard/"
	// allowed are the project packages the API may depend on: the domain, the outcome registry, the tenant
	// directory, the inbox record and the address rule of outgoing requests (api/egress, standard library only), and
	// the domain's own standard-library leaves (the binary fields of ingest/wire, the JSON appenders).
	allowed := []string{"api", "actors/conversation", "actors/operator", "actors/routing", "actors/refusal",
		"actors/outcome", "actors/tenant", "ingest/inbox", "ingest/wire", "api/live", "actors/canned",
		"actors/template", "actors/contact", "actors/search", "actors/audit", "actors/jsonappend", "api/egress",
		"api/cluster"}
	// forbidden are the third-party modules that belong to the store, the actors and the broker.
	forbidden := []string{"github.com/cockroachdb/", "github.com/anthdm/hollywood", "github.com/segmentio/kafka-go",
		"github.com/twmb/franz-go"}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the API's dependencies: %v", err)
	}
	out, err := exec.Command(goBin, "list", "-deps", module+"api").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, module+"api") {
		t.Fatalf("go list did not list the api package itself: %s", out)
	}
	for _, d := range deps {
		if rest, ok := strings.CutPrefix(d, module); ok && !slices.Contains(allowed, rest) {
			t.Errorf("api links %s; it may link only %s of the project", d, strings.Join(allowed, ", "))
		}
		for _, f := range forbidden {
			if strings.HasPrefix(d, f) {
				t.Errorf("api links %s (%s…)", d, f)
			}
		}
	}
}
