package tenant

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// Removing a channel: a deleted record, the channel gone from the tenant and from the topic's fold (every node's
// directory), its id kept among the removed ones; adding it again clears that; refusals change nothing.
func TestRemoveChannel(t *testing.T) {
	at := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	cur := acme(t)
	next, recs, err := ApplyChange(cur, Change{Channel: &ChannelChange{ID: "acme-wa", Delete: true}}, at)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || !recs[0].Deleted || recs[0].Kind != KindChannel || recs[0].ID != "acme-wa" || recs[0].Channel != nil ||
		recs[0].Version != 8 {
		t.Fatalf("records %+v", recs)
	}
	if len(next.Channels) != 0 || !slices.Equal(next.RemovedChannels, []string{"acme-wa"}) || len(cur.Channels) != 1 {
		t.Fatalf("next channels %+v removed %v; cur %+v", next.Channels, next.RemovedChannels, cur.Channels)
	}
	if got := next.ChannelIDs(); !slices.Equal(got, []string{"acme-wa"}) {
		t.Errorf("ChannelIDs = %v", got)
	}
	// A node reading the topic: the seed, then the removal.
	f := NewFold()
	for _, r := range Records(cur, 7, at) {
		f.Add(r)
	}
	f.Add(recs[0])
	folded, _ := f.Tenant("acme")
	if len(folded.Channels) != 0 || !slices.Equal(folded.RemovedChannels, []string{"acme-wa"}) {
		t.Fatalf("folded %+v removed %v", folded.Channels, folded.RemovedChannels)
	}
	// The whole configuration's records (a republish) carry the removal too.
	g := NewFold()
	for _, r := range Records(cur, 7, at) {
		g.Add(r)
	}
	for _, r := range Records(next, 8, at) {
		g.Add(r)
	}
	if again, _ := g.Tenant("acme"); len(again.Channels) != 0 || !slices.Equal(again.RemovedChannels, []string{"acme-wa"}) {
		t.Fatalf("republished: %+v removed %v", again.Channels, again.RemovedChannels)
	}

	// Added again (the same number): a channel again, no longer removed.
	back, recs2, err := ApplyChange(next, Change{Channel: &ChannelChange{ID: "acme-wa", Create: true, PhoneNumberID: "100",
		AppSecret: ptr("s2"), VerifyToken: ptr("v2")}}, at)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Channels) != 1 || len(back.RemovedChannels) != 0 || recs2[0].Deleted {
		t.Fatalf("added again: %+v removed %v", back.Channels, back.RemovedChannels)
	}
	f.Add(recs2[0])
	if folded, _ := f.Tenant("acme"); len(folded.Channels) != 1 || len(folded.RemovedChannels) != 0 {
		t.Fatalf("folded after adding again: %+v removed %v", folded.Channels, folded.RemovedChannels)
	}

	for _, tc := range []struct {
		name, code, field string
		ch                ChannelChange
	}{
		{"unknown", CodeChannelNotFound, "", ChannelChange{ID: "nope", Delete: true}},
		{"removed twice", CodeChannelNotFound, "", ChannelChange{ID: "acme-wa", Delete: true}},
		{"removal with a change", CodeInvalidSetting, "delete", ChannelChange{ID: "acme-wa", Delete: true, Disabled: ptr(true)}},
		{"create and remove", CodeInvalidSetting, "delete", ChannelChange{ID: "acme-wa", Delete: true, Create: true}},
	} {
		from := cur
		if tc.name == "removed twice" {
			from = next
		}
		_, recs, err := ApplyChange(from, Change{Channel: &tc.ch}, at)
		var r *Refusal
		if !errors.As(err, &r) || r.Code != tc.code || r.Field != tc.field || recs != nil {
			t.Errorf("%s: err %v records %v, want %s on %q", tc.name, err, recs, tc.code, tc.field)
		}
	}
}
