package tenant

// Removing a channel (README "Channels"): the channel leaves the configuration as a deleted record, so every node's
// directory drops it — its webhooks are then refused like an unknown number's (404), and nothing is produced for
// them. Its conversations stay (their history is the tenant's); replies on them are refused by the API, and send jobs
// already queued fail with a reason naming the removed channel (actors/sender).

import "slices"

// deleteChannel removes channel c.ID from t.
func deleteChannel(t *Tenant, c *ChannelChange) error {
	i := slices.IndexFunc(t.Channels, func(x Channel) bool { return x.ID == c.ID })
	if i < 0 {
		return &Refusal{Code: CodeChannelNotFound, Message: "no channel " + c.ID}
	}
	if c.Create || c.Type != "" || c.PhoneNumberID != "" || c.Name != nil || c.AppSecret != nil || c.VerifyToken != nil ||
		c.AccessToken != nil || c.RateLimit != nil || c.WABAID != nil || c.Disabled != nil {
		return invalid("delete", "a removal changes nothing else of the channel")
	}
	t.Channels = slices.Delete(t.Channels, i, i+1)
	t.RemovedChannels = append(t.RemovedChannels, c.ID)
	return nil
}

// ChannelIDs are the ids of t's channels, then of the channels removed from it: every channel a conversation of t
// may be on.
func (t *Tenant) ChannelIDs() []string {
	out := make([]string, 0, len(t.Channels)+len(t.RemovedChannels))
	for i := range t.Channels {
		out = append(out, t.Channels[i].ID)
	}
	return append(out, t.RemovedChannels...)
}
