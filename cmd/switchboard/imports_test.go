package main_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The production binary links neither the benchmark suite, nor the simulator, nor the plotting and histogram
// libraries they use: those are the binaries switchboard-bench and switchboard-whatsapp-sim, which `switchboard
// bench` and `switchboard whatsapp-sim` run. This checks what a build of the command links, as `go list -deps`
// reports it.
func TestProductionBinaryIsLean(t *testing.T) {
	const module = "github.com/switchboard-hq/switchboard/"
	forbidden := []string{module + "bench/", module + "ingest/whatsapp/sim", module + "cmd/switchboard-",
		"gonum.org/", "github.com/HdrHistogram/",
		// The console is bundled at build time (web/build.go) and tested with a browser driver: neither is linked.
		"github.com/evanw/esbuild/", "github.com/chromedp/"}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the binary's dependencies: %v", err)
	}
	out, err := exec.Command(goBin, "list", "-deps", module+"cmd/switchboard").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 100 {
		t.Fatalf("go list -deps listed only %d packages: %s", len(deps), out)
	}
	for _, d := range deps {
		for _, f := range forbidden {
			if strings.HasPrefix(d, f) {
				t.Errorf("cmd/switchboard links %s (%s…)", d, f)
			}
		}
	}
}
