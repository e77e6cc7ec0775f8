# Switchboard — the two set-up commands are `make run` and `make test`.
GO       ?= go
VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo dev)
BIN      := bin/switchboard
DATA     ?= ./data
HTTP     ?= 127.0.0.1:8080
KAFKA    ?= 127.0.0.1:9092
SIM      ?= 127.0.0.1:9500
CH_TCP   ?= 9001
CH_HTTP  ?= 8124
# The demo operator's token from deploy/dev/config.yaml, printed by make run for the console's sign-in.
DEMO_TOKEN := $(shell sed -n 's/^ *token: *"\(dev-token-alice[^"]*\)".*/\1/p' deploy/dev/config.yaml)
# encoding/json on the engine of encoding/json/v2 (Go's GOEXPERIMENT=jsonv2): the same behaviour as encoding/json,
# two to three times faster with a quarter of the allocations (README, "Performance"). Everything make builds, runs
# and tests uses it; a plain `go build` works too, with the slower JSON.
export GOEXPERIMENT ?= jsonv2
# make test stays under 15 minutes on 2 cores; the Go test timeout is the backstop.
TEST_TIMEOUT ?= 14m

.PHONY: build web run run-cluster demo-webhook demo-photo test test-deps check-clickhouse-current bench bench-go pgo vet clean

# bin/switchboard is the production binary; `switchboard bench` and `switchboard whatsapp-sim` run the two built
# beside it (bin/switchboard-bench, bin/switchboard-whatsapp-sim), which link the load generator, the simulator and
# the plotting that production does not need.
build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/switchboard
	$(GO) build -o $(dir $(BIN)) ./cmd/switchboard-bench ./cmd/switchboard-whatsapp-sim

# The console's bundle: web/src and the vendored Preact → web/dist (committed, embedded by make build) with esbuild's
# Go API, so neither step needs Node.
web:
	$(GO) generate ./web

run: build
	@echo "Switchboard: http://$(HTTP)  (webhooks /webhooks/whatsapp, API /v1, /metrics, /healthz, /readyz)"
	@echo "Console: open http://$(HTTP)/ and sign in with the demo operator token: $(DEMO_TOKEN)  (Alice, admin)"
	@echo "Embedded Kafka: $(KAFKA)  (kcat -b $(KAFKA) -L)   data: $(DATA)"
	@echo "WhatsApp Cloud API simulator: http://$(SIM)  (what it received: curl -s http://$(SIM)/sim/messages)"
	@echo "A sample customer writes once the node is ready (it waits in Unassigned); another one:  make demo-webhook"
	@echo "A customer sends a photo (open it in the console):  make demo-photo"
	@echo "Contacts to import (People → Import contacts): deploy/dev/contacts.csv; a photo to attach: deploy/dev/customer-photo.png"
	@echo "Then list conversations:  curl -s -H 'Authorization: Bearer dev-token-alice-0001' http://$(HTTP)/v1/conversations"
	@echo "ClickHouse (analytics): 127.0.0.1:$(CH_TCP)  (insights: $(BIN) insights --clickhouse-addr 127.0.0.1:$(CH_TCP))"
	@mkdir -p $(DATA); ch=""; \
	if deploy/clickhouse/start.sh start $(abspath $(DATA))/clickhouse $(CH_TCP) $(CH_HTTP) >/dev/null; then \
		ch="--clickhouse-addr 127.0.0.1:$(CH_TCP)"; \
	else echo "ClickHouse did not start: running without analytics"; fi; \
	$(BIN) whatsapp-sim --addr $(SIM) --webhook-url http://$(HTTP)/webhooks/whatsapp --app-secret dev-app-secret & \
	sim=$$!; trap 'kill $$sim 2>/dev/null; deploy/clickhouse/start.sh stop $(abspath $(DATA))/clickhouse >/dev/null 2>&1' EXIT INT TERM; \
	( for i in $$(seq 120); do sleep 0.5; \
	  $(BIN) send-webhook --url http://$(HTTP)/webhooks/whatsapp >/dev/null 2>&1 && \
	  { echo "Sample customer posted: sign in to the console and go Online (bottom left): it is assigned to you"; \
	    deploy/dev/seed-canned.sh http://$(HTTP) $(DEMO_TOKEN) || echo "Canned responses not seeded"; break; }; done ) & \
	$(BIN) serve --config deploy/dev/config.yaml --data-dir $(DATA) --http-addr $(HTTP) \
		--embedded-kafka-addr $(KAFKA) --whatsapp-api-url http://$(SIM) --media-allow-private --oidc-allow-loopback $$ch

# Three router nodes on one machine (README, "Several nodes"): `switchboard broker` and nodes on 127.0.0.1:8081-8083,
# each with its own data dir under $(CLUSTER_DATA), the changelog, and the shared cluster secret; any node answers any
# tenant. Ctrl-C stops the nodes (each drains), then the simulator and the broker (in a session of its own, where
# setsid exists, so that Ctrl-C does not stop it under the draining nodes).
CLUSTER_DATA   ?= ./data-cluster
CLUSTER_SECRET ?= dev-cluster-secret-change-me
run-cluster: build
	@echo "Broker: $(KAFKA)   data: $(CLUSTER_DATA)"
	@for i in 1 2 3; do echo "Node $$i console: http://127.0.0.1:808$$i/  (sign in with the demo operator token: $(DEMO_TOKEN))"; done
	@echo "WhatsApp Cloud API simulator: http://$(SIM)  (its webhooks go to node 1; every node accepts them)"
	@echo "Who owns what:  curl -s http://127.0.0.1:8081/v1/conversations -H 'Authorization: Bearer $(DEMO_TOKEN)' answers from the owner"
	@mkdir -p $(CLUSTER_DATA); nodes=""; others=""; \
	trap 'kill $$nodes 2>/dev/null; wait $$nodes; kill $$others 2>/dev/null; wait' EXIT INT TERM; \
	$$(command -v setsid) $(BIN) broker --kafka-addr $(KAFKA) --data-dir $(CLUSTER_DATA)/broker > $(CLUSTER_DATA)/broker.out & \
	others="$$!"; \
	for i in $$(seq 150); do grep -q 'broker listening' $(CLUSTER_DATA)/broker.out 2>/dev/null && break; sleep 0.2; done; \
	$(BIN) whatsapp-sim --addr $(SIM) --webhook-url http://127.0.0.1:8081/webhooks/whatsapp --app-secret dev-app-secret & \
	others="$$others $$!"; \
	for i in 1 2 3; do \
	  SWITCHBOARD_CLUSTER_SECRET=$(CLUSTER_SECRET) $(BIN) serve --config deploy/dev/config.yaml \
	    --data-dir $(CLUSTER_DATA)/node$$i --http-addr 127.0.0.1:808$$i --advertise-url http://127.0.0.1:808$$i \
	    --kafka-brokers $(KAFKA) --changelog --whatsapp-api-url http://$(SIM) --media-allow-private \
	    --oidc-allow-loopback & nodes="$$nodes $$!"; \
	done; \
	( for i in $$(seq 120); do sleep 0.5; \
	  $(BIN) send-webhook --url http://127.0.0.1:8081/webhooks/whatsapp >/dev/null 2>&1 && \
	  { echo "Sample customer posted through node 1"; break; }; done ) & \
	wait

demo-webhook: build
	$(BIN) send-webhook --url http://$(HTTP)/webhooks/whatsapp

# A customer sends a photo: the simulator (started by make run) stores it and posts the inbound webhook naming it.
demo-photo:
	curl -sf -X POST -H 'Content-Type: image/png' --data-binary @deploy/dev/customer-photo.png \
		'http://$(SIM)/sim/customers/media?phone_number_id=100200300&from=15550001234&name=Sam%20Rivera&caption=The%20view%20from%20our%20room'

# The browser tests save their screenshots under bin/screenshots; this refreshes the README's copies.
screenshots:
	SWITCHBOARD_SCREENSHOTS=$(abspath docs/screenshots) $(GO) test -count=1 -run Console ./cmd/switchboard/

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1)

# What the tests need from Debian, installed one after the other (parallel test packages would race for apt's lock):
# ClickHouse 18.16 for the analytics tests, promtool and Prometheus for the deployment tests, chromium (and an emoji
# font, so the screenshots show customers' emoji) for the console's browser tests.
test-deps:
	deploy/clickhouse/start.sh install
	@command -v promtool >/dev/null && command -v prometheus >/dev/null || { \
		echo "installing Debian's prometheus package (promtool, prometheus)"; \
		apt-get -o DPkg::Lock::Timeout=300 update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends prometheus || \
		{ sleep 5; apt-get -o DPkg::Lock::Timeout=300 update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends prometheus; }; }
	@command -v chromium >/dev/null && test -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf || { \
		echo "installing Debian's chromium and fonts-noto-color-emoji packages (the console's browser tests)"; \
		apt-get -o DPkg::Lock::Timeout=300 update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends chromium fonts-noto-color-emoji || \
		{ sleep 5; apt-get -o DPkg::Lock::Timeout=300 update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends chromium fonts-noto-color-emoji; }; }

# Every test: unit tests with the race detector, then the end-to-end tests against the real binary.
test: vet test-deps
	$(GO) test -count=1 -race -timeout $(TEST_TIMEOUT) $$($(GO) list ./... | grep -v /cmd/switchboard$$)
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./cmd/switchboard/

# The analytics schema and every insight query on a current ClickHouse engine (chdb from npm, ~550 MB the first
# time), besides Debian's 18.16 that make test uses.
check-clickhouse-current:
	deploy/clickhouse/check-current.sh

# A benchmark scenario against a node started from bin/switchboard: standard (about 4 minutes) by default;
# SCENARIO=smoke|memory|recovery|soak for the others. The report goes to bench/results/<scenario>/.
SCENARIO ?= standard
bench: build
	$(BIN) bench --scenario $(SCENARIO) --out bench/results
	$(BIN) bench --update-readme README.md --out bench/results

# The profile-guided build's profile: a standard run (make bench's) with CPU profiles per step, merged into
# cmd/switchboard/default.pgo, which `go build ./cmd/switchboard` (make build, the Dockerfile) then applies by itself
# (-pgo=auto). Refresh it after a change to the hot path; README, "Profile-guided build".
pgo: build
	$(BIN) bench --scenario standard --profile --out $(PGO_OUT)
	$(GO) tool pprof -proto $(PGO_OUT)/standard/cpu-step*.pprof > cmd/switchboard/default.pgo
PGO_OUT ?= /tmp/switchboard-pgo

# Every go test benchmark in the tree: the stages on their own (webhook ingest, routing, outbound, ceilings, memory).
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./...

clean:
	rm -rf bin $(DATA)
