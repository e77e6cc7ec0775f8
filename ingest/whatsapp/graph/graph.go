// Package graph is a client of Meta's Graph API for what Switchboard reads from it besides sending messages: a
// WhatsApp Business Account's message template catalogue (and media, in media.go).
//
// It imports only the standard library. The API package never imports it: cmd/switchboard/node adapts it to the
// small interfaces the API defines.
package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// DefaultBaseURL is Meta's Graph API with the version Switchboard is written against.
const DefaultBaseURL = "https://graph.facebook.com/v21.0"

// MaxTemplatePages bounds the pages Templates follows: Meta allows far fewer templates per account than 100 pages
// of 100, so more pages mean a paging loop.
const MaxTemplatePages = 100

// maxPageBytes bounds one page's body.
const maxPageBytes = 16 << 20

// templateFields are the fields Templates asks for.
const templateFields = "id,name,language,status,category,components,quality_score,rejected_reason,parameter_format"

// Client calls the Graph API. Its zero value is not usable: BaseURL is required. It is safe for concurrent use.
type Client struct {
	// BaseURL is the Graph API root with its version, e.g. DefaultBaseURL or the simulator's URL.
	BaseURL string
	// HTTP makes the requests; nil means http.DefaultClient. Give it a timeout: a call only ends with ctx otherwise.
	HTTP *http.Client
	// PageSize is the templates asked for per page. 0 means 100.
	PageSize int
}

// Error is Meta's error answer.
type Error struct {
	Status  int    // HTTP status
	Code    int    `json:"code"`
	Type    string `json:"type"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("graph api: HTTP %d, code %d (%s): %s", e.Status, e.Code, e.Type, e.Message)
}

// ErrPaging is returned when a listing does not end within MaxTemplatePages pages.
var ErrPaging = errors.New("graph api: the listing did not end")

// Templates lists every message template of business account waba with token (a system user's or the channel's
// access token), following the cursors page by page, as Meta's objects (id, name, language, status, category,
// components, quality_score, rejected_reason, parameter_format). A refusal is an *Error.
func (c *Client) Templates(ctx context.Context, waba, token string) ([]json.RawMessage, error) {
	if waba == "" || strings.ContainsAny(waba, "/?#") {
		return nil, fmt.Errorf("graph api: invalid business account id %q", waba)
	}
	var out []json.RawMessage
	after := ""
	for range MaxTemplatePages {
		size := c.PageSize
		if size <= 0 {
			size = 100
		}
		q := url.Values{"fields": {templateFields}, "limit": {strconv.Itoa(size)}}
		if after != "" {
			q.Set("after", after)
		}
		var page struct {
			Data   []json.RawMessage `json:"data"`
			Paging struct {
				Cursors struct {
					After string `json:"after"`
				} `json:"cursors"`
				Next string `json:"next"`
			} `json:"paging"`
		}
		if err := c.get(ctx, strings.TrimSuffix(c.BaseURL, "/")+"/"+waba+"/message_templates?"+q.Encode(), token, &page); err != nil {
			return nil, fmt.Errorf("list templates of %s: %w", waba, err)
		}
		out = append(out, page.Data...)
		// Meta leaves "next" out of the last page; a cursor without it, or one that does not move, ends the list.
		if page.Paging.Next == "" || page.Paging.Cursors.After == "" || page.Paging.Cursors.After == after || len(page.Data) == 0 {
			return out, nil
		}
		after = page.Paging.Cursors.After
	}
	return nil, fmt.Errorf("list templates of %s: %w after %d pages", waba, ErrPaging, MaxTemplatePages)
}

// get GETs u with the bearer token and decodes a 200 answer into v; any other answer is an *Error.
func (c *Client) get(ctx context.Context, u, token string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPageBytes+1))
	if err != nil {
		return err
	}
	if len(body) > maxPageBytes {
		return fmt.Errorf("graph api: answer over %d bytes", maxPageBytes)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error Error `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		e.Error.Status = resp.StatusCode
		if e.Error.Message == "" {
			e.Error.Message = http.StatusText(resp.StatusCode)
		}
		return &e.Error
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("graph api: decode answer: %w", err)
	}
	return nil
}
