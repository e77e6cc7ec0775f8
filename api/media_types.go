package api

// What WhatsApp takes as media, judged by content: the MIME type github.com/gabriel-vasile/mimetype detects in a
// file's first bytes decides its message type and its size limit, whatever the file's name or the client's
// Content-Type say. The limits are Meta's (Cloud API, "Supported media types"), in binary units.

import (
	"bytes"
	"fmt"

	"github.com/gabriel-vasile/mimetype"
)

// Meta's size limits.
const (
	MaxImageBytes          = 5 << 20   // JPEG, PNG
	MaxVideoBytes          = 16 << 20  // MP4, 3GPP
	MaxAudioBytes          = 16 << 20  // AAC, AMR, MP3, MP4 audio, OGG with Opus
	MaxDocumentBytes       = 100 << 20 // TXT, PDF, DOC(X), XLS(X), PPT(X)
	MaxStickerBytes        = 100 << 10 // WebP, static
	MaxAnimatedStickerSize = 500 << 10 // WebP, animated
	// MaxMediaBytes is the largest file of any type: no upload is read beyond it.
	MaxMediaBytes = MaxDocumentBytes
)

// mediaKind is how WhatsApp takes one MIME type: as which message type, up to how many bytes.
type mediaKind struct {
	typ string
	max int64
}

// mediaKinds are the MIME types WhatsApp takes, as the detector names them (its aliases map to these).
var mediaKinds = map[string]mediaKind{
	"image/jpeg":         {"image", MaxImageBytes},
	"image/png":          {"image", MaxImageBytes},
	"video/mp4":          {"video", MaxVideoBytes},
	"video/3gpp":         {"video", MaxVideoBytes},
	"audio/aac":          {"audio", MaxAudioBytes},
	"audio/amr":          {"audio", MaxAudioBytes},
	"audio/mpeg":         {"audio", MaxAudioBytes},
	"audio/mp4":          {"audio", MaxAudioBytes},
	"audio/ogg":          {"audio", MaxAudioBytes}, // Opus only: see classifyMedia
	"text/plain":         {"document", MaxDocumentBytes},
	"application/pdf":    {"document", MaxDocumentBytes},
	"application/msword": {"document", MaxDocumentBytes},
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document": {"document", MaxDocumentBytes},
	"application/vnd.ms-excel": {"document", MaxDocumentBytes},
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         {"document", MaxDocumentBytes},
	"application/vnd.ms-powerpoint":                                             {"document", MaxDocumentBytes},
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": {"document", MaxDocumentBytes},
	"image/webp": {"sticker", MaxStickerBytes},
}

// sameAs maps detected types WhatsApp takes under another name.
var sameAs = map[string]string{
	"audio/x-m4a": "audio/mp4", // an M4A file is MP4 audio
	"image/apng":  "image/png", // an animated PNG is a PNG
}

// mediaCheck is the verdict on a file: its MIME type and message type, or the error code and message refusing it.
type mediaCheck struct {
	mime, typ   string
	code, msg   string
	limit, size int64
}

// classifyMedia judges a file of size bytes by its first bytes (head; mimetype reads at most 3 KiB of it).
func classifyMedia(head []byte, size int64) mediaCheck {
	m := mimetype.Detect(head)
	name := m.String()
	if i := bytes.IndexByte([]byte(name), ';'); i >= 0 {
		name = name[:i] // "text/plain; charset=utf-8"
	}
	if n, ok := sameAs[name]; ok {
		name = n
	}
	k, ok := mediaKinds[name]
	if name == "audio/ogg" && !bytes.Contains(head, []byte("OpusHead")) {
		ok = false // WhatsApp takes Ogg audio with the Opus codec only
	}
	if !ok {
		return mediaCheck{mime: name, size: size, code: codeMediaTypeUnsupported, msg: fmt.Sprintf("The file's content is %s%s, "+
			"which WhatsApp does not take; it takes JPEG and PNG images, MP4 and 3GPP video, AAC, AMR, MP3, MP4 and "+
			"Ogg Opus audio, WebP stickers and TXT, PDF, DOC(X), XLS(X) and PPT(X) documents", name, extOf(m))}
	}
	c := mediaCheck{mime: name, typ: k.typ, limit: k.max, size: size}
	if k.typ == "sticker" && animatedWebP(head) {
		c.limit = MaxAnimatedStickerSize
	}
	if size > c.limit {
		c.code, c.msg = codeMediaTooLarge, fmt.Sprintf("The file is %s of %s; WhatsApp takes at most %s for %s",
			sizeText(size), name, sizeText(c.limit), kindText(c))
	}
	return c
}

func extOf(m *mimetype.MIME) string {
	if e := m.Extension(); e != "" {
		return " (" + e + ")"
	}
	return ""
}

func kindText(c mediaCheck) string {
	if c.typ == "sticker" && c.limit == MaxAnimatedStickerSize {
		return "an animated sticker"
	}
	if c.typ == "sticker" {
		return "a sticker"
	}
	return c.typ + "s of that type"
}

// animatedWebP reports whether a WebP file's extended header (VP8X) has its animation flag set.
func animatedWebP(head []byte) bool {
	return len(head) >= 21 && string(head[12:16]) == "VP8X" && head[20]&0x02 != 0
}

// sizeText writes a byte count for people: "5 MiB", "100 KiB", "12.3 MiB".
func sizeText(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
