#!/usr/bin/env bash
# Line and branch coverage of src/alloc and src/vm from the fuzz corpus, in
# one command: builds the coverage preset (clang source-based coverage),
# replays every corpus/<target>/ through its standalone replay_<target>
# binary, merges the profiles and reports with llvm-cov (the llvm-14 tools,
# matching clang 14).
#   scripts/coverage.sh            table on stdout; HTML in build/coverage/html/
#   scripts/coverage.sh --no-html  the table only
set -euo pipefail
cd "$(dirname "$0")/.."
html=1
case "${1:-}" in
  "") ;;
  --no-html) html=0 ;;
  -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "coverage: unknown option '$1' (see scripts/coverage.sh --help)" >&2; exit 2 ;;
esac
profdata=$(command -v llvm-profdata-14 || command -v llvm-profdata || true)
cov=$(command -v llvm-cov-14 || command -v llvm-cov || true)
[ -n "$profdata" ] && [ -n "$cov" ] || { echo "coverage: llvm-profdata/llvm-cov (llvm-14) not found: apt-get install llvm" >&2; exit 3; }

out=build/coverage
targets=()
for d in corpus/*/; do
  t=$(basename "$d")
  [ -f "fuzz/$t.c" ] && targets+=("$t")
done
cmake --preset coverage >/dev/null
cmake --build --preset coverage --target "${targets[@]/#/replay_}" >/dev/null
# The helpers that run the real allocator (diff, oracle) must not be
# instrumented: the profile runtime's own start-up would already have set
# up glibc's heap when the first op arrives. They come from the release preset.
cmake --preset release >/dev/null
cmake --build --preset release --target faultline-glibc faultline-oracle >/dev/null
export FAULTLINE_GLIBC_HELPER=$PWD/build/release/faultline-glibc FAULTLINE_ORACLE_HELPER=$PWD/build/release/faultline-oracle

rm -rf "$out/profiles" && mkdir -p "$out/profiles"
objects=()
for t in "${targets[@]}"; do
  echo "coverage: replaying corpus/$t ($(ls "corpus/$t" | wc -l) inputs)" >&2
  LLVM_PROFILE_FILE="$PWD/$out/profiles/$t-%p.profraw" "$out/replay_$t" "corpus/$t" 2>/dev/null \
    || { echo "coverage: replay_$t failed on corpus/$t (run it by hand to see why)" >&2; exit 1; }
  # llvm-cov takes the first binary as is, every other after -object.
  objects+=(${objects[0]+-object} "$out/replay_$t")
done
"$profdata" merge -sparse "$out"/profiles/*.profraw -o "$out/corpus.profdata"

# llvm-cov's TOTAL row: regions, functions, lines and branches, each as
# count, missed, percent (fields 8-10 lines, 11-13 branches).
summary() {
  "$cov" report -instr-profile "$out/corpus.profdata" "${objects[@]}" "$@" 2>/dev/null |
    awk '/^TOTAL/ { printf "lines %s of %s (%s)   branches %s of %s (%s)\n", $8-$9, $8, $10, $11-$12, $11, $13 }'
}
for area in src/alloc src/vm; do
  printf '%-10s %s\n' "$area" "$(summary "$PWD/$area")"
done
if [ "$html" = 1 ]; then
  "$cov" show -format=html -show-branches=count -output-dir "$out/html" -instr-profile "$out/corpus.profdata" \
    "${objects[@]}" "$PWD/src/alloc" "$PWD/src/vm" >/dev/null 2>&1
  echo "coverage: per-line report in $out/html/index.html" >&2
fi
