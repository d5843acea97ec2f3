# colibri — the two set-up commands and a few conveniences.
#   make run    install what is missing, build, start colibri on embedded defaults
#   make test   install what is missing, build, run every test (normal and ASan+UBSan)
#   make bench  build and print the benchmark figures
#   make fuzz   build the libFuzzer targets (clang) and run each FUZZ_SECONDS (60)
.PHONY: all deps build build-asan build-fuzz test test-normal test-asan test-fuzz fuzz run \
	bench clean

JOBS ?= $(shell nproc 2>/dev/null || echo 2)

all: build

deps:
	@scripts/install-deps.sh
	@scripts/install-node-deps.sh

build: deps
	@cmake --preset default >/dev/null
	@cmake --build --preset default -j $(JOBS)

build-asan: deps
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS)

test-normal: build
	@ctest --preset default -j $(JOBS) --repeat until-pass:2

test-asan: build-asan
	@ctest --preset asan -j $(JOBS) --repeat until-pass:2

build-fuzz: deps
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz -j $(JOBS)

# A short coverage-guided pass over every parser of outside bytes (the
# replays of their corpora run in both ctest presets already).
test-fuzz: build-fuzz
	@scripts/fuzz.sh --seconds 15 --seed 1

FUZZ_SECONDS ?= 60
fuzz: build-fuzz
	@scripts/fuzz.sh --seconds $(FUZZ_SECONDS)

test: test-normal test-asan test-fuzz

run: build
	@scripts/run.sh

bench: build
	@./build/bench/colibri-bench
	@bench/backtest.sh
	@bench/http_bench.sh

clean:
	rm -rf build build-asan build-fuzz
