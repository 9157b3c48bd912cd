# SPDX-License-Identifier: Apache-2.0
# Thin wrapper over CMake: the commands a newcomer types.
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS ?= $(shell nproc)

.PHONY: all deps build check check-unit check-vm asan fuzz-build fuzz-ci fuzz demo bench bench-extender \
	format clean

all: build

deps:
	scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j$(JOBS)

# The whole suite: unit, integration and the real-kernel guest scenarios.
check: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

check-unit: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -LE vm

check-vm: build
	cd $(BUILD) && ctest --output-on-failure -L vm

# Unit tests under AddressSanitizer + UndefinedBehaviorSanitizer.
asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DMEMAGENT_SANITIZE=ON
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j$(JOBS) -LE vm

# libFuzzer harnesses (tests/fuzz, README.md there), built with clang in a tree of their own.
fuzz-build: deps
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DMEMAGENT_FUZZ=ON
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzz-harnesses

# CI: each harness replays its seed corpus and fuzzes 10 s; a crash fails, and says how to keep
# its input as a regression seed.
fuzz-ci: fuzz-build
	cd $(FUZZ_BUILD) && ctest --output-on-failure -j$(JOBS) -L fuzz --timeout 300

# The same, longer (FUZZ_SECONDS each, one at a time); new inputs accumulate in
# $(FUZZ_BUILD)/tests/fuzz/work/HARNESS/corpus from run to run.
FUZZ_SECONDS ?= 60
fuzz: fuzz-build
	cd $(FUZZ_BUILD) && FUZZ_SECONDS=$(FUZZ_SECONDS) ctest --output-on-failure -V -L fuzz \
		--timeout $$(( $(FUZZ_SECONDS) + 300 ))

demo: build
	scripts/demo.sh $(BUILD)

bench: build
	cmake --build $(BUILD) --target bench-scan
	$(BUILD)/bench/bench-scan

# wrk against memschedd's extender at 100, 1,000 and 5,000 nodes (bench/extender/run.sh).
BENCH_DURATION ?= 10
BENCH_CONNECTIONS ?= 1
bench-extender: build
	bench/extender/run.sh $(BUILD) $(BENCH_DURATION) $(BENCH_CONNECTIONS)

format:
	git ls-files '*.c' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
