#!/usr/bin/env bash
# exec/s of every fuzz target next to fuzz_bare_glibc (the same inputs on
# glibc malloc, nothing else), all built without sanitizers (preset
# fuzz-nosan), each run for SECONDS from an empty corpus (the seeds hold
# 100 MiB writes that would dominate a short run) with the op dictionary. Wall-clock exec/s and exec per CPU second (user +
# system of the fuzzer and its children: on a shared machine the second is
# the one to compare). Then every op-stream target and the bare harness
# execute one fixed set of inputs, what refmalloc's run kept (libFuzzer
# -runs=0: the inputs only, no mutation): the cost ratio on the same inputs.
#   fuzz/bench/exec_rate.sh [SECONDS]     (default 20)
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-20}
dir=build/fuzz-nosan
cmake --preset fuzz-nosan >/dev/null
targets=$(for f in fuzz/*.c; do b=$(basename "$f" .c); [ "$b" = replay_main ] || echo "$b"; done)
cmake --build --preset fuzz-nosan --target fuzz_bare_glibc $(printf 'fuzz_%s ' $targets) >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '%-12s %10s %10s %12s %14s\n' target execs exec/s cpu_seconds exec/cpu_second
for t in bare_glibc $targets; do
  dict=(-dict=corpus/ops.dict)
  [ "$t" = vm ] && dict=() # vm reads model calls, not ops
  mkdir -p "$tmp/$t"
  /usr/bin/time -f '%U %S' -o "$tmp/$t.time" "$dir/fuzz_$t" "$tmp/$t" -max_total_time="$secs" \
    -print_final_stats=1 "${dict[@]}" -max_len=4096 -timeout=120 -rss_limit_mb=4096 \
    -artifact_prefix="$tmp/$t-" >"$tmp/$t.log" 2>&1 || true
  execs=$(awk -F: '/stat::number_of_executed_units/ {print $NF+0}' "$tmp/$t.log")
  rate=$(awk -F: '/stat::average_exec_per_sec/ {print $NF+0}' "$tmp/$t.log")
  cpu=$(tail -1 "$tmp/$t.time" | awk '{print $1 + $2}')
  printf '%-12s %10s %10s %12s %14.0f\n' "$t" "${execs:-0}" "${rate:-0}" "$cpu" "$(echo "${execs:-0} / ($cpu + 0.001)" | bc -l)"
  if ls "$tmp" | grep -q "^$t-crash"; then echo "  ($t found a crash)"; fi
done

echo
echo "the same $(ls "$tmp/refmalloc" | wc -l) inputs (refmalloc's working corpus) on each:"
printf '%-12s %12s %14s\n' target cpu_seconds inputs/cpu_s
for t in bare_glibc refmalloc kernel diff oracle; do
  /usr/bin/time -f '%U %S' -o "$tmp/$t.time2" "$dir/fuzz_$t" -runs=0 -timeout=120 -rss_limit_mb=4096 -artifact_prefix="$tmp/$t-fixed-" \
    "$tmp/refmalloc" >/dev/null 2>&1 || true
  cpu=$(tail -1 "$tmp/$t.time2" | awk '{print $1 + $2}')
  printf '%-12s %12s %14.1f\n' "$t" "$cpu" "$(echo "$(ls "$tmp/refmalloc" | wc -l) / ($cpu + 0.001)" | bc -l)"
done
