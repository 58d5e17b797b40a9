# Entry points for developers and CI. `make test` is what .ci/run runs.
#   make run                     build and serve on 127.0.0.1:$(PORT)
#   make test                    deps, release build, unit tests, TSan SPSC test, integration tests
#   make integration SERVER_CMD='redis-server --port {port} --save "" --appendonly no'
#                                the integration suite against real Redis (checks the tests)
#   make bench                   throughput vs redis-server (Bench/run.sh)
# A non-login shell may lack the toolchain's profile.d entry; fall back to where it is installed.
ifeq ($(shell command -v swift 2>/dev/null),)
  export PATH := $(PATH):/opt/swift/usr/bin
endif
SWIFT      ?= swift
PYTHON     ?= python3
PORT       ?= 6379

BIN        := .build/release/swift-redis
DEPS_STAMP := .build/.deps-ok

.PHONY: all deps build run test unit tsan integration bench clean

all: build

# install-deps.sh is idempotent and cheap when everything is present; the stamp keeps
# repeated `make` calls from even running it, and is dropped by `make clean`.
$(DEPS_STAMP): scripts/install-deps.sh
	bash scripts/install-deps.sh
	@mkdir -p $(dir $@) && touch $@

deps: $(DEPS_STAMP)

build: deps
	$(SWIFT) build -c release

run: build
	exec $(BIN) --port $(PORT) --bind 127.0.0.1

unit: deps
	$(SWIFT) test

# The SPSC stress test under ThreadSanitizer, in its own scratch path so the instrumented
# build does not invalidate the normal one. `swift test --filter` exits 0 when nothing matches,
# so first make sure an SPSC test exists: a missing stress test must not pass as a green run.
tsan: deps
	$(SWIFT) test --sanitize=thread --scratch-path .build/tsan --list-tests | grep -q SPSC \
	    || { echo "make tsan: no test matches SPSC" >&2; exit 1; }
	$(SWIFT) test --sanitize=thread --filter SPSC --scratch-path .build/tsan

# Integration tests run the release binary ($(BIN)) unless SERVER_CMD says otherwise.
# pytest exits 5 when it collected nothing: that is a failure here, as is any other non-zero.
integration: build
	$(PYTHON) -m pytest -q -p no:cacheprovider Tests/Integration

test: build unit tsan integration

bench: deps
	bash Bench/run.sh

clean:
	rm -rf .build
