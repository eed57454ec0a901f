# ocirt build, demo, test and install targets. Run `make help` for the list.

# rustup and Go's release archive install outside the PATH that non-interactive shells get.
# Appended, so the caller's PATH comes first.
export PATH := $(PATH):$(HOME)/.cargo/bin:/usr/local/go/bin

PREFIX ?= /usr/local
CARGO ?= cargo
CC ?= cc
GO ?= go
BUILD := build
LIB := target/release/libocirt.so
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
CSTRICT := -std=c11 -pthread -Wall -Wextra -Wpedantic -Werror -Iinclude
CLINK := -Ltarget/release -locirt -lpthread -Wl,-rpath,$(CURDIR)/target/release
PYTHON ?= python3
# The Python binding's type check and tests run in a virtual environment made on first use,
# because Debian's python3 rejects pip installs into the system (PEP 668). mypy is pinned
# because new releases add checks that would fail the build without a change here.
PYTHON_VENV := $(CURDIR)/$(BUILD)/venv
PYTHON_TEST_PACKAGES := "pytest>=7" "mypy==2.4.1"
VALGRIND := valgrind -q --error-exitcode=1 --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite

.PHONY: help build demo test test-rust test-c test-go test-python check-exports install bench clean

help:
	@echo "make demo     install missing Debian packages, build, run busybox containers from examples/demo.c"
	@echo "make test     every suite: Rust unit and integration, C harness (plain, ASan, valgrind), Go, Python"
	@echo "make test-c   the C harness plain, under AddressSanitizer and under valgrind, and the C++ header check"
	@echo "make test-go  go vet and go test -race of the Go binding in bindings/go"
	@echo "make test-python  mypy and the pytest suite of the Python binding, in $(BUILD)/venv"
	@echo "make build    build target/release/libocirt.so and libocirt.a"
	@echo "make install  install the library, header and ocirt.pc under PREFIX ($(PREFIX))"
	@echo "make bench    measure ocirt against runc, conmon driven by hand and podman, write docs/BENCHMARKS.md"
	@echo "              (BENCH_ARGS='--rounds N --only lifecycle,exec' passes options to the benchmark)"

build:
	$(CARGO) build --release

demo:
	mkdir -p $(BUILD)
	@echo "== checking system packages (runc, conmon, busybox-static, python3, gcc)"
	scripts/install-deps.sh demo
	@echo "== building libocirt"
	$(CARGO) build --release
	@echo "== making a busybox bundle in $(BUILD)/demo-bundle"
	scripts/make-bundle.sh $(BUILD)/demo-bundle sh -c 'trap "echo got SIGTERM, exiting; exit 0" TERM; echo serving; while :; do sleep 1; done'
	@echo "== compiling examples/demo.c against include/ocirt.h"
	$(CC) $(CSTRICT) examples/demo.c -o $(BUILD)/demo $(CLINK)
	@echo "== running the demo"
	$(BUILD)/demo $(BUILD)/demo-bundle

test:
	scripts/install-deps.sh test
	$(MAKE) test-rust test-c test-go test-python check-exports

# OCIRT_FROZEN_HEADER keeps build.rs from rewriting include/ocirt.h, so the header test
# compares the committed header with the generated one.
test-rust:
	OCIRT_FROZEN_HEADER=1 $(CARGO) build --release
	OCIRT_FROZEN_HEADER=1 $(CARGO) test --release -- --test-threads=4

test-c:
	mkdir -p $(BUILD)
	OCIRT_FROZEN_HEADER=1 $(CARGO) build --release
	scripts/make-bundle.sh $(BUILD)/test-bundle
	echo '#include "ocirt.h"' | $(CXX) -std=c++17 -Wall -Wextra -Wpedantic -Werror -Iinclude -x c++ -fsyntax-only -
	$(CC) $(CSTRICT) -g tests/c/harness.c -o $(BUILD)/harness $(CLINK)
	$(CC) $(CSTRICT) -g -fsanitize=address,undefined -fno-omit-frame-pointer tests/c/harness.c -o $(BUILD)/harness-asan $(CLINK)
	@echo "== C harness"
	$(BUILD)/harness $(BUILD)/test-bundle/rootfs
	@echo "== C harness under AddressSanitizer"
	$(BUILD)/harness-asan $(BUILD)/test-bundle/rootfs
	@echo "== C harness under valgrind"
	@# valgrind 3.19 does not know pidfd_open (434) and openat2 (437) and warns about them.
	@# The library falls back to other calls, so the lines starting with --PID-- are hidden.
	$(VALGRIND) --log-file=$(BUILD)/valgrind.log $(BUILD)/harness $(BUILD)/test-bundle/rootfs; \
	status=$$?; grep -v -e '^--[0-9]*-- ' $(BUILD)/valgrind.log || true; exit $$status

# The Go binding builds against include/ and target/release/libocirt.so of this tree.
test-go:
	@command -v $(GO) >/dev/null || { \
		echo "make test-go needs Go 1.24 or later on PATH or in /usr/local/go/bin" >&2; exit 1; }
	OCIRT_FROZEN_HEADER=1 $(CARGO) build --release
	@echo "== Go binding"
	cd bindings/go && $(GO) vet ./...
	cd bindings/go && $(GO) test -race -count=1 ./...

# The stamp file marks a finished install, so an interrupted pip run is retried.
$(PYTHON_VENV)/.installed:
	@echo "== making $(PYTHON_VENV) with pytest and mypy"
	$(PYTHON) -m venv $(PYTHON_VENV)
	$(PYTHON_VENV)/bin/python -m pip install --quiet --disable-pip-version-check $(PYTHON_TEST_PACKAGES)
	touch $@

# The binding finds target/release/libocirt.so by itself (it searches the source tree).
test-python: $(PYTHON_VENV)/.installed
	OCIRT_FROZEN_HEADER=1 $(CARGO) build --release
	@echo "== mypy (strict) on the Python binding, its tests and benchmark"
	cd bindings/python && $(PYTHON_VENV)/bin/python -m mypy
	@echo "== Python binding tests"
	cd bindings/python && PYTHONPATH=src $(PYTHON_VENV)/bin/python -m pytest -rs

check-exports:
	scripts/check-exports.sh $(LIB)

bench:
	scripts/install-deps.sh demo
	$(CARGO) bench --bench ocirt -- --out docs/BENCHMARKS.md $(BENCH_ARGS)

install: build
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 0755 -s $(LIB) $(DESTDIR)$(PREFIX)/lib/libocirt.so
	install -m 0644 target/release/libocirt.a $(DESTDIR)$(PREFIX)/lib/libocirt.a
	install -m 0644 include/ocirt.h $(DESTDIR)$(PREFIX)/include/ocirt.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' ocirt.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/ocirt.pc

clean:
	$(CARGO) clean
	rm -rf $(BUILD)
