package main_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/eventually"
)

// conRulesConfig is the console tenant routed automatically, with Bob (skill billing, capacity 1) and Carol (no
// skills) as operators.
const (
	conCarol       = "console-carol-token-0003"
	conRulesConfig = "tenants:\n  - id: acme\n" + conChannelY + "    operators:\n" + conAliceY +
		`      - {id: bob, name: Bob Okafor, role: operator, capacity: 1, token: "` + conBob + `", skills: [billing]}
      - {id: carol, name: Carol Diaz, role: operator, capacity: 5, token: "` + conCarol + `"}
`
)

// TestConsoleLabelsFieldsAndRoutingRules: an admin defines a label, a contact field and a routing rule (the channel
// acme-wa needs the skill billing, priority 10) in Settings, without a restart; then a customer's message is offered
// only to Bob, who has the skill, although Carol came online first and would win every tie; the next customer waits
// for Bob in Unassigned, where the list and the conversation's header show its priority and the skill it needs, and
// the label picker offers the catalogue's labels in their colours.
func TestConsoleLabelsFieldsAndRoutingRules(t *testing.T) {
	n := newNodeConfig(t, conRulesConfig)
	n.start()
	// Carol comes online first: without the rule she would be offered the first conversation (longest idle).
	n.mustCall("PUT", "/v1/operators/me/availability", conCarol, map[string]string{"availability": "online"}, 200)
	n.mustCall("PUT", "/v1/operators/me/availability", conBob, map[string]string{"availability": "online"}, 200)

	b := newBrowser(t)
	b.signIn(n, conAlice, "")

	// Settings → Labels: billing, in blue.
	b.click(`#nav-labels`)
	b.waitJS(`location.pathname === '/settings/labels'`, "the labels page")
	b.setInput(`#label-name`, "billing")
	b.click(`#label-color .swatch[title="#1d4ed8"]`)
	b.setInput(`#label-description`, "Invoices, refunds and payments")
	b.click(`#label-add`)
	b.text(`#labels-notice`, "Label billing added")
	b.waitJS(`document.querySelector('#labels-list [data-label="billing"] .chip.label.known') !== null`, "billing in the catalogue")
	b.setInput(`#label-name`, "vip")
	b.click(`#label-color .swatch[title="#b91c1c"]`)
	b.setInput(`#label-description`, "Pays for priority support")
	b.click(`#label-add`)
	b.text(`#labels-notice`, "Label vip added")
	b.screenshot("settings-labels")

	// Settings → Contact fields: plan, a choice.
	b.click(`#nav-fields`)
	b.waitJS(`location.pathname === '/settings/fields'`, "the contact fields page")
	b.click(`#field-add`)
	b.setInput(`.field-row:last-child .field-key`, "plan")
	b.setInput(`.field-row:last-child .field-label`, "Plan")
	b.setInput(`.field-row:last-child .field-type`, "choice")
	b.setInput(`.field-row:last-child .field-choices`, "basic, premium")
	b.click(`#fields-save`)
	b.text(`#fields-notice`, "Saved")
	b.screenshot("settings-fields")
	var fields struct {
		Fields []struct{ Key, Type string }
	}
	if err := json.Unmarshal(n.mustCall("GET", "/v1/contacts/fields", conBob, nil, 200), &fields); err != nil ||
		len(fields.Fields) != 1 || fields.Fields[0].Key != "plan" || fields.Fields[0].Type != "choice" {
		t.Fatalf("contact fields after saving in the console = %+v (%v)", fields, err)
	}

	// Settings → Routing rules: acme-wa needs billing, priority 10; a second rule on the field (premium: 50).
	b.click(`#nav-rules`)
	b.waitJS(`location.pathname === '/settings/rules'`, "the routing rules page")
	b.click(`#rule-add`)
	b.setInput(`.rule-card:nth-child(1) .rule-name`, "Billing number")
	b.click(`.rule-card:nth-child(1) .cond-add`)
	b.waitJS(`document.querySelector('.rule-card:nth-child(1) .cond-value').value === 'acme-wa'`, "the channel condition")
	b.setInput(`.rule-card:nth-child(1) .rule-skills`, "billing")
	b.setInput(`.rule-card:nth-child(1) .rule-priority`, "10")
	b.click(`#rule-add`)
	b.click(`.rule-card:nth-child(2) .cond-add`)
	b.setInput(`.rule-card:nth-child(2) .cond-kind`, "field")
	b.waitJS(`document.querySelector('.rule-card:nth-child(2) .cond-field') && document.querySelector('.rule-card:nth-child(2) .cond-field').value === 'plan'`, "the field condition")
	b.setInput(`.rule-card:nth-child(2) .cond-value`, "premium")
	b.setInput(`.rule-card:nth-child(2) .rule-priority`, "50")
	b.click(`#rules-save`)
	b.text(`#rules-notice`, "Saved")
	b.screenshot("settings-rules")
	var rules struct {
		Rules []struct {
			Name   string
			Skills []string
			When   []struct{ Channel, Field string }
		}
	}
	if err := json.Unmarshal(n.mustCall("GET", "/v1/routing/rules", conAlice, nil, 200), &rules); err != nil ||
		len(rules.Rules) != 2 || rules.Rules[0].When[0].Channel != "acme-wa" || !slices.Equal(rules.Rules[0].Skills, []string{"billing"}) ||
		rules.Rules[1].When[0].Field != "plan" {
		t.Fatalf("rules after saving in the console = %s", n.mustCall("GET", "/v1/routing/rules", conAlice, nil, 200))
	}

	// A customer writes: offered to Bob, who has billing, not to Carol.
	at := time.Now()
	customerWrites(t, n, named("15550101001", "Dora Silva", "wamid.rules-1", "My invoice is wrong", at))
	first := waitConversationOf(t, n, "15550101001", func(c ruleConv) bool { return c.Status == "assigned" })
	if first.AssigneeID != "bob" || first.Priority != 10 || !slices.Equal(first.RequiredSkills, []string{"billing"}) {
		t.Fatalf("the first conversation = %+v, want assigned to bob with priority 10 needing billing", first)
	}
	// The next customer waits for Bob (full); Carol, free, is not offered it.
	customerWrites(t, n, named("15550101002", "Emil Novak", "wamid.rules-2", "Refund please", at.Add(time.Second)))
	second := waitConversationOf(t, n, "15550101002", func(c ruleConv) bool { return c.Priority == 10 })
	if second.Status != "unassigned" || second.AssigneeID != "" {
		t.Fatalf("the second conversation = %+v, want it waiting for billing", second)
	}

	// Unassigned shows its priority and skill; the header too; the label picker offers the catalogue.
	b.click(`#tab-unassigned`)
	b.text(`#conv-list .row-name`, "Emil Novak")
	b.waitJS(`[...document.querySelectorAll('#conv-list .row')].some(r => r.innerText.includes('Emil Novak') && r.querySelector('.chip.prio') && r.querySelector('.chip.prio').innerText === 'P10' && r.querySelector('.chip.skill').innerText === 'needs billing')`,
		"the waiting row's priority and skill")
	b.openRow("Emil Novak")
	b.text(`#conv-priority`, "P10")
	b.text(`#conv-skills`, "needs billing")
	b.text(`#fact-priority`, "10")
	b.text(`#fact-skills`, "billing")
	b.waitJS(`[...document.querySelectorAll('#label-select option')].map(o => o.value).join() === ',billing,vip'`, "the catalogue's labels in the picker")
	b.setInput(`#label-select`, "vip")
	b.waitJS(`(() => { const c = document.querySelector('#labels .chip.label.known[data-label="vip"]'); return c && getComputedStyle(c).getPropertyValue('--lc').trim() === '#b91c1c'; })()`,
		"the vip label in its colour")
	b.screenshotWithoutToast("conversation-priority-skills")

	// Carol stays without it; it is Bob's once he closes Dora's conversation.
	if c := conversationOf(t, n, "15550101002"); c.Status != "unassigned" || !slices.Contains(c.Labels, "vip") {
		t.Fatalf("the second conversation after labelling = %+v", c)
	}
	n.mustCall("POST", "/v1/conversations/"+first.ID+"/close", conBob, map[string]any{}, 200)
	if c := waitConversationOf(t, n, "15550101002", func(c ruleConv) bool { return c.Status == "assigned" }); c.AssigneeID != "bob" {
		t.Fatalf("the second conversation = %+v, want bob's", c)
	}
	// With a catalogue, a label outside it is refused.
	n.refused("POST", "/v1/conversations/"+second.ID+"/labels", conBob, map[string]any{"add": []string{"gold"}}, 400, "unknown_label")
	// An operator has none of these pages, and the API refuses them.
	n.refused("PUT", "/v1/routing/rules", conCarol, map[string]any{"rules": []any{}}, 403, "forbidden")
	n.refused("POST", "/v1/labels", conCarol, map[string]any{"name": "x"}, 403, "forbidden")
}

// ruleConv is what the test reads of a conversation.
type ruleConv struct {
	ID             string   `json:"id"`
	Status         string   `json:"status"`
	AssigneeID     string   `json:"assignee_id"`
	Priority       int      `json:"priority"`
	RequiredSkills []string `json:"required_skills"`
	Labels         []string `json:"labels"`
	Contact        struct {
		WaID string `json:"wa_id"`
	} `json:"contact"`
}

// conversationOf is the conversation of customer wa ("" ID when there is none yet).
func conversationOf(t *testing.T, n *node, wa string) ruleConv {
	t.Helper()
	var list struct{ Conversations []ruleConv }
	if err := json.Unmarshal(n.mustCall("GET", "/v1/conversations?limit=100", conAlice, nil, 200), &list); err != nil {
		t.Fatal(err)
	}
	for _, c := range list.Conversations {
		if c.Contact.WaID == wa {
			return c
		}
	}
	return ruleConv{}
}

// waitConversationOf waits until customer wa's conversation exists and ok holds for it, and returns it.
func waitConversationOf(t *testing.T, n *node, wa string, ok func(ruleConv) bool) ruleConv {
	t.Helper()
	var c ruleConv
	eventually.True(t, 30*time.Second, 20*time.Millisecond, func() bool {
		c = conversationOf(t, n, wa)
		return c.ID != "" && ok(c)
	}, "the conversation of %s as expected", wa)
	return c
}
