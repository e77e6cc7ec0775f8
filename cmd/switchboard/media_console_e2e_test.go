package main_test

// Attachments in the browser: an operator attaches a PNG (uploaded to the node, which puts it in the channel's
// media store) and sends it, and the simulator receives a message naming that media id; a customer's photo shows in
// the conversation and opens full size; an executable renamed .png is refused with the server's reason on screen.

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/sim"
)

// testPNG draws a w×h picture with a gradient and a band, so a screenshot shows it is the image.
func testPNG(t *testing.T, w, h int, band color.RGBA) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			c := color.RGBA{uint8(40 + 180*x/w), uint8(90 + 120*y/h), 200, 255}
			if y > h/3 && y < h/2 {
				c = band
			}
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestConsoleMedia(t *testing.T) {
	n, s := startConsoleNode(t)
	const maya = "81900112233"
	customerWrites(t, n, named(maya, "Maya Ito", "wamid.m1", "The lamp arrived broken, photo below", time.Now().Add(-2*time.Minute)))
	photo := testPNG(t, 640, 420, color.RGBA{230, 80, 60, 255})
	custID, _, err := s.SendCustomerMedia(context.Background(), sim.CustomerMedia{PhoneNumberID: conPhone, From: maya,
		ProfileName: "Maya Ito", MIMEType: "image/png", Data: photo, Caption: "the cracked base"})
	if err != nil {
		t.Fatal(err)
	}

	pdf := []byte("%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n")
	docID, _, err := s.SendCustomerMedia(context.Background(), sim.CustomerMedia{PhoneNumberID: conPhone, From: maya,
		ProfileName: "Maya Ito", Type: "document", MIMEType: "application/pdf", Data: pdf, Filename: "order-5521.pdf"})
	if err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t)
	b.signIn(n, conAlice, "")
	b.openRow("Maya Ito")
	b.click(`#attend`)
	b.text(`#conv-status`, "Open")
	// (The screenshots leave out the toast Attend flashes, which would cover them.)
	// The customer's photo, fetched through GET /v1/media/{id} from the simulator, shows inline with its caption.
	b.waitJS(`(() => { const i = document.querySelector('.msg.in .media-thumb[data-media="`+custID+`"] img');
		return i && i.complete && i.naturalWidth === 640 })()`, "the customer's photo shown")
	b.text(`.msg.in .media .caption`, "the cracked base")
	b.screenshotWithoutToast("media-inbound")
	b.click(`.msg.in .media-thumb[data-media="` + custID + `"]`)
	b.waitJS(`(() => { const i = document.querySelector('#lightbox img'); return i && i.complete && i.naturalWidth === 640 })()`,
		"the photo opened full size")
	b.screenshotWithoutToast("media-lightbox")
	b.click(`#lightbox-close`)
	b.waitJS(`!document.getElementById('lightbox')`, "the lightbox closed")
	// The customer's document is a download link through the same proxy, served as an attachment.
	b.text(`.doc-link[data-media="`+docID+`"]`, "order-5521.pdf")
	b.js(`fetch(document.querySelector('.doc-link[data-media="` + docID + `"]').href).then(async r =>
		window.docFetch = r.status + ' ' + r.headers.get('Content-Disposition') + ' ' + (await r.text()).slice(0, 8))`)
	b.waitJS(`window.docFetch !== undefined`, "the document fetched")
	if got, want := jsValue[string](b, `window.docFetch`), `200 attachment; filename="order-5521.pdf"; filename*=UTF-8''order-5521.pdf %PDF-1.4`; got != want {
		t.Errorf("the document link gives %q, want %q", got, want)
	}

	// The operator attaches a PNG: uploaded with progress, shown as a chip, sent by id with the text as caption.
	dir := t.TempDir()
	reply := testPNG(t, 320, 200, color.RGBA{40, 160, 90, 255})
	replyPath := filepath.Join(dir, "replacement-label.png")
	if err := os.WriteFile(replyPath, reply, 0o600); err != nil {
		t.Fatal(err)
	}
	b.run(chromedp.SetUploadFiles(chromedp.CSS(`#attach-input`), []string{replyPath}))
	b.waitJS(`document.querySelector('#attach-chip[data-state=ready]') !== null`, "the upload done")
	b.text(`#attach-chip`, "replacement-label.png")
	b.text(`#attach-chip`, "image/png")
	b.run(chromedp.SendKeys(chromedp.CSS(`#composer`), "Here is your return label"))
	b.screenshotWithoutToast("media-attach-chip")
	b.click(`#send`)
	b.waitJS(`!document.getElementById('attach-chip')`, "the chip cleared after sending")

	// The simulator received an image message naming the id of the file it stored from the upload, byte for byte.
	var sentID string
	eventually.True(t, 20*time.Second, 50*time.Millisecond, func() bool {
		for _, m := range s.Messages() {
			var p struct {
				Image struct{ ID, Caption string } `json:"image"`
			}
			if m.Type != "image" || json.Unmarshal(m.Payload, &p) != nil || p.Image.Caption != "Here is your return label" {
				continue
			}
			if f, ok := s.Media(p.Image.ID); ok && f.Uploaded && bytes.Equal(f.Data, reply) {
				sentID = p.Image.ID
				return true
			}
		}
		return false
	}, "the simulator received the image by the uploaded id")
	// The sent image shows in the conversation, through the same proxy.
	b.waitJS(`(() => { const i = document.querySelector('.msg.out .media-thumb[data-media="`+sentID+`"] img');
		return i && i.complete && i.naturalWidth === 320 })()`, "the sent photo shown")
	b.screenshotWithoutToast("media-sent")

	// An executable renamed .png: refused by content, the reason shown on the chip; nothing sent.
	exe := filepath.Join(dir, "invoice.png")
	if err := os.WriteFile(exe, append([]byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"), make([]byte, 2048)...), 0o600); err != nil {
		t.Fatal(err)
	}
	before := len(s.Messages())
	b.run(chromedp.SetUploadFiles(chromedp.CSS(`#attach-input`), []string{exe}))
	b.waitJS(`document.querySelector('#attach-chip[data-state=refused]') !== null`, "the upload refused")
	b.text(`#attach-error`, "WhatsApp does not take")
	if jsValue[bool](b, `!document.getElementById('send').disabled`) {
		t.Error("the send button is enabled with a refused attachment")
	}
	b.screenshotWithoutToast("media-refused")
	t.Logf("refusal shown: %s", jsValue[string](b, `document.getElementById('attach-error').innerText`))
	b.click(`#attach-remove`)
	b.waitJS(`!document.getElementById('attach-chip')`, "the refused chip removed")
	if len(s.Messages()) != before {
		t.Errorf("a message was sent for the refused file")
	}

	// A file dropped on the composer is attached the same way (a PDF, sent as a document with its name).
	b.js(`(() => {
		const dt = new DataTransfer();
		dt.items.add(new File([new TextEncoder().encode('%PDF-1.4\n1 0 obj\n<< >>\nendobj\n%%EOF\n')], 'terms.pdf', {type: 'application/pdf'}));
		document.querySelector('.composer-box').dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
	})()`)
	b.waitJS(`document.querySelector('#attach-chip[data-state=ready]') !== null`, "the dropped file uploaded")
	b.text(`#attach-chip`, "document · application/pdf")
	b.click(`#send`)
	eventually.True(t, 20*time.Second, 50*time.Millisecond, func() bool {
		for _, m := range s.Messages()[before:] {
			var p struct {
				Document struct{ ID, Filename string } `json:"document"`
			}
			if m.Type == "document" && json.Unmarshal(m.Payload, &p) == nil && p.Document.Filename == "terms.pdf" {
				_, ok := s.Media(p.Document.ID)
				return ok
			}
		}
		return false
	}, "the simulator received the dropped document by id")
	b.text(`.msg.out .doc-link`, "terms.pdf")
	// The metrics count the upload and the downloads (the second view of a photo is a cache hit).
	if n.metric("switchboard_media_uploads_total", `result="ok"`) < 1 || n.metric("switchboard_media_downloads_total", `source="whatsapp"`) < 1 {
		t.Errorf("media metrics: uploads %v, downloads %v", n.metric("switchboard_media_uploads_total", `result="ok"`),
			n.metric("switchboard_media_downloads_total", `source="whatsapp"`))
	}
}
