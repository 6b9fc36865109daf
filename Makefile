# The two commands of the README. Everything else is CMake presets.
#   make run   set up, build release, run the main verification campaign
#   make test  set up, build dev (ASan+UBSan) and the fuzz smoke's engines,
#              run every ctest
.PHONY: run test setup release dev fuzz-engines clean
MAKEFLAGS += --no-print-directory

run: setup release
	build/release/faultline verify

test: setup dev fuzz-engines
	ctest --test-dir build/dev --output-on-failure -j2

setup:
	@scripts/setup.sh

release:
	@cmake --preset release >/dev/null
	@cmake --build --preset release --target faultline faultline-glibc

dev:
	@cmake --preset dev >/dev/null
	@cmake --build --preset dev

# The engine binaries the fuzz smoke runs (ctest label fuzzsmoke, defined in
# fuzz/fuzz.cmake): every fuzz_<target> under libFuzzer, and the one AFL++
# target (FL_SMOKE_AFL_TARGET there).
FUZZ_TARGETS := $(patsubst fuzz/%.c,fuzz_%,$(filter-out fuzz/replay_main.c,$(wildcard fuzz/*.c)))
fuzz-engines:
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz --target $(FUZZ_TARGETS)
	@cmake --preset afl >/dev/null
	@cmake --build --preset afl --target afl_refmalloc

clean:
	rm -rf build
