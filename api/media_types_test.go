package api

import (
	"bytes"
	"strings"
	"testing"
)

// Sample file starts, as each format begins.
var (
	pngHead  = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")
	jpegHead = []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
	pdfHead  = []byte("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n")
	mp4Head  = []byte("\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom\x00\x00\x00\x08free")
	m4aHead  = []byte("\x00\x00\x00\x18ftypM4A \x00\x00\x00\x00M4A mp42\x00\x00\x00\x08free")
	gp3Head  = []byte("\x00\x00\x00\x14ftyp3gp4\x00\x00\x00\x00isom\x00\x00\x00\x08free")
	mp3Head  = append([]byte("ID3\x03\x00\x00\x00\x00\x00\x0a"), make([]byte, 10)...)
	oggOpus  = append([]byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x13"), []byte("OpusHead\x01\x01\x38\x01\x80\xbb\x00\x00\x00\x00\x00")...)
	oggVorb  = append([]byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x1e"), []byte("\x01vorbis\x00\x00\x00\x00\x02\x44\xac\x00\x00")...)
	exeHead  = append([]byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"), make([]byte, 60)...)
	zipHead  = []byte("PK\x03\x04\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x05\x00\x00\x00a.txt")
	htmlHead = []byte("<!DOCTYPE html><html><script>alert(1)</script></html>")
	textHead = []byte("Order 42: two boxes, one return label.\nThanks!\n")
	webpHead = []byte("RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00")
	webpAnim = []byte("RIFF\x24\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00")
	svgHead  = []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)
)

// Files are judged by content: each is taken as its kind within Meta's limit, refused past it, and anything else
// (an executable, an archive, HTML, SVG, Ogg Vorbis) is refused whatever it is called.
func TestClassifyMedia(t *testing.T) {
	for _, c := range []struct {
		name       string
		head       []byte
		size       int64
		mime, typ  string
		code, says string
	}{
		{"png", pngHead, 1000, "image/png", "image", "", ""},
		{"jpeg", jpegHead, MaxImageBytes, "image/jpeg", "image", "", ""},
		{"jpeg one byte over", jpegHead, MaxImageBytes + 1, "image/jpeg", "image", codeMediaTooLarge, "at most 5 MiB"},
		{"mp4 video", mp4Head, MaxVideoBytes, "video/mp4", "video", "", ""},
		{"mp4 video over", mp4Head, MaxVideoBytes + 1, "video/mp4", "video", codeMediaTooLarge, "16 MiB"},
		{"3gpp video", gp3Head, 1000, "video/3gpp", "video", "", ""},
		{"m4a audio", m4aHead, 1000, "audio/mp4", "audio", "", ""},
		{"mp3 audio", mp3Head, MaxAudioBytes, "audio/mpeg", "audio", "", ""},
		{"ogg opus", oggOpus, 1000, "audio/ogg", "audio", "", ""},
		{"ogg vorbis", oggVorb, 1000, "audio/ogg", "", codeMediaTypeUnsupported, "audio/ogg"},
		{"pdf", pdfHead, MaxDocumentBytes, "application/pdf", "document", "", ""},
		{"pdf over", pdfHead, MaxDocumentBytes + 1, "application/pdf", "document", codeMediaTooLarge, "100 MiB"},
		{"text", textHead, 100, "text/plain", "document", "", ""},
		{"static sticker", webpHead, MaxStickerBytes, "image/webp", "sticker", "", ""},
		{"static sticker over", webpHead, MaxStickerBytes + 1, "image/webp", "sticker", codeMediaTooLarge, "100 KiB for a sticker"},
		{"animated sticker", webpAnim, MaxAnimatedStickerSize, "image/webp", "sticker", "", ""},
		{"animated sticker over", webpAnim, MaxAnimatedStickerSize + 1, "image/webp", "sticker", codeMediaTooLarge, "500 KiB"},
		{"exe", exeHead, 1000, "", "", codeMediaTypeUnsupported, "does not take"},
		{"zip", zipHead, 1000, "application/zip", "", codeMediaTypeUnsupported, "application/zip"},
		{"html", htmlHead, 100, "text/html", "", codeMediaTypeUnsupported, "text/html"},
		{"svg", svgHead, 100, "image/svg+xml", "", codeMediaTypeUnsupported, "image/svg+xml"},
	} {
		got := classifyMedia(c.head, c.size)
		if c.mime != "" && got.mime != c.mime || got.typ != c.typ && c.code != codeMediaTypeUnsupported || got.code != c.code {
			t.Errorf("%s: %+v, want %s %s %q", c.name, got, c.mime, c.typ, c.code)
		}
		if !strings.Contains(got.msg, c.says) {
			t.Errorf("%s: message %q does not say %q", c.name, got.msg, c.says)
		}
	}
}

func TestSizeText(t *testing.T) {
	for n, want := range map[int64]string{5 << 20: "5 MiB", 100 << 10: "100 KiB", 1536: "1.5 KiB", 12: "12 bytes",
		5<<20 + 1<<19: "5.5 MiB"} {
		if got := sizeText(n); got != want {
			t.Errorf("sizeText(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestCleanFilename(t *testing.T) {
	for in, want := range map[string]string{"photo.png": "photo.png", `C:\Users\x\évidence.pdf`: "évidence.pdf",
		"../../etc/passwd": "passwd", "a\x00b\nc.txt": "abc.txt", "": "", strings.Repeat("é", 150): strings.Repeat("é", 100)} {
		if got := cleanFilename(in); got != want {
			t.Errorf("cleanFilename(%q) = %q, want %q", in, got, want)
		}
	}
	if got := asciiName(`é"x\.pdf`); !bytes.Equal([]byte(got), []byte("__x_.pdf")) {
		t.Errorf("asciiName = %q", got)
	}
}
