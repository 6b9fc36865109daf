# The two commands of the README. Everything else is CMake presets.
#   make run   set up, build release, run the main verification campaign
#   make test  set up, build dev (ASan+UBSan), run every ctest
.PHONY: run test setup release dev clean
MAKEFLAGS += --no-print-directory

run: setup release
	build/release/faultline verify

test: setup dev
	ctest --test-dir build/dev --output-on-failure -j2

setup:
	@scripts/setup.sh

release:
	@cmake --preset release >/dev/null
	@cmake --build --preset release --target faultline

dev:
	@cmake --preset dev >/dev/null
	@cmake --build --preset dev

clean:
	rm -rf build
