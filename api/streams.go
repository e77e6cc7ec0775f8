package api

import (
	"strings"

	"github.com/valyala/fasthttp"
)

// StreamsBody reports whether a request's body is read by its handler as a stream, so the node's server must
// neither buffer it nor apply its body size limit (ingest/server Config.StreamsBody): POST /v1/contacts/import and
// POST /v1/media (MediaStreamsBody). Such a handler bounds what it holds itself.
func StreamsBody(method, path []byte) bool {
	if string(method) != fasthttp.MethodPost {
		return false
	}
	switch strings.TrimSuffix(string(path), "/") {
	case "/v1/contacts/import", MediaPath:
		return true
	}
	return false
}
