package main_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/meta"
)

const (
	cfgPhone  = "700800960"
	cfgSecret = "cfg-app-secret"
	cfgAda    = "cfg-ada-token-000000001" // admin
	cfgBo     = "cfg-bo-token-0000000001" // operator, capacity 1
	configY   = `tenants:
  - id: cfg
    channels:
      - id: cfg-wa
        type: whatsapp
        phone_number_id: "` + cfgPhone + `"
        app_secret: "` + cfgSecret + `"
        verify_token: "cfg-verify"
        access_token: "cfg-access"
    operators:
      - id: ada
        role: admin
        token: "` + cfgAda + `"
      - id: bo
        capacity: 1
        token: "` + cfgBo + `"
`
)

type opView struct {
	ID           string   `json:"id"`
	Role         string   `json:"role"`
	Capacity     int      `json:"capacity"`
	Availability string   `json:"availability"`
	Skills       []string `json:"skills"`
	Load         *int     `json:"load"`
}

func (n *node) operator(id string) opView {
	n.t.Helper()
	var v opView
	if err := json.Unmarshal(n.mustCall("GET", "/v1/operators/"+id, cfgAda, nil, 200), &v); err != nil {
		n.t.Fatal(err)
	}
	return v
}

func (n *node) settings() map[string]any {
	n.t.Helper()
	var v map[string]any
	if err := json.Unmarshal(n.mustCall("GET", "/v1/settings", cfgAda, nil, 200), &v); err != nil {
		n.t.Fatal(err)
	}
	return v
}

// TestConfigurationAtRuntime changes a tenant's configuration through the API with no restart — routing to manual
// and back, an operator's capacity after the operator changed their availability (the change the stored state used
// to shadow), a new WhatsApp number that receives a signed webhook at once, a rotated app secret — then restarts the
// node with an edited YAML file: the configuration topic wins, and every difference is logged once, naming the
// field (no silent shadowing).
func TestConfigurationAtRuntime(t *testing.T) {
	n := newNodeConfig(t, configY)
	n.start()
	webhook := func(phone, secret, from, wamid string) int {
		t.Helper()
		body := meta.Payload(meta.Change{PhoneNumberID: phone, Messages: []meta.Message{textMsg(from, wamid, "hello", time.Now().Unix())}})
		return n.post(body, secret)
	}
	waitIn := func(query, id string) {
		t.Helper()
		eventually.True(t, 10*time.Second, 20*time.Millisecond, func() bool {
			return slices.Contains(n.listIDs(cfgAda, query), id)
		}, "%s in %s", id, query)
	}

	// Seeded from the YAML file: the settings have their defaults, version 4 (settings, one channel, two operators: one record each).
	if s := n.settings(); s["routing"] != "auto" || s["version"] != float64(4) {
		t.Fatalf("settings = %v", s)
	}
	n.mustCall("PUT", "/v1/operators/me/availability", cfgBo, map[string]string{"availability": "online"}, 200)

	// Routing manual: a conversation waits while Bo, online, has room; back to auto it is offered to him at once.
	b := n.mustCall("PATCH", "/v1/settings", cfgAda, map[string]string{"routing": "manual"}, 200)
	if !strings.Contains(string(b), `"routing":"manual"`) {
		t.Fatalf("PATCH settings answered %s", b)
	}
	if s := n.settings(); s["routing"] != "manual" {
		t.Fatalf("the next read on this node does not see the change: %v", s)
	}
	first := conversation.ID("cfg-wa", "27840000001")
	if code := webhook(cfgPhone, cfgSecret, "27840000001", "wamid.cfg-1"); code != 200 {
		t.Fatalf("webhook: %d", code)
	}
	waitIn("status=unassigned", first)
	n.refused("PATCH", "/v1/settings", cfgAda, map[string]string{"routing": "round-robin"}, 400, "invalid_setting")
	n.refused("PATCH", "/v1/settings", cfgBo, map[string]string{"routing": "auto"}, 403, "forbidden")
	n.mustCall("PATCH", "/v1/settings", cfgAda, map[string]string{"routing": "auto"}, 200)
	waitIn("status=assigned&assignee=bo", first)

	// Capacity: Bo is full (1/1); a second conversation waits until the admin gives him a second place. Bo changed
	// his availability above, so his stored state exists: it must not shadow the new capacity.
	second := conversation.ID("cfg-wa", "27840000002")
	if code := webhook(cfgPhone, cfgSecret, "27840000002", "wamid.cfg-2"); code != 200 {
		t.Fatalf("webhook: %d", code)
	}
	waitIn("status=unassigned", second)
	n.mustCall("PATCH", "/v1/operators/bo", cfgAda, map[string]any{"capacity": 3, "skills": []string{"billing"}}, 200)
	waitIn("status=assigned&assignee=bo", second)
	if o := n.operator("bo"); o.Capacity != 3 || o.Availability != "online" || !slices.Equal(o.Skills, []string{"billing"}) {
		t.Fatalf("bo = %+v", o)
	}
	n.refused("PATCH", "/v1/operators/ada", cfgAda, map[string]string{"role": "operator"}, 409, "last_admin")
	n.refused("PATCH", "/v1/operators/bo", cfgBo, map[string]int{"capacity": 9}, 403, "forbidden")

	// A new WhatsApp number: its signed webhooks are accepted at once and open a conversation on it.
	const newPhone, newSecret = "700800961", "cfg-second-secret"
	if code := webhook(newPhone, newSecret, "27840000003", "wamid.cfg-3"); code != 404 && code != 401 {
		t.Fatalf("webhook to a number not yet added: %d", code)
	}
	b = n.mustCall("POST", "/v1/channels", cfgAda, map[string]string{"id": "cfg-wa-2", "phone_number_id": newPhone,
		"app_secret": newSecret, "verify_token": "cfg-verify-2", "access_token": "cfg-access-2"}, 201)
	if strings.Contains(string(b), newSecret) || strings.Contains(string(b), "cfg-access-2") {
		t.Fatalf("the channel's answer shows a secret: %s", b)
	}
	third := conversation.ID("cfg-wa-2", "27840000003")
	if code := webhook(newPhone, newSecret, "27840000003", "wamid.cfg-3b"); code != 200 {
		t.Fatalf("webhook to the new number: %d", code)
	}
	waitIn("status=assigned&assignee=bo", third)
	// Rotating its app secret: the old one is refused from the answer on, the new one accepted.
	n.mustCall("PATCH", "/v1/channels/cfg-wa-2", cfgAda, map[string]string{"app_secret": "cfg-rotated-secret"}, 200)
	if code := webhook(newPhone, newSecret, "27840000004", "wamid.cfg-4"); code != 401 {
		t.Fatalf("webhook signed with the old secret: %d, want 401", code)
	}
	if code := webhook(newPhone, "cfg-rotated-secret", "27840000004", "wamid.cfg-4b"); code != 200 {
		t.Fatalf("webhook signed with the rotated secret: %d", code)
	}
	code, body := n.get("/v1/channels", cfgAda)
	if code != 200 || strings.Contains(string(body), "rotated") || !strings.Contains(string(body), `"has_app_secret":true`) {
		t.Fatalf("GET /v1/channels = %d %s", code, body)
	}
	if strings.Contains(n.logs.String(), "cfg-rotated-secret") || strings.Contains(n.logs.String(), newSecret) {
		t.Fatal("a channel secret is in the node's log")
	}

	// A new token for Bo: the old one is refused at once, the new one works; neither is answered or logged.
	const boNew = "cfg-bo-token-rotated-01"
	b = n.mustCall("PATCH", "/v1/operators/bo", cfgAda, map[string]string{"token": boNew}, 200)
	if strings.Contains(string(b), boNew) || strings.Contains(n.logs.String(), boNew) {
		t.Fatalf("the new token is answered or logged: %s", b)
	}
	if code, _ := n.get("/v1/operators/me", cfgBo); code != 401 {
		t.Fatalf("bo's old token after the rotation: %d, want 401", code)
	}
	if code, _ := n.get("/v1/operators/me", boNew); code != 200 {
		t.Fatalf("bo's new token: %d", code)
	}

	// Restart with an edited YAML file: Bo's capacity 5, routing manual, and the channel's access token changed.
	n.stop()
	edited := strings.Replace(configY, "capacity: 1", "capacity: 5", 1)
	edited = strings.Replace(edited, "  - id: cfg\n", "  - id: cfg\n    settings:\n      routing: manual\n", 1)
	edited = strings.Replace(edited, "cfg-access", "cfg-access-edited", 1)
	writeConfig(t, n, edited)
	n.start()
	// The topic wins: capacity 3 (set through the API), routing auto, the added channel still there.
	if o := n.operator("bo"); o.Capacity != 3 || o.Availability != "online" {
		t.Fatalf("after the restart bo = %+v, want the topic's capacity 3", o)
	}
	if s := n.settings(); s["routing"] != "auto" {
		t.Fatalf("after the restart settings = %v, want the topic's routing auto", s)
	}
	// The YAML file still has Bo's old token: the topic's wins, so the old token stays refused.
	if code, _ := n.get("/v1/operators/me", cfgBo); code != 401 {
		t.Fatalf("bo's old token (still in the YAML file) after the restart: %d, want 401", code)
	}
	if code, _ := n.get("/v1/operators/me", boNew); code != 200 {
		t.Fatalf("bo's new token after the restart: %d", code)
	}
	if code := webhook(newPhone, "cfg-rotated-secret", "27840000005", "wamid.cfg-5"); code != 200 {
		t.Fatalf("webhook to the added number after the restart: %d", code)
	}
	// No silent shadowing: each difference is logged, naming the tenant, item, field and both values; a secret is
	// named, never shown.
	logs := n.logs.String()
	for _, want := range []string{
		"config: tenant cfg operator bo capacity: YAML says 5, the configuration topic says 3",
		"config: tenant cfg settings routing: YAML says manual, the configuration topic says auto",
		"config: tenant cfg channel cfg-wa access_token: YAML says (a secret), the configuration topic says (another secret)",
		"config: tenant cfg operator bo token: YAML says (a secret)",
		"the topic wins",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log does not say %q", want)
		}
	}
	if strings.Contains(logs, "cfg-access-edited") {
		t.Error("the edited access token is in the log")
	}
	// And a change through the API still applies after the restart (Bo's stored availability shadows nothing).
	n.mustCall("PATCH", "/v1/operators/bo", cfgAda, map[string]int{"capacity": 4}, 200)
	if o := n.operator("bo"); o.Capacity != 4 {
		t.Fatalf("bo = %+v after raising the capacity to 4", o)
	}
}

// TestConfigurationReachesEveryNode: a channel added through node A (all roles, with the embedded broker) is seen by
// node B (ingest only, on A's broker) through its configuration watcher: B accepts the new number's signed webhooks
// once its directory has the record, without a restart. The test logs how long that took after A answered (the
// watcher's lag plus the webhook's round trip; README, "Configuration at runtime").
func TestConfigurationReachesEveryNode(t *testing.T) {
	a := newNodeConfig(t, configY)
	a.start()
	b := newNodeConfig(t, configY, "--kafka-brokers", a.kafka, "--roles", "ingest")
	b.start()
	const phone, secret = "700800962", "cfg-third-secret"
	body := meta.Payload(meta.Change{PhoneNumberID: phone, Messages: []meta.Message{textMsg("27840000009", "wamid.cfg-9", "hi", time.Now().Unix())}})
	if code := b.post(body, secret); code == 200 {
		t.Fatalf("node B accepted a webhook for a number nobody added")
	}
	a.mustCall("POST", "/v1/channels", cfgAda, map[string]string{"id": "cfg-wa-3", "phone_number_id": phone,
		"app_secret": secret, "verify_token": "cfg-verify-3"}, 201)
	answered := time.Now()
	eventually.True(t, 10*time.Second, 5*time.Millisecond, func() bool { return b.post(body, secret) == 200 },
		"node B accepts the new number's webhook")
	t.Logf("node B applied the change %v after node A answered", time.Since(answered).Round(time.Millisecond))
	// B's webhook reached A's router through the shared inbox: the conversation exists.
	eventually.True(t, 10*time.Second, 20*time.Millisecond, func() bool {
		return slices.Contains(a.listIDs(cfgAda, "status=unassigned"), conversation.ID("cfg-wa-3", "27840000009"))
	}, "the conversation B ingested")
	// How long a change takes to answer on A: the command's round trip through the inbox and the tenant actor, the
	// outbox relay to switchboard.config and A's own watcher (the answer waits for it).
	var took []time.Duration
	for i := range 9 {
		start := time.Now()
		a.mustCall("PATCH", "/v1/settings", cfgAda, map[string]string{"auto_close_after": []string{"1h", "2h"}[i%2]}, 200)
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	t.Logf("PATCH /v1/settings answered in %v (median of 9; min %v, max %v)", took[4].Round(100*time.Microsecond),
		took[0].Round(100*time.Microsecond), took[8].Round(100*time.Microsecond))
	// B seeded nothing: the tenant was in the topic already, and the YAML files agree.
	if strings.Contains(b.logs.String(), "seeding tenant") || strings.Contains(b.logs.String(), "the topic wins") {
		t.Errorf("node B seeded or found differences:\n%s", b.logs)
	}
}

// TestConfigurationSurvivesKill9: a change answered is durable — after a kill -9 the node starts with it, and the
// router routes by it (Bo's raised capacity takes a second conversation).
func TestConfigurationSurvivesKill9(t *testing.T) {
	n := newNodeConfig(t, configY)
	n.start()
	n.mustCall("PUT", "/v1/operators/me/availability", cfgBo, map[string]string{"availability": "online"}, 200)
	n.mustCall("PATCH", "/v1/operators/bo", cfgAda, map[string]int{"capacity": 2}, 200)
	n.kill()
	n.start()
	if o := n.operator("bo"); o.Capacity != 2 || o.Availability != "online" {
		t.Fatalf("after kill -9 bo = %+v, want capacity 2, online", o)
	}
	for i, from := range []string{"27840000021", "27840000022"} {
		body := meta.Payload(meta.Change{PhoneNumberID: cfgPhone, Messages: []meta.Message{textMsg(from, "wamid.k9-"+from, "hi", time.Now().Unix())}})
		if code := n.post(body, cfgSecret); code != 200 {
			t.Fatalf("webhook %d: %d", i, code)
		}
	}
	eventually.True(t, 10*time.Second, 20*time.Millisecond, func() bool {
		return len(n.listIDs(cfgAda, "status=assigned&assignee=bo")) == 2
	}, "both conversations assigned to bo (capacity 2)")
	// The one difference from the YAML file, Bo's capacity, is logged at the start after the kill, and nothing else.
	if got := strings.Count(n.logs.String(), "the topic wins"); got != 1 ||
		!strings.Contains(n.logs.String(), "operator bo capacity: YAML says 1, the configuration topic says 2") {
		t.Errorf("%d differences logged, want only bo's capacity:\n%s", got, n.logs)
	}
}
