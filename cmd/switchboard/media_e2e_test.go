package main_test

// Attachments through the binary, without a browser: a 10 MiB upload streams through the node's server (five times
// its limit for other bodies) into the channel's media store; a video over Meta's 16 MiB is refused; a customer's
// photo is served to its tenant and 404 to another; a node without --media-allow-private refuses a loopback link.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/eventually"
	"github.com/switchboard-hq/switchboard/ingest/whatsapp/sim"
)

const (
	medAcme   = "media-acme-token-000001"
	medGlobex = "media-globex-token-0001"
	medConfig = `tenants:
  - id: acme
    channels:
      - {id: acme-wa, type: whatsapp, phone_number_id: "` + conPhone + `", app_secret: "` + outSecret + `", verify_token: v, access_token: acme-access}
    operators:
      - {id: alice, name: Alice, role: admin, token: "` + medAcme + `"}
  - id: globex
    channels:
      - {id: globex-wa, type: whatsapp, phone_number_id: "900800700", app_secret: "` + outSecret + `", verify_token: v, access_token: globex-access}
    operators:
      - {id: dave, name: Dave, role: admin, token: "` + medGlobex + `"}
`
)

// uploadFile posts a multipart upload through the node and returns the status and body.
func uploadFile(t *testing.T, n *node, token, name string, data []byte) (int, []byte) {
	t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		mw.WriteField("channel_id", "acme-wa")
		f, _ := mw.CreateFormFile("file", name)
		f.Write(data)
		pw.CloseWithError(mw.Close())
	}()
	return n.send(http.MethodPost, "/v1/media", token, mw.FormDataContentType(), pr)
}

func TestMediaThroughTheNode(t *testing.T) {
	n, s := startNodeWithSim(t, medConfig, simConfig(sim.FailConfig{}))

	mp4 := append([]byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom\x00\x00\x00\x08free"), make([]byte, 10<<20)...)
	code, b := uploadFile(t, n, medAcme, "tour.mp4", mp4)
	var up struct {
		ID, Type string
		Size     int64
	}
	if code != http.StatusCreated || json.Unmarshal(b, &up) != nil || up.Type != "video" || up.Size != int64(len(mp4)) {
		t.Fatalf("upload of 10 MiB = %d %s", code, b)
	}
	if f, ok := s.Media(up.ID); !ok || !bytes.Equal(f.Data, mp4) {
		t.Fatalf("the simulator does not hold the upload")
	}
	big := append(append([]byte{}, mp4...), make([]byte, 7<<20)...)
	code, b = uploadFile(t, n, medAcme, "long.mp4", big)
	if code != http.StatusRequestEntityTooLarge || !bytes.Contains(b, []byte("media_too_large")) {
		t.Errorf("upload of a 17 MiB video = %d %s, want 413 media_too_large", code, b)
	}

	// A customer's photo: served to acme, 404 to globex.
	photo := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), make([]byte, 500)...)
	id, _, err := s.SendCustomerMedia(context.Background(), sim.CustomerMedia{PhoneNumberID: conPhone, From: "4915100001111",
		ProfileName: "Lena", MIMEType: "image/png", Data: photo})
	if err != nil {
		t.Fatal(err)
	}
	conv := conversation.ID("acme-wa", "4915100001111")
	eventually.True(t, 20*time.Second, 50*time.Millisecond, func() bool {
		code, v := n.conversation(medAcme, conv)
		return code == 200 && len(v.Messages) == 1
	}, "the photo message stored")
	code, got := n.get("/v1/media/"+id, medAcme)
	if code != 200 || !bytes.Equal(got, photo) {
		t.Errorf("GET the photo as acme = %d, %d bytes", code, len(got))
	}
	n.refused("GET", "/v1/media/"+id, medGlobex, nil, http.StatusNotFound, "media_not_found")

	// Links: a file on loopback is fetched while the node allows private addresses (the harness's default)...
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(photo) }))
	defer srv.Close()
	n.mustCall("PUT", "/v1/operators/me/availability", medAcme, map[string]string{"availability": "online"}, 200)
	n.mustCall("POST", "/v1/conversations/"+conv+"/take", medAcme, nil, 200)
	link := map[string]any{"type": "image", "image": map[string]string{"link": srv.URL + "/p.png"}}
	n.mustCall("POST", "/v1/conversations/"+conv+"/messages", medAcme, link, 201)
	// ...and refused by a node that does not.
	n.stop()
	n.extra = append(n.extra, "--media-allow-private=false")
	n.start()
	n.refused("POST", "/v1/conversations/"+conv+"/messages", medAcme, link, http.StatusBadRequest, "media_link_refused")
}
