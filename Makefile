# tlsvpn — see README.md.
GO       ?= go
PREFIX   ?= /usr/local
UNITDIR  ?= /etc/systemd/system
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
SHELL    := /bin/bash

BINS := bin/tlsvpn bin/tlsvpn-demo

.PHONY: all build install uninstall demo test race bench fuzz clean

all: build

build: $(BINS)

bin/%: FORCE
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./cmd/$*

FORCE:

install: bin/tlsvpn
	install -D -m 0755 bin/tlsvpn $(DESTDIR)$(PREFIX)/bin/tlsvpn
	install -D -m 0644 systemd/tlsvpn@.service $(DESTDIR)$(UNITDIR)/tlsvpn@.service
	install -d -m 0700 $(DESTDIR)/etc/tlsvpn
	-[ -z "$(DESTDIR)" ] && systemctl daemon-reload 2>/dev/null || true

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/tlsvpn $(DESTDIR)$(UNITDIR)/tlsvpn@.service

# The built-in demo: two sites in network namespaces joined by a tunnel (root).
demo: build
	bin/tlsvpn-demo --tlsvpn bin/tlsvpn

# The end-to-end benchmark (root; see bench/README.md): tlsvpn against
# wireguard-go, OpenVPN TCP and the bare veth. Not part of CI.
# Example: make bench BENCHFLAGS='--quick --only tlsvpn,veth'
bin/tlsvpn-bench: FORCE
	$(GO) build -trimpath -o $@ ./bench

bench: build bin/tlsvpn-bench
	bin/tlsvpn-bench --tlsvpn bin/tlsvpn $(BENCHFLAGS)

# Unit and namespace integration tests (root). A skipped test fails the run:
# green means the integration tests really ran.
test: build
	@set -o pipefail; \
	$(GO) test -count=1 -timeout 20m -v ./... 2>&1 | tee test.log | grep -E '^(=== RUN|--- (FAIL|SKIP)|FAIL|ok|PASS|panic)' | grep -v '^=== RUN' ; \
	rc=$${PIPESTATUS[0]}; \
	if grep -q -- '--- SKIP' test.log; then echo "FAIL: tests were skipped (run as root):"; grep -- '--- SKIP' test.log; exit 1; fi; \
	passed=$$(grep -c -- '--- PASS' test.log || true); failed=$$(grep -c -- '--- FAIL' test.log || true); \
	if [ $$rc -ne 0 ]; then cat test.log; fi; \
	echo "$$passed passed, $$failed failed"; \
	exit $$rc

# Race detector over the packages with concurrency of their own.
race:
	$(GO) test -count=1 -race ./tunnel/... ./handshake/... ./internal/control/...

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./config
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./internal/ipblocks
	$(GO) test -run '^$$' -fuzz FuzzParseHeader -fuzztime 30s ./internal/wire
	$(GO) test -run '^$$' -fuzz FuzzOpen -fuzztime 30s ./internal/record
	$(GO) test -run '^$$' -fuzz FuzzCheckInbound -fuzztime 30s ./tunnel
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./internal/packet
	$(GO) test -run '^$$' -fuzz FuzzSegment -fuzztime 30s ./internal/packet

clean:
	rm -rf bin test.log
