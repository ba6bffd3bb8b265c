# tlsvpn — see README.md.
GO       ?= go
PREFIX   ?= /usr/local
UNITDIR  ?= /etc/systemd/system
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
SHELL    := /bin/bash
MANDIR   ?= $(PREFIX)/share/man

# Packaging (make deb). nfpm is pinned here and built from the Go module proxy.
NFPM              := $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.48.0
DIST              ?= dist
DEB_STAGE         ?= build/deb
DEB_VERSION       ?= $(shell packaging/version 2>/dev/null)
DEB_GOARCH        ?= $(shell $(GO) env GOARCH)
DEB_MAINTAINER    ?= tlsvpn developers <tlsvpn@invalid>
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || date +%s)
SOURCE_DATE       := $(shell date -u -d @$(SOURCE_DATE_EPOCH) +%F)

BINS := bin/tlsvpn bin/tlsvpn-demo

.PHONY: all build install uninstall deb demo deps test lint race bench fuzz clean

all: build

build: $(BINS)

bin/%: FORCE
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./cmd/$*

FORCE:

# Source install under $(PREFIX): the binary, the unit naming it, the manual
# pages and the completions.
install: bin/tlsvpn build/docs
	install -D -m 0755 bin/tlsvpn $(DESTDIR)$(PREFIX)/bin/tlsvpn
	install -d -m 0755 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(MANDIR)/man1
	$(call unit_for,$(PREFIX)/bin) > $(DESTDIR)$(UNITDIR)/tlsvpn@.service
	install -m 0644 build/docs/man1/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -D -m 0644 build/docs/completions/tlsvpn.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/tlsvpn
	install -D -m 0644 build/docs/completions/_tlsvpn $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_tlsvpn
	install -D -m 0644 build/docs/completions/tlsvpn.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/tlsvpn.fish
	install -d -m 0750 $(DESTDIR)/etc/tlsvpn
	-[ -z "$(DESTDIR)" ] && systemctl daemon-reload 2>/dev/null || true

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/tlsvpn $(DESTDIR)$(UNITDIR)/tlsvpn@.service $(DESTDIR)$(MANDIR)/man1/tlsvpn.1 \
		$(DESTDIR)$(MANDIR)/man1/tlsvpn-*.1 $(DESTDIR)$(PREFIX)/share/bash-completion/completions/tlsvpn \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions/_tlsvpn $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/tlsvpn.fish

# The unit file has one source, naming /usr/local/bin/tlsvpn; this writes it
# to stdout naming the binary in $(1) instead.
unit_for = sed 's|/usr/local/bin/tlsvpn|$(1)/tlsvpn|g' systemd/tlsvpn@.service

# Manual pages and shell completions, generated from the command tree by a
# build of tlsvpn with the gendocs tag (the shipped binary lacks it), for
# the version $(1), into the folder $(2). The date is the commit's, so that
# a rebuild makes the same pages.
gendocs = rm -rf $(2) && GOOS= GOARCH= $(GO) run -tags gendocs ./cmd/tlsvpn gendocs --version $(1) --date $(SOURCE_DATE) $(2)

build/docs: FORCE
	$(call gendocs,$(VERSION),$@)

# The Debian package, $(DIST)/tlsvpn_<version>_<arch>.deb, for GOARCH (the
# host's by default), built by nfpm from packaging/nfpm.yaml out of the
# files staged in $(DEB_STAGE). Its version is packaging/version's unless
# DEB_VERSION is given.
deb: FORCE
	@[ -n "$(DEB_VERSION)" ] || { echo "make deb: no version from git; run make deb DEB_VERSION=1.2.3"; exit 1; }
	rm -rf $(DEB_STAGE) && mkdir -p $(DEB_STAGE) $(DIST)
	GOOS=linux GOARCH=$(DEB_GOARCH) CGO_ENABLED=0 $(GO) build -trimpath \
		-ldflags '-s -w -X main.version=$(DEB_VERSION)' -o $(DEB_STAGE)/tlsvpn ./cmd/tlsvpn
	$(call gendocs,$(DEB_VERSION),$(DEB_STAGE)/docs)
	gzip -9n $(DEB_STAGE)/docs/man1/*.1
	$(call unit_for,/usr/bin) > $(DEB_STAGE)/tlsvpn@.service
	VERSION=$(DEB_VERSION) GOARCH=$(DEB_GOARCH) STAGE=$(DEB_STAGE) DEB_MAINTAINER='$(DEB_MAINTAINER)' \
		SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $(NFPM) package --config packaging/nfpm.yaml --packager deb --target $(DIST)/

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

# The Debian packages the tests use: installs the missing ones (root), or
# says what to run. The list is in .ci/deps.
deps:
	@.ci/deps

# Unit and namespace integration tests (root). A skipped test fails the run:
# green means the integration tests really ran. TEST_TIMEOUT bounds each
# package's test binary (the e2e package takes about 5 minutes, measured
# 275 s; up to 4 more on a machine that has not built the container root in
# /var/cache/tlsvpn-test yet); a hung test is killed with every goroutine's
# stack. The slowest tests are listed last.
TEST_TIMEOUT ?= 12m
test: deps build
	@set -o pipefail; \
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) -v ./... 2>&1 | tee test.log | grep -E '^(=== RUN|--- (FAIL|SKIP)|FAIL|ok|PASS|panic)' | grep -v '^=== RUN' ; \
	rc=$${PIPESTATUS[0]}; \
	if grep -q -- '--- SKIP' test.log; then echo "FAIL: tests were skipped (run as root):"; grep -- '--- SKIP' test.log; exit 1; fi; \
	passed=$$(grep -c -- '--- PASS' test.log || true); failed=$$(grep -c -- '--- FAIL' test.log || true); \
	if [ $$rc -ne 0 ]; then cat test.log; fi; \
	echo "slowest tests:"; sed -nE 's/^--- (PASS|FAIL): ([^ ]+) \(([0-9.]+)s\)$$/\3s \2/p' test.log | sort -rn | head -8; \
	echo "$$passed passed, $$failed failed"; \
	exit $$rc

# go vet and staticcheck (pinned; fetched through the Go module proxy).
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
lint:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

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
	rm -rf bin build dist test.log
