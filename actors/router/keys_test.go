package router

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/switchboard-hq/switchboard/actors/store"
)

// keyCounter is a store.Replicator that counts the replicated writes of each batch by the kind of their key (the
// letter after "t/<tenant>/"; "q" for the outbox). It sees every key a persist writes but the node-local ones
// (the timer index z/, scrub marks e/), which no change of issue 15 touches.
type keyCounter struct {
	mu     sync.Mutex
	total  int
	byKind map[string]int
}

func (k *keyCounter) Replicate(_ int, changes []store.Change, done func(int64, error)) {
	k.mu.Lock()
	for _, c := range changes {
		k.total++
		kind := "q"
		if rest, ok := strings.CutPrefix(string(c.Key), "t/"); ok {
			if _, after, ok := strings.Cut(rest, "/"); ok && after != "" {
				kind = after[:1]
			}
		}
		k.byKind[kind]++
	}
	k.mu.Unlock()
	done(0, nil)
}

// take returns the writes counted since the last take, and their breakdown by kind.
func (k *keyCounter) take() (int, map[string]int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	n, by := k.total, k.byKind
	k.total, k.byKind = 0, map[string]int{}
	return n, by
}

// keysPerStep runs a customer's life as the standard bench drives it (customer i's first message with the bench's
// profile name and text, an operator's reply, the channel's answer to it, its status, a second customer message and
// the close) for customers conversations, and returns the mean keys written per step kind and their breakdown.
func keysPerStep(t *testing.T, customers int) (mean map[string]float64, kinds map[string]map[string]float64) {
	kc := &keyCounter{byKind: map[string]int{}}
	h := &harness{t: t, repl: kc}
	t.Cleanup(h.shutdown)
	run := func(cmd string) {
		t.Helper()
		if out, err := h.run(cmd); err != nil || strings.Contains(out, "refused") || strings.Contains(out, "bad command") {
			t.Fatalf("%s: %s %v", cmd, out, err)
		}
	}
	run("setup alice=operator:1000")
	run("online alice")
	sums, bys := map[string]int{}, map[string]map[string]int{}
	step := func(name, cmd string) {
		t.Helper()
		kc.take()
		run(cmd)
		n, by := kc.take()
		sums[name] += n
		if bys[name] == nil {
			bys[name] = map[string]int{}
		}
		for k, v := range by {
			bys[name][k] += v
		}
	}
	seq := 0
	for i := range customers {
		cust := fmt.Sprintf("1555%07d", i)
		seq++
		step("customer message (new conversation)", fmt.Sprintf("message %s profile=Customer_%s text=hello_%d", cust, cust, seq))
		off := len(h.log)
		step("reply", "send alice "+cust)
		wamid := fmt.Sprintf("wamid.out.%d", i)
		step("the channel's answer", fmt.Sprintf("delivery %s 2 mr%d.0 wamid=%s", cust, off, wamid))
		step("status", fmt.Sprintf("status %s %s", cust, wamid))
		seq++
		step("customer message (open conversation)", fmt.Sprintf("message %s text=hello_%d", cust, seq))
		step("close", "close alice "+cust)
	}
	mean, kinds = map[string]float64{}, map[string]map[string]float64{}
	for name, n := range sums {
		mean[name] = float64(n) / float64(customers)
		kinds[name] = map[string]float64{}
		for k, v := range bys[name] {
			kinds[name][k] = float64(v) / float64(customers)
		}
	}
	return mean, kinds
}

// TestKeysPerPersist measures the keys each kind of persist writes in the bench's mix and logs them with their
// breakdown by key kind (run with -v to see them; f holds the search postings), and checks that a message writes
// one posting per token of its text, by token only (issue 15):
//
//	GOEXPERIMENT=jsonv2 go test ./actors/router -run TestKeysPerPersist -v
func TestKeysPerPersist(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mean, kinds := keysPerStep(t, 20)
		names := slices.Sorted(func(yield func(string) bool) {
			for n := range mean {
				if !yield(n) {
					return
				}
			}
		})
		for _, n := range names {
			var parts []string
			for _, k := range slices.Sorted(func(yield func(string) bool) {
				for k := range kinds[n] {
					if !yield(k) {
						return
					}
				}
			}) {
				parts = append(parts, fmt.Sprintf("%s=%.1f", k, kinds[n][k]))
			}
			t.Logf("%-40s %5.1f keys (%s)", n, mean[n], strings.Join(parts, " "))
			// A posting is written once, by token (issue 15): none conversation first.
			if g := kinds[n]["g"]; g > 0 {
				t.Errorf("%s writes %.1f conversation-first postings", n, g)
			}
		}
		// "hello <n>" has at most two tokens ("hello", and n from 10 on): one posting each.
		if f := kinds["customer message (open conversation)"]["f"]; f > 2 {
			t.Errorf("a customer message writes %.1f postings, want at most 2", f)
		}
	})
}
