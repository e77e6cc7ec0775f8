package conversation

import (
	"testing"
	"time"
)

func TestRelease(t *testing.T) {
	at := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	base := Conversation{ID: "c1", TenantID: "t", Status: Assigned, AssigneeID: "ann", AssignedAt: at.Add(-time.Minute), Version: 3}

	c, eff := Release(base, "ann", Policy{}, at)
	if c.Status != Unassigned || c.AssigneeID != "" || !c.WaitingSince.Equal(at) || c.Version != 4 {
		t.Errorf("assigned released = %+v", c)
	}
	if len(eff) != 1 || eff[0].Event.Type != EventUnassigned || eff[0].Event.PreviousOperatorID != "ann" || eff[0].Event.HandlingSeconds != 60 {
		t.Errorf("effects = %+v", eff)
	}

	sn := base
	sn.Status, sn.SnoozedUntil = Snoozed, at.Add(time.Hour)
	c, eff = Release(sn, "ann", Policy{}, at)
	if c.Status != Snoozed || c.AssigneeID != "" || c.LastOperatorID != "ann" || len(eff) != 1 {
		t.Errorf("snoozed released = %+v, %+v", c, eff)
	}

	for name, c0 := range map[string]Conversation{
		"other operator": base,
		"unassigned":     {ID: "c1", Status: Unassigned},
		"closed":         {ID: "c1", Status: Closed, LastOperatorID: "ann"},
	} {
		op := "ann"
		if name == "other operator" {
			op = "ben"
		}
		if c, eff := Release(c0, op, Policy{}, at); c.Version != c0.Version || eff != nil {
			t.Errorf("%s: changed: %+v %+v", name, c, eff)
		}
	}
}
