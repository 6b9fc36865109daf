#!/bin/bash -eu
# The OSS-Fuzz build contract: compile with $CC/$CFLAGS, link every fuzz
# target with $LIB_FUZZING_ENGINE, and put into $OUT the binaries, their
# seed corpora (<target>_seed_corpus.zip), dictionaries and .options.
# Runs in the Dockerfile's image, from $SRC/faultline.
cd "$SRC/faultline"
targets=$(for f in fuzz/*.c; do b=$(basename "$f" .c); [ "$b" = replay_main ] || echo "$b"; done)

# The helpers the diff and oracle targets start must run the real allocator:
# built without the sanitizer flags, next to the targets.
env -u CFLAGS -u CXXFLAGS -u LDFLAGS cmake -S . -B build/oss-helper -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_COMPILER="$CC" >/dev/null
cmake --build build/oss-helper -j"$(nproc)" --target faultline-glibc faultline-oracle
cp build/oss-helper/faultline-glibc build/oss-helper/faultline-oracle "$OUT/"

# The targets: $CFLAGS already carries the sanitizer and coverage flags.
cmake -S . -B build/oss -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER="$CC" \
  -DCMAKE_C_FLAGS="$CFLAGS" -DFL_FUZZ=ON -DFL_FUZZ_ENGINE="$LIB_FUZZING_ENGINE" >/dev/null
for t in $targets; do
  cmake --build build/oss -j"$(nproc)" --target "fuzz_$t"
  cp "build/oss/fuzz_$t" "$OUT/"
  if [ -d "corpus/$t" ]; then (cd "corpus/$t" && zip -q -r "$OUT/fuzz_${t}_seed_corpus.zip" .); fi
  if [ -e "corpus/$t.dict" ]; then cp -L "corpus/$t.dict" "$OUT/fuzz_$t.dict"; fi
  if [ -e "corpus/$t.options" ]; then cp "corpus/$t.options" "$OUT/fuzz_$t.options"; fi
done
