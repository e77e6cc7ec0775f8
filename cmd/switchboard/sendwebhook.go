package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"time"

	"github.com/switchboard-hq/switchboard/ingest/whatsapp/meta"
)

// sendWebhook posts one signed inbound text message to a node, as Meta would: the demo's first customer message.
func sendWebhook(args []string) error {
	fs := flag.NewFlagSet("send-webhook", flag.ContinueOnError)
	url := fs.String("url", "http://127.0.0.1:8080/webhooks/whatsapp", "the node's WhatsApp webhook URL")
	secret := fs.String("app-secret", "dev-app-secret", "the channel's app secret")
	phone := fs.String("phone-number-id", "100200300", "the channel's phone_number_id")
	from := fs.String("from", "27820000001", "the customer's wa_id")
	name := fs.String("name", "Maria", "the customer's profile name")
	text := fs.String("text", "Hello, I need help with my order", "the message text")
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	now := time.Now()
	body := meta.Payload(meta.Change{PhoneNumberID: *phone, Messages: []meta.Message{{
		From: *from, ProfileName: *name, ID: fmt.Sprintf("wamid.demo%d", now.UnixNano()),
		Timestamp: now.Unix(), Text: *text,
	}}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code, resp, err := meta.Post(ctx, http.DefaultClient, *url, *secret, body)
	if err != nil {
		return err
	}
	fmt.Printf("POST %s → %d %s\n", *url, code, resp)
	if code != http.StatusOK {
		return fmt.Errorf("webhook answered %d", code)
	}
	return nil
}
