package timers

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-hq/switchboard/actors/ownership"
	"github.com/switchboard-hq/switchboard/actors/store"
	"github.com/switchboard-hq/switchboard/actors/store/storetest"
)

// TestFencedFirerFiresOnlyOwnedPartitions: with an ownership table, due timers of a tenant whose partition the node
// does not own (or owns but has not restored yet) are not fired; once it is restored, they are.
func TestFencedFirerFiresOnlyOwnedPartitions(t *testing.T) {
	b := startBroker(t, "127.0.0.1:0", t.TempDir())
	s := storetest.Open(t, store.Config{})
	clk := &clock{now: t0}
	own := ownership.New(2, func(tenant string) int { return map[string]int{"acme": 0, "globex": 1}[tenant] }, time.Hour)
	own.Grant(0, 2)
	own.Activate(0, 2)
	own.Grant(1, 2) // assigned, not restored yet
	f, err := New(Config{Store: s, Producer: newProducer(t, b.Addr()), Now: clk.Now, Owner: own,
		Registerer: prometheus.NewRegistry(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	in := &inboxReader{t: t, addr: b.Addr()}
	putTimers(t, s, key("acme", "c1", "auto_close", t0.Add(-time.Minute)), key("globex", "c3", "reservation", t0.Add(-time.Second)))
	if err := f.Fire(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkFired(t, "globex not restored", fired(t, in.read(), t0), map[string][]string{"acme": {"c1/auto_close@11:59:00.000"}})
	own.Activate(1, 2)
	clk.Set(t0.Add(time.Millisecond))
	if err := f.Fire(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkFired(t, "globex restored", fired(t, in.read(), t0.Add(time.Millisecond)), map[string][]string{"globex": {"c3/reservation@11:59:59.000"}})
}
