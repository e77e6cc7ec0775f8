package api

import (
	"errors"

	"github.com/valyala/fasthttp"

	"github.com/switchboard-hq/switchboard/actors/canned"
	"github.com/switchboard-hq/switchboard/actors/contact"
	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/operator"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/template"
	"github.com/switchboard-hq/switchboard/actors/tenant"
)

// ErrNotFound is wrapped by a Reader's error when the tenant has no such conversation.
var ErrNotFound = errors.New("not found")

// ErrBadCursor is wrapped by Reader.ListConversations' error for a cursor it did not make.
var ErrBadCursor = errors.New("malformed cursor")

// codeStatus is the HTTP status of every error code the API answers: the domain's refusal codes (actors/conversation,
// actors/operator), the router's own outcomes, and the API's. It is the one place a code becomes a status
// (docs/contract.md, "Operator API": 400 invalid input, 401 no or unknown token, 403 role forbids it, 404 not found,
// 409 transition not allowed, 422 window_closed, 503 temporarily unavailable; and, for sign-in and the live stream,
// 429 too many attempts or streams).
var codeStatus = map[string]int{
	// The conversation rules.
	conversation.CodeInvalidCommand:      fasthttp.StatusBadRequest,
	conversation.CodeInvalidOperator:     fasthttp.StatusBadRequest,
	conversation.CodeInvalidUntil:        fasthttp.StatusBadRequest,
	conversation.CodeInvalidLabel:        fasthttp.StatusBadRequest,
	conversation.CodeUnknownLabel:        fasthttp.StatusBadRequest,
	conversation.CodeInvalidMessage:      fasthttp.StatusBadRequest,
	conversation.CodeInvalidSeq:          fasthttp.StatusBadRequest,
	conversation.CodeForbidden:           fasthttp.StatusForbidden,
	conversation.CodeNotFound:            fasthttp.StatusNotFound,
	conversation.CodeAlreadyAssigned:     fasthttp.StatusConflict,
	conversation.CodeConversationClosed:  fasthttp.StatusConflict,
	conversation.CodeConversationSnoozed: fasthttp.StatusConflict,
	conversation.CodeNotAssigned:         fasthttp.StatusConflict,
	conversation.CodeNotUnassigned:       fasthttp.StatusConflict,
	conversation.CodeAlreadyClosed:       fasthttp.StatusConflict,
	conversation.CodeNotClosed:           fasthttp.StatusConflict,
	conversation.CodeSnoozeClosed:        fasthttp.StatusConflict,
	conversation.CodeNotSnoozed:          fasthttp.StatusConflict,
	conversation.CodeInvalidStatus:       fasthttp.StatusConflict,
	conversation.CodeWindowClosed:        fasthttp.StatusUnprocessableEntity,
	conversation.CodeErased:              fasthttp.StatusConflict,

	// The operator rules, and routing's refusals of an assignment. invalid_command, invalid_operator and forbidden
	// are the conversation rules' codes too, with the same meaning.
	operator.CodeInvalidAvailability: fasthttp.StatusBadRequest,
	operator.CodeNotFound:            fasthttp.StatusNotFound,
	operator.CodeAtCapacity:          fasthttp.StatusConflict,
	operator.CodeNotOnline:           fasthttp.StatusConflict,
	operator.CodeNotAssignable:       fasthttp.StatusConflict,

	// The template catalogue's send check (actors/template) and the API's template codes (templates.go).
	template.CodeNotFound:      fasthttp.StatusBadRequest,
	template.CodeNotApproved:   fasthttp.StatusUnprocessableEntity,
	template.CodeInvalidParams: fasthttp.StatusBadRequest,
	codeChannelNotFound:        fasthttp.StatusNotFound,
	codeChannelRemoved:         fasthttp.StatusConflict, // channels.go: a reply on a removed channel
	codeGraphFailed:            fasthttp.StatusBadGateway,

	// The contact rules (the tenant's catalogue).
	contact.CodeInvalidPhone:   fasthttp.StatusBadRequest,
	contact.CodeInvalidField:   fasthttp.StatusBadRequest,
	contact.CodeUnknownField:   fasthttp.StatusBadRequest,
	contact.CodeContactExists:  fasthttp.StatusConflict,
	contact.CodeNotFound:       fasthttp.StatusNotFound,
	contact.CodeDuplicatePhone: fasthttp.StatusBadRequest,
	contact.CodeContactBlocked: fasthttp.StatusConflict,
	contact.CodeInvalidCommand: fasthttp.StatusBadRequest,

	// The router's outcomes that are not rules' refusals.
	tenant.CodeInvalidSetting: fasthttp.StatusBadRequest,
	tenant.CodeLastAdmin:      fasthttp.StatusConflict,
	// tenant.CodeChannelNotFound is codeChannelNotFound (templates.go), a 404 too.
	tenant.CodeChannelExists: fasthttp.StatusConflict,
	// The labels catalogue (labels.go).
	tenant.CodeLabelNotFound: fasthttp.StatusNotFound,
	tenant.CodeLabelExists:   fasthttp.StatusConflict,
	// The team (team.go).
	tenant.CodeInviteNotFound: fasthttp.StatusNotFound,
	tenant.CodeOperatorExists: fasthttp.StatusConflict,
	tenant.CodeTokenNotFound:  fasthttp.StatusNotFound,
	codeWeakPassword:          fasthttp.StatusBadRequest,
	codeInsufficientScope:     fasthttp.StatusForbidden,
	outcome.CodeReplayed:      fasthttp.StatusConflict,
	outcome.CodeInternal:      fasthttp.StatusInternalServerError,

	// The API's own.
	codeUnauthorized:         fasthttp.StatusUnauthorized,
	codeNotFound:             fasthttp.StatusNotFound,
	codeMethodNotAllowed:     fasthttp.StatusMethodNotAllowed,
	codeInvalidJSON:          fasthttp.StatusBadRequest,
	codeInvalidNote:          fasthttp.StatusBadRequest,
	codeInvalidStatusFilter:  fasthttp.StatusBadRequest,
	codeInvalidLimit:         fasthttp.StatusBadRequest,
	codeInvalidFilter:        fasthttp.StatusBadRequest,
	codeInvalidSort:          fasthttp.StatusBadRequest,
	codeInvalidOrder:         fasthttp.StatusBadRequest,
	codeInvalidCursor:        fasthttp.StatusBadRequest,
	codeInvalidQuery:         fasthttp.StatusBadRequest,
	codeInvalidBefore:        fasthttp.StatusBadRequest,
	codeInvalidSince:         fasthttp.StatusBadRequest,
	codeInvalidFrom:          fasthttp.StatusBadRequest,
	codeInvalidTo:            fasthttp.StatusBadRequest,
	codeInvalidRange:         fasthttp.StatusBadRequest,
	codeInvalidRows:          fasthttp.StatusBadRequest,
	codeStoreUnavailable:     fasthttp.StatusServiceUnavailable,
	codeAnalyticsUnavailable: fasthttp.StatusServiceUnavailable,
	codeUnavailable:          fasthttp.StatusServiceUnavailable,
	codeOutcomeUnknown:       fasthttp.StatusServiceUnavailable,
	codeInvalidCredentials:   fasthttp.StatusUnauthorized,
	codeTooManyAttempts:      fasthttp.StatusTooManyRequests,
	codeCSRF:                 fasthttp.StatusForbidden,
	codeTooManyStreams:       fasthttp.StatusTooManyRequests,
	codeInvalidPresence:      fasthttp.StatusBadRequest,
	// Several nodes (cluster.go).
	codeNotOwner:         fasthttp.StatusMisdirectedRequest,
	codeForwardRefused:   fasthttp.StatusUnauthorized,
	codeOwnerUnavailable: fasthttp.StatusServiceUnavailable,

	// Attachments (media.go).
	codeMediaTypeUnsupported: fasthttp.StatusBadRequest,
	codeMediaTooLarge:        fasthttp.StatusRequestEntityTooLarge,
	codeMediaNotFound:        fasthttp.StatusNotFound,
	codeInvalidUpload:        fasthttp.StatusBadRequest,
	codeMediaLinkRefused:     fasthttp.StatusBadRequest,
	codeMediaUnavailable:     fasthttp.StatusServiceUnavailable,
	codeMediaUpstream:        fasthttp.StatusBadGateway,
	// The contacts import's (api/contacts_import.go): the file's refusals; the row codes appear only in reports.
	codeUnknownColumn:   fasthttp.StatusBadRequest,
	codeMissingColumn:   fasthttp.StatusBadRequest,
	codeDuplicateColumn: fasthttp.StatusBadRequest,
	codeInvalidCSV:      fasthttp.StatusBadRequest,
	codeInvalidEncoding: fasthttp.StatusBadRequest,
	codeLineTooLong:     fasthttp.StatusBadRequest,
	codeRowTooLarge:     fasthttp.StatusBadRequest,
	codeTenantMismatch:  fasthttp.StatusForbidden,
	codeTooManyImports:  fasthttp.StatusServiceUnavailable,
	// Canned responses (actors/canned; forbidden is the conversation rules' code too).
	canned.CodeInvalid:  fasthttp.StatusBadRequest,
	canned.CodeNotFound: fasthttp.StatusNotFound,
	canned.CodeExists:   fasthttp.StatusConflict,
	canned.CodeTooMany:  fasthttp.StatusConflict,
}

// The API's own error codes.
const (
	codeUnauthorized         = "unauthorized"
	codeNotFound             = "not_found" // no such endpoint or action
	codeMethodNotAllowed     = "method_not_allowed"
	codeInvalidJSON          = "invalid_json"
	codeInvalidNote          = "invalid_note"
	codeInvalidStatusFilter  = "invalid_status" // the status query parameter
	codeInvalidLimit         = "invalid_limit"
	codeInvalidFilter        = "invalid_filter" // assignee, label, channel, closed_by, unread or mentions
	codeInvalidSort          = "invalid_sort"
	codeInvalidOrder         = "invalid_order"
	codeInvalidCursor        = "invalid_cursor"
	codeInvalidQuery         = "invalid_query" // the q of GET /v1/search
	codeInvalidBefore        = "invalid_before"
	codeInvalidSince         = "invalid_since"
	codeInvalidFrom          = "invalid_from"  // the from of GET /v1/insights
	codeInvalidTo            = "invalid_to"    // the to of GET /v1/insights
	codeInvalidRange         = "invalid_range" // from not before to, or a range over MaxInsightsRange
	codeInvalidRows          = "invalid_rows"  // the rows of GET /v1/insights.csv
	codeStoreUnavailable     = "store_unavailable"
	codeAnalyticsUnavailable = "analytics_unavailable"
	codeUnavailable          = "unavailable"
	codeOutcomeUnknown       = "outcome_unknown"
)

// StatusOf is the HTTP status of an error code; a code missing from the table is a bug, answered 500.
func StatusOf(code string) int {
	if st, ok := codeStatus[code]; ok {
		return st
	}
	return fasthttp.StatusInternalServerError
}

// fail answers the contract's error shape with code's status.
func fail(ctx *fasthttp.RequestCtx, code, msg string) {
	WriteError(ctx, StatusOf(code), code, msg)
}
