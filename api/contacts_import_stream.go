package api

import (
	"strings"

	"github.com/valyala/fasthttp"
)

// ImportStreamsBody reports whether a request's body is read by its handler as a stream, so the server must
// neither buffer it nor apply its body size limit (ingest/server Config.StreamsBody): POST /v1/contacts/import.
func ImportStreamsBody(method, path []byte) bool {
	return string(method) == fasthttp.MethodPost && strings.TrimSuffix(string(path), "/") == "/v1/contacts/import"
}
