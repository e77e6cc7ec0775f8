package sender

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-hq/switchboard/actors/conversation"
)

// payload builds the Cloud API request body for a job: text, a template with its parameters, media and the like
// from the message's content, or a read receipt's mark-as-read.
func payload(j *Job) ([]byte, error) {
	type obj = map[string]any
	if j.Kind == KindRead {
		return json.Marshal(obj{"messaging_product": "whatsapp", "status": "read", "message_id": j.MessageID})
	}
	p := obj{"messaging_product": "whatsapp", "recipient_type": "individual", "to": j.To, "type": j.Type,
		"biz_opaque_callback_data": j.MessageID}
	switch j.Type {
	case "text":
		p["text"] = obj{"body": j.Text, "preview_url": false}
	case "template":
		var t conversation.Template
		if err := json.Unmarshal(j.Content, &t); err != nil {
			return nil, fmt.Errorf("template of %s: %w", j.MessageID, err)
		}
		tpl := obj{"name": t.Name, "language": obj{"code": t.Language}}
		var components []obj
		if h := t.Header; h != nil {
			// A media header by Meta media id or link (a document keeps its file name); a text header's parameter
			// (by its name for a named one); a location header's place, its coordinates written as Meta's
			// examples write them.
			prm := obj{"type": "text", "text": h.Text}
			switch {
			case h.Type == "text":
				if h.ParameterName != "" {
					prm["parameter_name"] = h.ParameterName
				}
			case h.Type == "location":
				// Unchecked (a channel without a catalogue), a missing part stays missing for Meta to refuse.
				loc := obj{}
				if l := h.Location; l != nil {
					if l.Latitude != nil {
						loc["latitude"] = strconv.FormatFloat(*l.Latitude, 'f', -1, 64)
					}
					if l.Longitude != nil {
						loc["longitude"] = strconv.FormatFloat(*l.Longitude, 'f', -1, 64)
					}
					loc["name"], loc["address"] = l.Name, l.Address
				}
				prm = obj{"type": "location", "location": loc}
			default:
				media := obj{}
				if h.ID != "" {
					media["id"] = h.ID
				} else {
					media["link"] = h.Link
				}
				if h.Type == "document" && h.Filename != "" {
					media["filename"] = h.Filename
				}
				prm = obj{"type": h.Type, h.Type: media}
			}
			components = append(components, obj{"type": "header", "parameters": []obj{prm}})
		}
		if len(t.Params) > 0 {
			params := make([]obj, len(t.Params))
			named := len(t.ParamNames) == len(t.Params)
			for i, v := range t.Params {
				params[i] = obj{"type": "text", "text": v}
				if named {
					// A template of named parameters ({{first_name}}) takes each by its name.
					params[i]["parameter_name"] = t.ParamNames[i]
				}
			}
			components = append(components, obj{"type": "body", "parameters": params})
		}
		for _, b := range t.Buttons {
			params := make([]obj, len(b.Params))
			for i, v := range b.Params {
				switch b.SubType {
				case "quick_reply":
					params[i] = obj{"type": "payload", "payload": v}
				case "copy_code":
					params[i] = obj{"type": "coupon_code", "coupon_code": v}
				default: // url: the dynamic part of the link
					params[i] = obj{"type": "text", "text": v}
				}
			}
			components = append(components, obj{"type": "button", "sub_type": b.SubType, "index": fmt.Sprint(b.Index), "parameters": params})
		}
		if components != nil {
			tpl["components"] = components
		}
		p["template"] = tpl
	default:
		// Media, reactions and interactive messages carry their Cloud API object as the message content.
		if len(j.Content) == 0 {
			return nil, fmt.Errorf("message %s of type %s has no content", j.MessageID, j.Type)
		}
		p[j.Type] = j.Content
	}
	return json.Marshal(p)
}

type metrics struct {
	queued      prometheus.Counter
	sent        prometheus.Counter
	failed      *prometheus.CounterVec
	retries     prometheus.Counter
	rateLimited prometheus.Counter
	paced       prometheus.Counter
	fenced      prometheus.Counter
	latency     prometheus.Histogram
	reads       *prometheus.CounterVec
	// readsSent and readsFailed are reads' two series, resolved once.
	readsSent, readsFailed prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (metrics, error) {
	m := metrics{
		queued: prometheus.NewCounter(prometheus.CounterOpts{Name: "switchboard_outbound_queued_total",
			Help: "Outbound jobs (messages and read receipts) handed to a sender worker."}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{Name: "switchboard_outbound_sent_total",
			Help: "Outbound messages accepted by the WhatsApp API."}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_outbound_failed_total",
			Help: "Outbound messages refused for good, by Meta's error code (or retries_exhausted, unknown_channel, channel_removed)."}, []string{"reason"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{Name: "switchboard_outbound_retries_total",
			Help: "Send attempts retried after a 429, a 5xx or a network error."}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{Name: "switchboard_outbound_rate_limited_total",
			Help: "Send attempts the WhatsApp API answered 429."}),
		paced: prometheus.NewCounter(prometheus.CounterOpts{Name: "switchboard_outbound_recipient_waits_total",
			Help: "Sends delayed to keep the per-recipient pace."}),
		fenced: prometheus.NewCounter(prometheus.CounterOpts{Name: "switchboard_outbound_fenced_total",
			Help: "Jobs not sent because this node does not own their tenant's partition (any more); its owner sends them."}),
		reads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "switchboard_outbound_read_receipts_total",
			Help: "Read receipts (mark-as-read calls) answered, by result: sent, or failed (refused, or retries exhausted; dropped)."}, []string{"result"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "switchboard_outbound_request_seconds",
			Help: "Time of one request to the WhatsApp API.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
	}
	m.readsSent, m.readsFailed = m.reads.WithLabelValues("sent"), m.reads.WithLabelValues("failed")
	if reg != nil {
		for _, c := range []prometheus.Collector{m.queued, m.sent, m.failed, m.retries, m.rateLimited, m.paced, m.fenced, m.latency, m.reads} {
			if err := reg.Register(c); err != nil {
				return m, err
			}
		}
	}
	return m, nil
}
