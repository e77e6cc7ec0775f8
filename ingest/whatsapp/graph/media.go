package graph

// Media: uploading a file to a phone number's media store, reading a media id's download URL and fetching it.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	neturl "net/url"
	"strings"
)

// NotFound reports whether the Graph API answered that the object does not exist (HTTP 404, or 400 with code 100:
// an unknown or expired media id).
func (e *Error) NotFound() bool {
	return e.Status == http.StatusNotFound || e.Status == http.StatusBadRequest && e.Code == 100
}

// ErrTooLarge is returned by Download when the media is larger than its bound.
var ErrTooLarge = errors.New("media larger than allowed")

// ErrURLRefused is Download's error for a URL it will not send the token to.
var ErrURLRefused = errors.New("not https and not the Graph API's host")

// maxAnswer bounds the JSON answers read (ids, media infos, errors).
const maxAnswer = 64 << 10

// MediaInfo is what GET /{media-id} answers: where to download the media and what it is.
type MediaInfo struct {
	ID       string `json:"id"`
	URL      string `json:"url"`
	MIMEType string `json:"mime_type"`
	SHA256   string `json:"sha256"`
	FileSize int64  `json:"file_size"`
}

// Upload streams a file to the media store of a phone number (POST /{phone-number-id}/media, multipart with
// messaging_product=whatsapp, type and file) and returns its media id. body is read once, to its end; mimeType is
// what the caller determined the content to be (Meta checks it against the content).
func (c *Client) Upload(ctx context.Context, phoneNumberID, token string, body io.Reader, filename, mimeType string) (string, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			if err := mw.WriteField("messaging_product", "whatsapp"); err != nil {
				return err
			}
			if err := mw.WriteField("type", mimeType); err != nil {
				return err
			}
			h := textproto.MIMEHeader{}
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, safeName(filename)))
			h.Set("Content-Type", mimeType)
			part, err := mw.CreatePart(h)
			if err != nil {
				return err
			}
			if _, err := io.Copy(part, body); err != nil {
				return err
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.BaseURL, "/")+"/"+phoneNumberID+"/media", pr)
	if err != nil {
		pr.CloseWithError(err)
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	var out struct {
		ID string `json:"id"`
	}
	err = c.postJSON(req, &out)
	pr.CloseWithError(errors.New("upload answered")) // ends the writer if the answer came before the body was read
	if err != nil {
		return "", fmt.Errorf("upload media to %s: %w", phoneNumberID, err)
	}
	if out.ID == "" {
		return "", fmt.Errorf("upload media to %s: the answer has no id", phoneNumberID)
	}
	return out.ID, nil
}

// Info reads where a media id can be downloaded and what it is (GET /{media-id}). An unknown or expired id is an
// *Error whose NotFound is true.
func (c *Client) Info(ctx context.Context, mediaID, token string) (MediaInfo, error) {
	var info MediaInfo
	if mediaID == "" || strings.ContainsAny(mediaID, "/?#") {
		return info, fmt.Errorf("graph api: invalid media id %q", mediaID)
	}
	if err := c.get(ctx, strings.TrimSuffix(c.BaseURL, "/")+"/"+mediaID, token, &info); err != nil {
		return info, fmt.Errorf("media %s: %w", mediaID, err)
	}
	if info.URL == "" {
		return info, fmt.Errorf("media %s: the answer has no url", mediaID)
	}
	return info, nil
}

// Download copies the media at url (from Info; it needs the same token) to w and returns how many bytes it wrote. A
// media of more than max bytes, by its Content-Length or by what arrives, is ErrTooLarge; w may then hold a part.
//
// The token goes only to an https URL or to BaseURL's own scheme and host (Meta's download URLs are https on
// another host; the simulator serves them on its own): a URL that is neither, as a compromised or mistaken Info
// answer could give, is ErrURLRefused and is not requested, so the channel's token never travels in clear to a
// host the node was not configured with.
func (c *Client) Download(ctx context.Context, url, token string, w io.Writer, max int64) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	if !c.trusted(req.URL) {
		return 0, fmt.Errorf("download media from %s://%s: %w", req.URL.Scheme, req.URL.Host, ErrURLRefused)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return 0, fmt.Errorf("download media: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("download media: %w", apiError(resp))
	}
	if resp.ContentLength > max {
		return 0, fmt.Errorf("download media of %d bytes: %w", resp.ContentLength, ErrTooLarge)
	}
	n, err := io.Copy(w, io.LimitReader(resp.Body, max+1))
	if err != nil {
		return n, fmt.Errorf("download media: %w", err)
	}
	if n > max {
		return n, fmt.Errorf("download media over %d bytes: %w", max, ErrTooLarge)
	}
	return n, nil
}

// trusted reports whether Download may send the token to u: https, or BaseURL's scheme and host.
func (c *Client) trusted(u *neturl.URL) bool {
	if u.Scheme == "https" && u.Host != "" {
		return true
	}
	base, err := neturl.Parse(c.BaseURL)
	return err == nil && base.Host != "" && u.Scheme == base.Scheme && u.Host == base.Host
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP == nil {
		return http.DefaultClient
	}
	return c.HTTP
}

// postJSON sends req and decodes a 200 answer into v; any other status is an *Error.
func (c *Client) postJSON(req *http.Request, v any) error {
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return apiError(resp)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxAnswer)).Decode(v); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}

// apiError reads Meta's error shape {"error":{"message","type","code"}} from a failed answer.
func apiError(resp *http.Response) *Error {
	var body struct {
		Error Error `json:"error"`
	}
	_ = json.NewDecoder(io.LimitReader(resp.Body, maxAnswer)).Decode(&body)
	e := body.Error
	e.Status = resp.StatusCode
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	return &e
}

// safeName keeps a file name to one line of printable characters without quotes or path separators.
func safeName(name string) string {
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' || r == '\\' || r == '/' {
			return '_'
		}
		return r
	}, name)
	if name == "" {
		return "file"
	}
	return name
}
