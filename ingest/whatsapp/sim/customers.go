package sim

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/switchboard-hq/switchboard/ingest/whatsapp/meta"
)

// Defaults of CustomersConfig.
const (
	DefaultCustomerContacts    = 10
	DefaultCustomerRate        = 1.0
	DefaultCustomerText        = "hello"
	DefaultCustomerConcurrency = 16
	// customerRetries is how many times an inbound webhook not answered 200 is tried again, as Meta retries.
	customerRetries = 3
)

// CustomerWAID returns the wa_id of contact i (0-based) played by Customers: "1555" and i in 7 digits, so it
// never starts with the prefixes of the deterministic permanent errors.
func CustomerWAID(i int) string {
	s := strconv.Itoa(i)
	const width = 7
	if len(s) < width {
		s = "0000000"[:width-len(s)] + s
	}
	return "1555" + s
}

// CustomersConfig configures Customers.
type CustomersConfig struct {
	// WebhookURL receives the inbound webhooks. Default the simulator's Config.WebhookURL; one of them is required.
	WebhookURL string
	// AppSecret signs them. Default the simulator's Config.AppSecret.
	AppSecret string
	// PhoneNumberID is the business number the customers write to. Required.
	PhoneNumberID string
	// Contacts is how many distinct customers write (wa_ids CustomerWAID(0) … CustomerWAID(Contacts-1), taking
	// turns). Default DefaultCustomerContacts (10); at most 10,000,000.
	Contacts int
	// Rate is the inbound messages per second, spread evenly. Default DefaultCustomerRate (1).
	Rate float64
	// Count is how many messages to send. 0 sends until ctx ends.
	Count int
	// Text is every message's body. Default DefaultCustomerText ("hello").
	Text string
	// Concurrency bounds the webhooks in flight; when the receiver is slower the rate drops rather than piling up
	// requests. Default DefaultCustomerConcurrency (16).
	Concurrency int
}

func (c *CustomersConfig) setDefaults(s *Sim) {
	if c.WebhookURL == "" {
		c.WebhookURL = s.cfg.WebhookURL
	}
	if c.AppSecret == "" {
		c.AppSecret = s.cfg.AppSecret
	}
	if c.Contacts == 0 {
		c.Contacts = DefaultCustomerContacts
	}
	if c.Rate == 0 {
		c.Rate = DefaultCustomerRate
	}
	if c.Text == "" {
		c.Text = DefaultCustomerText
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultCustomerConcurrency
	}
}

// Validate reports the first invalid field.
func (c *CustomersConfig) Validate() error {
	switch {
	case c.WebhookURL == "" || !httpURL(c.WebhookURL):
		return fmt.Errorf("%w: customers: WebhookURL %q must be an http or https URL", ErrInvalidConfig, c.WebhookURL)
	case !allDigits(c.PhoneNumberID):
		return fmt.Errorf("%w: customers: PhoneNumberID %q must be digits", ErrInvalidConfig, c.PhoneNumberID)
	case c.Contacts < 0 || c.Contacts > 10_000_000:
		return fmt.Errorf("%w: customers: Contacts %d must be 1 to 10,000,000", ErrInvalidConfig, c.Contacts)
	case c.Rate < 0:
		return fmt.Errorf("%w: customers: Rate %v is negative", ErrInvalidConfig, c.Rate)
	case c.Count < 0:
		return fmt.Errorf("%w: customers: Count %d is negative", ErrInvalidConfig, c.Count)
	case c.Concurrency < 0:
		return fmt.Errorf("%w: customers: Concurrency %d is negative", ErrInvalidConfig, c.Concurrency)
	}
	return nil
}

// CheckCustomers reports what is wrong with cfg for this simulator (after its defaults: the simulator's webhook
// URL and app secret), as Customers would, without posting anything.
func (s *Sim) CheckCustomers(cfg CustomersConfig) error {
	cfg.setDefaults(s)
	return cfg.Validate()
}

// Customers plays customers writing in: it posts signed inbound text webhooks, each with a new wamid, from
// cfg.Contacts customers in turn, cfg.Rate per second, until cfg.Count were sent or ctx ends. A webhook not
// answered 200 is tried again up to 3 times, then counted as failed (Stats().Customers); one cut short because ctx
// ended is not counted. It returns nil when Count messages were sent and all were answered 200, or when Count is 0
// and ctx ended; an error when some failed or ctx ended before Count. It does not need Run, and may run several times at once.
func (s *Sim) Customers(ctx context.Context, cfg CustomersConfig) error {
	cfg.setDefaults(s)
	if err := cfg.Validate(); err != nil {
		return err
	}
	interval := time.Duration(float64(time.Second) / cfg.Rate)
	sem := make(chan struct{}, cfg.Concurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed int
	var firstErr error
	start := s.clk.Now()
	sent := 0
loop:
	for ; cfg.Count == 0 || sent < cfg.Count; sent++ {
		if d := start.Add(time.Duration(sent) * interval).Sub(s.clk.Now()); d > 0 {
			select {
			case <-s.clk.After(d):
			case <-ctx.Done():
				break loop
			}
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break loop
		}
		m := meta.Message{
			From:        CustomerWAID(sent % cfg.Contacts),
			ProfileName: "Customer " + strconv.Itoa(sent%cfg.Contacts),
			ID:          s.newWAMID(CustomerWAID(sent % cfg.Contacts)),
			Timestamp:   s.clk.Now().Unix(),
			Text:        cfg.Text,
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := s.postCustomer(ctx, cfg, m); err != nil {
				if ctx.Err() != nil {
					return // stopped, not failed
				}
				s.c.custFailed.Add(1)
				mu.Lock()
				failed++
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				return
			}
			s.c.custPosted.Add(1)
		})
	}
	wg.Wait()
	if failed > 0 {
		return fmt.Errorf("customers: %d of %d inbound webhooks to %s failed: %w", failed, sent, cfg.WebhookURL, firstErr)
	}
	if cfg.Count > 0 && sent < cfg.Count {
		return fmt.Errorf("customers: stopped after %d of %d messages: %w", sent, cfg.Count, context.Cause(ctx))
	}
	return nil
}

// postCustomer posts one inbound message, retrying as Meta does (sooner: 100ms, 200ms, 400ms).
func (s *Sim) postCustomer(ctx context.Context, cfg CustomersConfig, m meta.Message) error {
	body := meta.Payload(meta.Change{PhoneNumberID: cfg.PhoneNumberID, Messages: []meta.Message{m}})
	var err error
	for attempt := 0; ; attempt++ {
		var code int
		code, _, err = meta.Post(ctx, s.client, cfg.WebhookURL, cfg.AppSecret, body)
		if err == nil && code == http.StatusOK {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("inbound webhook %s answered %d", m.ID, code)
		}
		if attempt == customerRetries || ctx.Err() != nil {
			return err
		}
		select {
		case <-s.clk.After(webhookRetryBase << attempt):
		case <-ctx.Done():
			return err
		}
	}
}
