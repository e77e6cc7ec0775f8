package sim

import (
	"encoding/json"
	"strconv"

	"github.com/valyala/fasthttp"
)

// Meta's error codes the simulator answers with, each with the HTTP status it is sent with. The Cloud API
// documents them under "Error codes".
const (
	// CodeInvalidParameter is a required parameter missing, of the wrong JSON type or too long, or an unsupported
	// request (unknown phone number id, wrong method). HTTP 400.
	CodeInvalidParameter = 100
	// CodeServiceUnavailable is an injected server error. HTTP 503.
	CodeServiceUnavailable = 2
	// CodeAccessToken is a missing, malformed or (with Config.Tokens) wrong access token. HTTP 401.
	CodeAccessToken = 190
	// CodeUnknownPath is a path that is not a send endpoint. HTTP 400.
	CodeUnknownPath = 2500
	// CodeRateLimit is the per-phone-number throughput limit, from the bucket or injected. HTTP 429.
	CodeRateLimit = 130429
	// CodeSomethingWentWrong is an injected server error. HTTP 500.
	CodeSomethingWentWrong = 131000
	// CodeInvalidValue is a parameter present but with a value Meta refuses: a recipient that is not 7 to 15
	// digits, a media link that is not an http(s) URL, a button count out of range, repeated button ids. HTTP 400.
	CodeInvalidValue = 131009
	// CodeUndeliverable is sent for every recipient starting with "999" and is the default Fail.PermanentCode.
	// HTTP 400, or a failed status webhook with Fail.PermanentAsync.
	CodeUndeliverable = 131026
	// CodeReengagement is sent for a free-form (non-template) message to a recipient starting with "998": the
	// customer service window is closed. HTTP 400, or a failed status webhook with Fail.PermanentAsync.
	CodeReengagement = 131047
	// CodeTemplateMissing is sent for a template named "missing_template". HTTP 404.
	CodeTemplateMissing = 132001
	// CodeParamsMissing: a LOCATION header's parameter without its name or address. HTTP 400.
	CodeParamsMissing = 131008
	// CodeParamCount: a send of a seeded template with more or fewer body, header or button parameters than it
	// takes (a dynamic URL button's suffix left out, say). HTTP 400.
	CodeParamCount = 132000
	// CodeParamFormat: a send of a seeded template whose parameter is of another kind than the template's (an image
	// for a location header, a button's sub_type not its type, a parameter_name it does not have). HTTP 400.
	CodeParamFormat = 132012
)

// Deterministic permanent errors, so tests can trigger them without injection.
const (
	// UndeliverablePrefix starts every recipient that gets CodeUndeliverable.
	UndeliverablePrefix = "999"
	// WindowClosedPrefix starts every recipient outside the customer service window: free-form messages to it get
	// CodeReengagement, templates are accepted.
	WindowClosedPrefix = "998"
	// MissingTemplate is the template name that does not exist: it gets CodeTemplateMissing.
	MissingTemplate = "missing_template"
)

// apiError is one error answer in Meta's shape.
type apiError struct {
	status  int
	code    int
	typ     string // "OAuthException" unless Meta uses another
	message string // Meta's title, without the "(#code) " prefix
	details string // error_data.details
}

// titles are Meta's titles of the codes the simulator sends, including the permanent codes Fail.PermanentCode may
// name; another code gets genericTitle.
var titles = map[int]string{
	CodeInvalidParameter:   "Invalid parameter",
	CodeServiceUnavailable: "Service temporarily unavailable",
	CodeAccessToken:        "Invalid OAuth access token - Cannot parse access token",
	CodeUnknownPath:        "Unknown path components",
	CodeRateLimit:          "Rate limit hit",
	CodeSomethingWentWrong: "Something went wrong",
	CodeInvalidValue:       "Parameter value is not valid",
	131021:                 "Recipient cannot be sender",
	CodeUndeliverable:      "Message undeliverable",
	131031:                 "Account has been locked",
	CodeReengagement:       "Re-engagement message",
	131049:                 "Meta chose not to deliver",
	131050:                 "User stopped marketing messages",
	131051:                 "Unsupported message type",
	CodeParamsMissing:      "Required parameter is missing",
	CodeParamCount:         "Number of parameters does not match the expected number of params",
	CodeParamFormat:        "Parameter format does not match format in the created template",
	CodeTemplateMissing:    "Template name does not exist in the translation",
	132015:                 "Template is paused",
	132016:                 "Template is disabled",
}

const genericTitle = "Message failed to send"

func title(code int) string {
	if t, ok := titles[code]; ok {
		return t
	}
	return genericTitle
}

// permanentStatus is the HTTP status Meta answers a permanent error with.
func permanentStatus(code int) int {
	if code == CodeTemplateMissing {
		return fasthttp.StatusNotFound
	}
	return fasthttp.StatusBadRequest
}

func invalidParam(details string) *apiError {
	return &apiError{status: fasthttp.StatusBadRequest, code: CodeInvalidParameter, message: title(CodeInvalidParameter), details: details}
}

func invalidValue(details string) *apiError {
	return &apiError{status: fasthttp.StatusBadRequest, code: CodeInvalidValue, message: title(CodeInvalidValue), details: details}
}

func permanent(code int, details string) *apiError {
	return &apiError{status: permanentStatus(code), code: code, message: title(code), details: details}
}

// errorBody is Meta's error envelope.
type errorBody struct {
	Error errorObject `json:"error"`
}

type errorObject struct {
	Message   string    `json:"message"`
	Type      string    `json:"type"`
	Code      int       `json:"code"`
	ErrorData errorData `json:"error_data"`
	TraceID   string    `json:"fbtrace_id"`
}

type errorData struct {
	MessagingProduct string `json:"messaging_product"`
	Details          string `json:"details"`
}

// write answers ctx with e. traceID is the fbtrace_id Meta adds to every error.
func (e *apiError) write(ctx *fasthttp.RequestCtx, traceID string) {
	typ := e.typ
	if typ == "" {
		typ = "OAuthException"
	}
	b, err := json.Marshal(errorBody{Error: errorObject{
		Message:   "(#" + strconv.Itoa(e.code) + ") " + e.message,
		Type:      typ,
		Code:      e.code,
		ErrorData: errorData{MessagingProduct: "whatsapp", Details: e.details},
		TraceID:   traceID,
	}})
	if err != nil {
		panic("BUG: marshal meta error: " + err.Error())
	}
	ctx.SetStatusCode(e.status)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}
