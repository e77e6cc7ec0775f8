package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-hq/switchboard/actors/conversation"
	"github.com/switchboard-hq/switchboard/actors/operator"
	"github.com/switchboard-hq/switchboard/actors/outcome"
	"github.com/switchboard-hq/switchboard/actors/routing"
	"github.com/switchboard-hq/switchboard/api"
	"github.com/switchboard-hq/switchboard/ingest/inbox"
)

// faultyReader is the store's reader with the methods named in fail failing with errDisk.
type faultyReader struct {
	api.Reader
	fail map[string]bool
}

// errDisk is what a failing store says: a path and details a client must never see.
var errDisk = errors.New("pebble: read /var/lib/switchboard/store/000123.sst: input/output error")

func (r faultyReader) Conversation(tn, id string) (conversation.Conversation, error) {
	if r.fail["Conversation"] {
		return conversation.Conversation{}, errDisk
	}
	return r.Reader.Conversation(tn, id)
}

func (r faultyReader) ListConversations(tn string, q api.ListQuery) ([]conversation.Conversation, string, error) {
	if r.fail["ListConversations"] {
		return nil, "", errDisk
	}
	return r.Reader.ListConversations(tn, q)
}

func (r faultyReader) InboxCounts(tn, op string) (api.InboxCounts, error) {
	if r.fail["InboxCounts"] {
		return api.InboxCounts{}, errDisk
	}
	return r.Reader.InboxCounts(tn, op)
}

func (r faultyReader) Messages(tn, conv string, before uint64, limit int) ([]conversation.Message, error) {
	if r.fail["Messages"] {
		return nil, errDisk
	}
	return r.Reader.Messages(tn, conv, before, limit)
}

func (r faultyReader) Operators(tn string) ([]operator.State, error) {
	if r.fail["Operators"] {
		return nil, errDisk
	}
	return r.Reader.Operators(tn)
}

func (r faultyReader) OperatorLoads(tn string) (map[string]int, error) {
	if r.fail["OperatorLoads"] {
		return nil, errDisk
	}
	return r.Reader.OperatorLoads(tn)
}

func (r faultyReader) Search(tn string, q api.SearchQuery) ([]api.SearchHit, string, error) {
	if r.fail["Search"] {
		return nil, "", errDisk
	}
	return r.Reader.Search(tn, q)
}

func failing(methods ...string) func(api.Reader) api.Reader {
	return func(r api.Reader) api.Reader {
		f := faultyReader{Reader: r, fail: map[string]bool{}}
		for _, m := range methods {
			f.fail[m] = true
		}
		return f
	}
}

// logRecords keeps what the API logs, as "message err=…" lines.
type logRecords struct {
	mu    sync.Mutex
	lines []string
}

func (l *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecords) WithGroup(string) slog.Handler            { return l }
func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	line := r.Message
	r.Attrs(func(a slog.Attr) bool {
		line += " " + a.Key + "=" + a.Value.String()
		return true
	})
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
	return nil
}

func (l *logRecords) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

// An internal error is answered with its code and a fixed message, and logged whole: the client never sees a store
// path, a broker's words or ClickHouse's (review P3-13).
func TestInternalErrorsAreLoggedNotAnswered(t *testing.T) {
	id := conversation.ID("acme-wa", "15550001")
	errQuery := errors.New("clickhouse [127.0.0.1:9000]: code 60: table switchboard.events does not exist")
	for _, tc := range []struct {
		name, method, path, body string
		methods                  []string
		producer                 error
		code                     string
		secret                   string
	}{
		{"list", "GET", "/v1/conversations", "", []string{"ListConversations"}, nil, "store_unavailable", errDisk.Error()},
		{"counts", "GET", "/v1/inbox/counts", "", []string{"InboxCounts"}, nil, "store_unavailable", errDisk.Error()},
		{"get", "GET", "/v1/conversations/" + id, "", []string{"Conversation"}, nil, "store_unavailable", errDisk.Error()},
		{"messages of get", "GET", "/v1/conversations/" + id, "", []string{"Messages"}, nil, "store_unavailable", errDisk.Error()},
		{"messages", "GET", "/v1/conversations/" + id + "/messages", "", []string{"Messages"}, nil, "store_unavailable", errDisk.Error()},
		{"operators", "GET", "/v1/operators", "", []string{"Operators"}, nil, "store_unavailable", errDisk.Error()},
		{"loads", "GET", "/v1/operators", "", []string{"OperatorLoads"}, nil, "store_unavailable", errDisk.Error()},
		{"search", "GET", "/v1/search?q=customer", "", []string{"Search"}, nil, "store_unavailable", errDisk.Error()},
		{"command", "POST", "/v1/conversations/" + id + "/close", "", nil, errKafkaDown, "unavailable", errKafkaDown.Error()},
		{"insights", "GET", "/v1/insights", "", nil, nil, "analytics_unavailable", errQuery.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := &logRecords{}
			e := start(t, options{reader: failing(tc.methods...), logger: slog.New(log),
				insights: func(context.Context, string, time.Duration, bool) (any, error) { return nil, errQuery }})
			e.putConvs(t, conv("acme", id, conversation.Assigned, "alice"))
			e.prod.set(tc.producer, nil)
			token := aliceToken
			if tc.name == "insights" {
				token = carolToken // insights are for admins and builders
			}
			r := e.do(t, tc.method, tc.path, token, tc.body)
			wantError(t, tc.name, r, http.StatusServiceUnavailable, tc.code)
			for _, leak := range []string{tc.secret, "/var/lib", "pebble", "broker", "clickhouse"} {
				if strings.Contains(string(r.body), leak) {
					t.Errorf("the answer %s shows %q", r.body, leak)
				}
			}
			if !log.has(tc.secret) {
				t.Errorf("the error %q is not in the log %q", tc.secret, log.lines)
			}
		})
	}
}

// An operator change whose outcome arrived is durable: if the loads cannot be read afterwards it is still answered
// 200, with the operator's new state and no load, and the failure is logged (review P2-6).
func TestAppliedOperatorChangeAnsweredWithoutLoad(t *testing.T) {
	log := &logRecords{}
	e := start(t, options{reader: failing("OperatorLoads"), logger: slog.New(log)})
	e.prod.set(nil, func(inbox.Command) (outcome.Result, bool) {
		return outcome.Result{Body: operator.State{ID: "carol", Availability: routing.Away, Capacity: 7, Role: "builder"}}, true
	})
	r := e.do(t, "PUT", "/v1/operators/me/availability", carolToken, `{"availability":"away"}`)
	if r.status != http.StatusOK {
		t.Fatalf("PUT availability = %s, want 200: the change applied", r)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &raw); err != nil {
		t.Fatal(err)
	}
	if _, ok := raw["load"]; ok {
		t.Errorf("body %s has a load although it could not be read", r.body)
	}
	if string(raw["availability"]) != `"away"` || string(raw["capacity"]) != "5" || string(raw["name"]) != `"Carol"` {
		t.Errorf("body %s is not carol's new state", r.body)
	}
	if !log.has(errDisk.Error()) {
		t.Errorf("the failed load read is not logged: %q", log.lines)
	}
}
