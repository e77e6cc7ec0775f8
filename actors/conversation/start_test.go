package conversation

import (
	"testing"
	"time"
)

// A start names a new conversation, and one without a name, after the contact; a name the conversation has (the
// customer's profile name) stays.
func TestStartContactName(t *testing.T) {
	to := Customer{TenantID: smTenant, ChannelID: smChannel, WaID: smCustomer, Name: "Ann Baker"}
	cmd := Command{Type: CmdStart, OperatorID: "alice", MessageID: "m1",
		Message: &Outbound{Type: "template", Template: &Template{Name: "welcome", Language: "en"}}}
	c, _, err := Start(Conversation{}, to, cmd, Policy{}, smAt(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if c.Contact != (Contact{ID: ContactID(smCustomer), WaID: smCustomer, Name: "Ann Baker"}) || c.ID != ID(smChannel, smCustomer) {
		t.Errorf("new conversation's contact %+v", c.Contact)
	}
	in := smIn("wamid.1", "text", smAt(0), smAt(0))
	in.Message.ProfileName = "Annie"
	written, _, _ := Receive(Conversation{}, in, Policy{})
	cmd.MessageID = "m2"
	c, _, err = Start(written, to, cmd, Policy{}, smAt(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if c.Contact.Name != "Annie" {
		t.Errorf("a start renamed %q to %q", written.Contact.Name, c.Contact.Name)
	}
	// Another tenant's record under the same id, or a customer whose id is not the conversation's: refused.
	other := written
	other.TenantID = "globex"
	if _, _, err := Start(other, to, cmd, Policy{}, smAt(time.Minute)); err == nil {
		t.Error("a start applied to another tenant's conversation")
	}
	to.WaID = "15550009999"
	if _, _, err := Start(written, to, cmd, Policy{}, smAt(time.Minute)); err == nil {
		t.Error("a start applied to another customer's conversation")
	}
}
