package routing

import (
	"fmt"
	"testing"
)

func benchOperators(n int) []Operator {
	skills := [][]string{{"en"}, {"en", "fr"}, {"de", "en"}, {"fr"}}
	ops := make([]Operator, n)
	for i := range ops {
		ops[i] = Operator{
			ID:           fmt.Sprintf("op%04d", i),
			Availability: Online,
			Capacity:     5 + i%3,
			Load:         i % 5,
			Skills:       skills[i%len(skills)],
			IdleSince:    int64(i * 7 % 13),
		}
	}
	return ops
}

func BenchmarkPick(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("operators=%d", n), func(b *testing.B) {
			ops := benchOperators(n)
			w := Waiting{ConversationID: "c1", Skills: []string{"en"}, LastOperator: "op0003"}
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := Pick(ops, w, Policy{Sticky: true}); !ok {
					b.Fatal("nobody picked")
				}
			}
		})
	}
}

// BenchmarkEnqueueReleased measures the dispatcher's steady state under load: every operator is full and a queue
// waits; each iteration closes the oldest assigned conversation (its place goes to the queue's head at once) and a
// new conversation arrives at the tail. With queue=0 operators have room: each arrival is assigned at once and then
// closed.
func BenchmarkEnqueueReleased(b *testing.B) {
	const operators, capacity = 100, 5
	for _, waiting := range []int{0, 100, 10000} {
		b.Run(fmt.Sprintf("queue=%d", waiting), func(b *testing.B) {
			d := New(Policy{})
			for i := range operators {
				o := Operator{ID: fmt.Sprintf("op%04d", i), Availability: Online, Capacity: capacity,
					Skills: []string{"en"}}
				if _, err := d.UpsertOperator(o); err != nil {
					b.Fatal(err)
				}
			}
			held := operators * capacity
			if waiting == 0 {
				held = 0
			}
			// ids is a ring: assigned conversations in the order they were assigned, then waiting ones in queue
			// order. Closed conversations arrive again under the same id, so the loop allocates no strings.
			ids := make([]string, max(held+waiting, 1))
			for i := range ids {
				ids[i] = fmt.Sprintf("c%06d", i)
			}
			var at int64
			en := []string{"en"}
			arrive := func(id string) []Assignment {
				at++
				as, err := d.Enqueue(Waiting{ConversationID: id, EnqueuedAt: at, Skills: en})
				if err != nil {
					b.Fatal(err)
				}
				return as
			}
			for _, id := range ids[:held+waiting] {
				arrive(id)
			}
			if len(d.Queue()) != waiting {
				b.Fatalf("queue %d, want %d", len(d.Queue()), waiting)
			}
			oldest := 0
			b.ReportAllocs()
			for b.Loop() {
				if waiting == 0 {
					id := ids[oldest]
					oldest = (oldest + 1) % len(ids)
					if as := arrive(id); len(as) != 1 {
						b.Fatalf("arrival not assigned: %v", as)
					}
					d.Released(id, at)
					continue
				}
				at++
				if as := d.Released(ids[oldest], at); len(as) != 1 {
					b.Fatalf("close assigned %v", as)
				}
				if as := arrive(ids[oldest]); len(as) != 0 {
					b.Fatalf("arrival assigned %v", as)
				}
				oldest = (oldest + 1) % len(ids)
			}
		})
	}
}
