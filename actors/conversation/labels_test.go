package conversation

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// With a labels catalogue (Policy.Labels) a label added must be in it; one already on the conversation, and any
// label removed, is allowed, so a label removed from the catalogue can still be taken off.
func TestLabelsCatalogue(t *testing.T) {
	base := smUnassigned(t)
	base.Labels = []string{"legacy"}
	cat := Policy{Labels: []string{"vip", "billing"}}
	for _, tc := range []struct {
		name       string
		p          Policy
		add, rm    []string
		code       string
		wantLabels []string
	}{
		{"no catalogue: any label", Policy{}, []string{"anything"}, nil, "", []string{"anything", "legacy"}},
		{"in the catalogue", cat, []string{"vip"}, nil, "", []string{"legacy", "vip"}},
		{"outside the catalogue", cat, []string{"vip", "gold"}, nil, CodeUnknownLabel, nil},
		{"remove one outside the catalogue", cat, nil, []string{"legacy"}, "", nil},
		{"add one it already carries", cat, []string{"legacy", "billing"}, nil, "", []string{"billing", "legacy"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, _, err := ApplyCommand(base, Command{Type: CmdLabels, OperatorID: "bob", AddLabels: tc.add, RemoveLabels: tc.rm}, tc.p, smAt(time.Minute))
			if tc.code != "" {
				var r *Refusal
				if !errors.As(err, &r) || r.Code != tc.code {
					t.Fatalf("err = %v, want %s", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(next.Labels, tc.wantLabels) {
				t.Errorf("labels = %v, want %v", next.Labels, tc.wantLabels)
			}
		})
	}
}
