package sender

import (
	"encoding/json"
	"testing"
)

func TestPayload(t *testing.T) {
	for _, tc := range []struct {
		name string
		job  Job
		want string
	}{
		{"text", Job{MessageID: "sb.1", To: "27", Type: "text", Text: "hi"},
			`{"biz_opaque_callback_data":"sb.1","messaging_product":"whatsapp","recipient_type":"individual","text":{"body":"hi","preview_url":false},"to":"27","type":"text"}`},
		{"template with body and button parameters", Job{MessageID: "sb.2", To: "27", Type: "template",
			Content: json.RawMessage(`{"name":"order_update","language":"en","params":["42"],"buttons":[{"sub_type":"quick_reply","index":0,"params":["P"]},{"sub_type":"url","index":1,"params":["o/42"]},{"sub_type":"copy_code","index":2,"params":["C0DE"]}]}`)},
			`{"biz_opaque_callback_data":"sb.2","messaging_product":"whatsapp","recipient_type":"individual","template":{"components":[{"parameters":[{"text":"42","type":"text"}],"type":"body"},{"index":"0","parameters":[{"payload":"P","type":"payload"}],"sub_type":"quick_reply","type":"button"},{"index":"1","parameters":[{"text":"o/42","type":"text"}],"sub_type":"url","type":"button"},{"index":"2","parameters":[{"coupon_code":"C0DE","type":"coupon_code"}],"sub_type":"copy_code","type":"button"}],"language":{"code":"en"},"name":"order_update"},"to":"27","type":"template"}`},
		{"template with an image header by id", Job{MessageID: "sb.5", To: "27", Type: "template",
			Content: json.RawMessage(`{"name":"promo","language":"en_US","params":["Ana"],"header":{"type":"image","id":"m9"}}`)},
			`{"biz_opaque_callback_data":"sb.5","messaging_product":"whatsapp","recipient_type":"individual","template":{"components":[{"parameters":[{"image":{"id":"m9"},"type":"image"}],"type":"header"},{"parameters":[{"text":"Ana","type":"text"}],"type":"body"}],"language":{"code":"en_US"},"name":"promo"},"to":"27","type":"template"}`},
		{"template with a document header by link", Job{MessageID: "sb.6", To: "27", Type: "template",
			Content: json.RawMessage(`{"name":"invoice","language":"en","header":{"type":"document","link":"https://x/i.pdf","filename":"i.pdf"}}`)},
			`{"biz_opaque_callback_data":"sb.6","messaging_product":"whatsapp","recipient_type":"individual","template":{"components":[{"parameters":[{"document":{"filename":"i.pdf","link":"https://x/i.pdf"},"type":"document"}],"type":"header"}],"language":{"code":"en"},"name":"invoice"},"to":"27","type":"template"}`},
		{"template with a text header parameter", Job{MessageID: "sb.7", To: "27", Type: "template",
			Content: json.RawMessage(`{"name":"n","language":"en","header":{"type":"text","text":"R-1"}}`)},
			`{"biz_opaque_callback_data":"sb.7","messaging_product":"whatsapp","recipient_type":"individual","template":{"components":[{"parameters":[{"text":"R-1","type":"text"}],"type":"header"}],"language":{"code":"en"},"name":"n"},"to":"27","type":"template"}`},
		{"template with a named text header parameter", Job{MessageID: "sb.7n", To: "27", Type: "template",
			Content: json.RawMessage(`{"name":"n","language":"en","header":{"type":"text","text":"Black Friday","parameter_name":"sale_name"}}`)},
			`{"biz_opaque_callback_data":"sb.7n","messaging_product":"whatsapp","recipient_type":"individual","template":{"components":[{"parameters":[{"parameter_name":"sale_name","text":"Black Friday","type":"text"}],"type":"header"}],"language":{"code":"en"},"name":"n"},"to":"27","type":"template"}`},
		{"template with a location header and a URL button", Job{MessageID: "sb.7l", To: "27", Type: "template",
			Content: json.RawMessage(`{"name":"pickup","language":"en","header":{"type":"location","location":{"latitude":-33.8688,"longitude":151.2093,"name":"Depot","address":"1 George St"}},"buttons":[{"sub_type":"url","index":1,"params":["R-1"]}]}`)},
			`{"biz_opaque_callback_data":"sb.7l","messaging_product":"whatsapp","recipient_type":"individual","template":{"components":[{"parameters":[{"location":{"address":"1 George St","latitude":"-33.8688","longitude":"151.2093","name":"Depot"},"type":"location"}],"type":"header"},{"index":"1","parameters":[{"text":"R-1","type":"text"}],"sub_type":"url","type":"button"}],"language":{"code":"en"},"name":"pickup"},"to":"27","type":"template"}`},
		{"template of named parameters", Job{MessageID: "sb.8", To: "27", Type: "template",
			Content: json.RawMessage(`{"name":"n","language":"en","params":["Ana","T-9"],"param_names":["first_name","ticket"]}`)},
			`{"biz_opaque_callback_data":"sb.8","messaging_product":"whatsapp","recipient_type":"individual","template":{"components":[{"parameters":[{"parameter_name":"first_name","text":"Ana","type":"text"},{"parameter_name":"ticket","text":"T-9","type":"text"}],"type":"body"}],"language":{"code":"en"},"name":"n"},"to":"27","type":"template"}`},
		{"image", Job{MessageID: "sb.3", To: "27", Type: "image", Content: json.RawMessage(`{"id":"m1","caption":"c"}`)},
			`{"biz_opaque_callback_data":"sb.3","image":{"caption":"c","id":"m1"},"messaging_product":"whatsapp","recipient_type":"individual","to":"27","type":"image"}`},
	} {
		b, err := payload(&tc.job)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var got, want any
		_ = json.Unmarshal(b, &got)
		_ = json.Unmarshal([]byte(tc.want), &want)
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(want)
		if string(gb) != string(wb) {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, gb, wb)
		}
	}
	if _, err := payload(&Job{MessageID: "sb.4", Type: "image"}); err == nil {
		t.Error("an image without content built a request")
	}
}

func TestTransient(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		want   bool
	}{
		{429, `{"error":{"code":130429}}`, true},
		{503, `{"error":{"code":2}}`, true},
		{500, `{}`, true},
		{400, `{"error":{"code":131026,"message":"Message undeliverable"}}`, false},
		{400, `{"error":{"code":131047}}`, false},
		{404, `{"error":{"code":132001}}`, false},
		{400, `{"error":{"code":131056}}`, true},
	} {
		if got := transient(tc.status, []byte(tc.body)); got != tc.want {
			t.Errorf("transient(%d, %s) = %v, want %v", tc.status, tc.body, got, tc.want)
		}
	}
	code, title := metaError([]byte(`{"error":{"code":131026,"message":"Message undeliverable","error_data":{"details":"recipient cannot receive"}}}`))
	if code != 131026 || title != "Message undeliverable: recipient cannot receive" {
		t.Errorf("metaError = %d %q", code, title)
	}
}
