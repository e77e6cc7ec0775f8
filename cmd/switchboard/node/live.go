package node

import (
	"context"

	"github.com/switchboard-hq/switchboard/api"
	"github.com/switchboard-hq/switchboard/api/live"
	"github.com/switchboard-hq/switchboard/api/livefeed"
)

// startLive builds the feed of GET /v1/events from switchboard.events and gives the API its hub, its sessions (in
// the node's store: a restart does not sign operators out) and the sign-in settings and metrics. The feed runs in the serving stage: it stops with the HTTP server, and closing its hub ends the
// streams at once.
func (n *Node) startLive(ctx context.Context, acfg *api.Config) error {
	feed, err := livefeed.New(ctx, livefeed.Config{Brokers: n.brokers, Hub: live.Config{Registerer: n.reg},
		Logger: n.log})
	if err != nil {
		return err
	}
	n.feed = feed
	acfg.Live = feed.Hub()
	reader := acfg.Reader
	acfg.Counts = func(tenant, operator string) (any, error) { return reader.InboxCounts(tenant, operator) }
	acfg.Registerer = n.reg
	acfg.CookieSecure = n.cfg.CookieSecure
	if n.store != nil {
		if acfg.Sessions, err = StoreSessions(n.store, 0, nil); err != nil {
			return err
		}
	}
	return nil
}
