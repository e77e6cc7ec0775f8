package scenario

import (
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/bench/load"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/sim"
)

const (
	// appSecret is every bench channel's app secret (the simulator signs its status webhooks with one secret).
	appSecret = "bench-app-secret"
	// metaRate is each number's send limit, in the node's config and in the simulator: Meta's highest tier.
	metaRate = 1000
)

// tenantsConfig returns s's tenants for the generator and the node's YAML config for them.
func tenantsConfig(s shape) ([]load.Tenant, string) {
	var b strings.Builder
	b.WriteString("tenants:\n")
	var out []load.Tenant
	for i := range s.tenants {
		t := load.Tenant{ID: fmt.Sprintf("bench-%d", i), ChannelID: fmt.Sprintf("bench-%d-wa", i),
			PhoneNumberID: fmt.Sprintf("9100000%03d", i), AppSecret: appSecret}
		fmt.Fprintf(&b, "  - id: %s\n    channels:\n      - {id: %s, type: whatsapp, phone_number_id: \"%s\", app_secret: %q, verify_token: \"v\", access_token: \"tok\", rate_limit: %d}\n    operators:\n",
			t.ID, t.ChannelID, t.PhoneNumberID, appSecret, metaRate)
		for k := range s.operators {
			o := load.Operator{ID: fmt.Sprintf("op%d", k), Token: fmt.Sprintf("bench-token-%03d-%06d", i, k)}
			fmt.Fprintf(&b, "      - {id: %s, role: operator, capacity: %d, token: %q}\n", o.ID, s.capacity, o.Token)
			t.Operators = append(t.Operators, o)
		}
		out = append(out, t)
	}
	return out, b.String()
}

// online puts every operator online through the API.
func online(base string, tenants []load.Tenant) error {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	for _, t := range tenants {
		for _, o := range t.Operators {
			req.Reset()
			req.SetRequestURI(base + "/v1/operators/me/availability")
			req.Header.SetMethod(fasthttp.MethodPut)
			req.Header.Set("Authorization", "Bearer "+o.Token)
			req.Header.SetContentType("application/json")
			req.SetBodyString(`{"availability":"online"}`)
			if err := fasthttp.DoTimeout(req, resp, 30*time.Second); err != nil {
				return fmt.Errorf("operator %s/%s online: %w", t.ID, o.ID, err)
			}
			if resp.StatusCode() != fasthttp.StatusOK {
				return fmt.Errorf("operator %s/%s online: %d %s", t.ID, o.ID, resp.StatusCode(), resp.Body())
			}
		}
	}
	return nil
}

// lazyAccept forwards the simulator's OnAccepted hook to the generator of the moment (the simulator starts before
// the generator exists, and one run may use several generators).
type lazyAccept struct {
	g atomic.Pointer[load.Generator]
}

func (l *lazyAccept) accepted(r *sim.Received) {
	if g := l.g.Load(); g != nil {
		g.Accepted(r)
	}
}
