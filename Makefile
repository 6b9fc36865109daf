# The two commands of the README. Everything else is CMake presets.
#   make run   set up, build release, run the main verification campaign
#   make test  set up, build dev (ASan+UBSan), run every ctest
.PHONY: run test setup release dev clean

run: setup release
	build/release/faultline verify

test: setup dev release
	ctest --test-dir build/dev --output-on-failure -j2

setup:
	@scripts/setup.sh test

release:
	cmake --preset release >/dev/null
	cmake --build --preset release

dev:
	cmake --preset dev >/dev/null
	cmake --build --preset dev

clean:
	rm -rf build
