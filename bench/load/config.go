// Package load is Switchboard's load generator: it drives a running node the way Meta and operators do — signed
// WhatsApp webhooks over HTTP for many tenants and contacts, operators who reply after a think time and close after
// a handling time through the /v1 API — and times every stage from the intended moment of its input (open loop), so
// that a stalled node cannot hide its delay by slowing the generator down.
//
// Stages timed:
//   - webhook_ack: intended send time of a webhook → its 200.
//   - webhook_to_assigned: intended send time of a new conversation's first message → its conversation.assigned
//     event read from switchboard.events.
//   - operator_api: intended time of an operator's reply or close → the API's answer.
//   - reply_to_simulator: intended time of an operator's reply → the WhatsApp simulator accepting it.
//
// It may import the simulator, ingest/whatsapp/meta, kafka-go, fasthttp and HdrHistogram; only the bench binary imports
// it.
package load

import (
	"errors"
	"fmt"
	"time"
)

// ErrInvalidConfig is wrapped by every Validate error.
var ErrInvalidConfig = errors.New("invalid load config")

// ErrRunTwice is returned by a second call of Generator.Run.
var ErrRunTwice = errors.New("load: Run called twice")

// Config is what to drive and how hard.
type Config struct {
	// NodeURL is the node's HTTP base URL (webhooks and /v1), e.g. "http://127.0.0.1:8080". Required.
	NodeURL string
	// Brokers are the node's Kafka brokers, where the generator reads switchboard.events. Required.
	Brokers []string
	// Tenants are the tenants to load, each with its channel and operators, as configured on the node. Required.
	Tenants []Tenant
	// Contacts is how many distinct customers each tenant has; new conversations take the next one, round robin.
	// Default 100,000.
	Contacts int
	// MessagesPerConversation is the mean number of customer messages per conversation: an arrival opens a new
	// conversation with probability 1/MessagesPerConversation, else it is a follow-up in an open one.
	// Default 3.
	MessagesPerConversation float64
	// Steps are the load steps, run one after the other. Required.
	Steps []Step
	// Think is how long an operator takes to reply after an assignment; Handle how long until they close it
	// (counted from the assignment). 0 means the defaults, 200ms and 2s.
	Think, Handle time.Duration
	// Senders is how many webhooks may be in flight at once. Default 512.
	Senders int
	// OperatorWorkers is how many operator API calls may be in flight at once. Default 512: enough that the
	// generator's own pool does not cap the operators' rate when the node answers slowly.
	OperatorWorkers int
	// Drain is how long to keep timing after the last step, for the work still in flight. Default 5s.
	Drain time.Duration
	// RetryWebhooks makes a webhook that was not answered 200 be sent again (after 250ms, doubling up to 4s, for
	// up to a minute), as Meta does; its latency then counts to the final 200. Default false: a failure is an error.
	RetryWebhooks bool
	// Seed makes the choice of tenants, contacts and follow-ups repeatable. 0 is a seed like any other.
	Seed uint64
	// RunID makes the message ids of this run unique (the node drops repeated wamids). Default: the start time.
	RunID string
}

// Tenant is one tenant as the node knows it.
type Tenant struct {
	ID string
	// ChannelID, PhoneNumberID and AppSecret are its WhatsApp channel's.
	ChannelID, PhoneNumberID, AppSecret string
	// Operators are the operators who take its conversations.
	Operators []Operator
}

// Operator is an operator and their API token.
type Operator struct {
	ID, Token string
}

// Step is one rate held for a while.
type Step struct {
	// Rate is the mean arrivals (customer messages) per second. Required.
	Rate float64
	// Duration is how long the step lasts. Required.
	Duration time.Duration
	// Bursty makes arrivals come in bursts: every BurstPeriod, the step's whole load for the period arrives in its
	// first quarter (4× the mean rate), then nothing. Default constant.
	Bursty bool
	// BurstPeriod is a bursty step's period. Default 1s.
	BurstPeriod time.Duration
}

// Name says what the step offers, e.g. "2000/s constant".
func (s Step) Name() string {
	shape := "constant"
	if s.Bursty {
		shape = fmt.Sprintf("bursty (4× for %v of every %v)", s.BurstPeriod/4, s.BurstPeriod)
	}
	return fmt.Sprintf("%g/s %s", s.Rate, shape)
}

func (c *Config) setDefaults() {
	if c.Contacts == 0 {
		c.Contacts = 100_000
	}
	if c.MessagesPerConversation == 0 {
		c.MessagesPerConversation = 3
	}
	if c.Think == 0 {
		c.Think = 200 * time.Millisecond
	}
	if c.Handle == 0 {
		c.Handle = 2 * time.Second
	}
	if c.Senders == 0 {
		c.Senders = 512
	}
	if c.OperatorWorkers == 0 {
		c.OperatorWorkers = 512
	}
	if c.Drain == 0 {
		c.Drain = 5 * time.Second
	}
	if c.RunID == "" {
		c.RunID = fmt.Sprintf("%x", time.Now().UnixNano())
	}
	for i := range c.Steps {
		if c.Steps[i].Bursty && c.Steps[i].BurstPeriod == 0 {
			c.Steps[i].BurstPeriod = time.Second
		}
	}
}

// Validate reports the first thing wrong with c.
func (c *Config) Validate() error {
	switch {
	case c.NodeURL == "":
		return fmt.Errorf("%w: NodeURL is required", ErrInvalidConfig)
	case len(c.Brokers) == 0:
		return fmt.Errorf("%w: Brokers are required", ErrInvalidConfig)
	case len(c.Tenants) == 0:
		return fmt.Errorf("%w: at least one tenant is required", ErrInvalidConfig)
	case len(c.Steps) == 0:
		return fmt.Errorf("%w: at least one step is required", ErrInvalidConfig)
	case c.Contacts < 1:
		return fmt.Errorf("%w: Contacts %d must be at least 1", ErrInvalidConfig, c.Contacts)
	case c.MessagesPerConversation < 1:
		return fmt.Errorf("%w: MessagesPerConversation %g must be at least 1", ErrInvalidConfig, c.MessagesPerConversation)
	case c.Think < 0 || c.Handle < c.Think:
		return fmt.Errorf("%w: Think %v must not be negative and Handle %v not shorter than it", ErrInvalidConfig, c.Think, c.Handle)
	case c.Senders < 1 || c.OperatorWorkers < 1:
		return fmt.Errorf("%w: Senders %d and OperatorWorkers %d must be at least 1", ErrInvalidConfig, c.Senders, c.OperatorWorkers)
	}
	for i, t := range c.Tenants {
		if t.ID == "" || t.ChannelID == "" || t.PhoneNumberID == "" || t.AppSecret == "" {
			return fmt.Errorf("%w: tenant %d: ID, ChannelID, PhoneNumberID and AppSecret are required", ErrInvalidConfig, i)
		}
		if len(t.Operators) == 0 {
			return fmt.Errorf("%w: tenant %s has no operators", ErrInvalidConfig, t.ID)
		}
	}
	for i, s := range c.Steps {
		if s.Rate <= 0 || s.Duration < time.Second || s.Duration%time.Second != 0 {
			return fmt.Errorf("%w: step %d: Rate %g must be positive and Duration %v whole seconds (figures are kept per second)",
				ErrInvalidConfig, i, s.Rate, s.Duration)
		}
	}
	return nil
}
