# Every fuzz/<target>.c (other than replay_main.c) defines
# LLVMFuzzerTestOneInput and becomes:
#   replay_<target>  always: a standalone, non-sanitized replay binary
#   fuzz_<target>    with FL_FUZZ (preset fuzz): libFuzzer + ASan + UBSan
#   afl_<target>     with the afl preset: afl-clang-fast -fsanitize=fuzzer
#                    links AFL++'s libFuzzer-compatible driver (persistent
#                    mode, shared-memory input)
# FL_FUZZ without FL_SANITIZE (preset fuzz-nosan) gives libFuzzer's coverage
# feedback without ASan/UBSan: the build that exec/s are compared in, next to
# fuzz_bare_glibc (fuzz/bench/bare_glibc.c: the same inputs on glibc malloc).
# FL_FUZZ_ENGINE: how fuzz_<target> links its engine; OSS-Fuzz and
# ClusterFuzzLite pass $LIB_FUZZING_ENGINE (.clusterfuzzlite/build.sh).
set(FL_FUZZ_ENGINE "-fsanitize=fuzzer" CACHE STRING "flags or library linking the libFuzzer-API engine")
file(GLOB FL_FUZZ_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/fuzz/*.c)
list(REMOVE_ITEM FL_FUZZ_SOURCES ${CMAKE_SOURCE_DIR}/fuzz/replay_main.c)
get_filename_component(FL_C_COMPILER_NAME ${CMAKE_C_COMPILER} NAME)
if(FL_FUZZ AND NOT FL_SANITIZE)
  target_compile_options(fl_core PUBLIC -fsanitize=fuzzer-no-link)
  # Under ASan the process allocator is ASan's: the bare harness exists only
  # in this build, where malloc is glibc's.
  add_executable(fuzz_bare_glibc ${CMAKE_SOURCE_DIR}/fuzz/bench/bare_glibc.c)
  target_link_libraries(fuzz_bare_glibc PRIVATE fl_core ${FL_FUZZ_ENGINE})
endif()
# Targets that run the real allocator start a helper found next to them.
set(FL_FUZZ_HELPER_diff faultline-glibc)
set(FL_FUZZ_HELPER_oracle faultline-oracle)
foreach(src ${FL_FUZZ_SOURCES})
  get_filename_component(target ${src} NAME_WE)
  add_executable(replay_${target} ${src} ${CMAKE_SOURCE_DIR}/fuzz/replay_main.c)
  target_link_libraries(replay_${target} PRIVATE fl_core_plain)
  set(engine_targets replay_${target})
  if(FL_FUZZ)
    add_executable(fuzz_${target} ${src})
    target_link_libraries(fuzz_${target} PRIVATE fl_core ${FL_FUZZ_ENGINE})
    list(APPEND engine_targets fuzz_${target})
  endif()
  if(FL_C_COMPILER_NAME MATCHES "^afl-")
    add_executable(afl_${target} ${src})
    target_link_libraries(afl_${target} PRIVATE fl_core)
    target_link_options(afl_${target} PRIVATE -fsanitize=fuzzer)
    list(APPEND engine_targets afl_${target})
  endif()
  if(FL_FUZZ_HELPER_${target})
    foreach(t ${engine_targets})
      add_dependencies(${t} ${FL_FUZZ_HELPER_${target}})
    endforeach()
  endif()
endforeach()

# corpus/<target>/ is replayed by ctest (label corpus) with the standalone
# binary: every seed and every past finding must run clean, forever.
# Under valgrind memcheck too, where valgrind is installed: the first
# FL_MEMCHECK_FILES files of each directory (by name; memcheck runs a model
# some 50x slower, and the whole corpus would not fit the CI budget).
find_program(FL_VALGRIND valgrind)
set(FL_MEMCHECK_FILES 4 CACHE STRING "corpus files per target replayed under valgrind")
foreach(src ${FL_FUZZ_SOURCES})
  get_filename_component(target ${src} NAME_WE)
  if(IS_DIRECTORY ${CMAKE_SOURCE_DIR}/corpus/${target})
    add_test(NAME corpus.${target} COMMAND replay_${target} ${CMAKE_SOURCE_DIR}/corpus/${target})
    set_tests_properties(corpus.${target} PROPERTIES LABELS corpus TIMEOUT 300)
    # Not diff: under valgrind the refmalloc side's address space is
    # valgrind's, so mirroring the helper's placement (spec/diff.md) fails;
    # refmalloc's own memory errors are covered by corpus.refmalloc.memcheck.
    if(FL_VALGRIND AND NOT target STREQUAL "diff")
      file(GLOB mc_files ${CMAKE_SOURCE_DIR}/corpus/${target}/*)
      list(SORT mc_files)
      list(LENGTH mc_files mc_n)
      if(mc_n GREATER FL_MEMCHECK_FILES)
        list(SUBLIST mc_files 0 ${FL_MEMCHECK_FILES} mc_files)
      endif()
      add_test(NAME corpus.${target}.memcheck
               COMMAND ${FL_VALGRIND} -q --error-exitcode=9 $<TARGET_FILE:replay_${target}> ${mc_files})
      set_tests_properties(corpus.${target}.memcheck PROPERTIES LABELS corpus TIMEOUT 600)
    endif()
  endif()
endforeach()

# The CI fuzz smoke (label fuzzsmoke): every target FL_SMOKE_SECONDS under
# libFuzzer and refmalloc FL_SMOKE_AFL_SECONDS under AFL++, through
# `faultline fuzz` with the engine binaries of build/fuzz and build/afl
# (`make test` builds them first). Where they are not built the test is
# skipped, never built from here. Each run works in this build's
# fuzz-smoke/ directory and fails on any finding.
set(FL_SMOKE_SECONDS 25)
set(FL_SMOKE_AFL_SECONDS 30)
set(FL_SMOKE_AFL_TARGET refmalloc)
function(fl_fuzz_smoke name engine target seconds)
  set(bin ${CMAKE_SOURCE_DIR}/build/${engine}/${engine}_${target})
  if(engine STREQUAL "fuzz")
    set(engine_flag libfuzzer)
  else()
    set(engine_flag afl)
  endif()
  add_test(NAME fuzzsmoke.${name}
           COMMAND sh -c "test -x \"$0\" || { echo \"$0 is not built: skipped\"; exit 77; }; exec \"$@\""
                   ${bin} $<TARGET_FILE:faultline> fuzz ${target} --engine ${engine_flag}
                   --seconds ${seconds} --no-build --out ${CMAKE_BINARY_DIR}/fuzz-smoke)
  set_tests_properties(fuzzsmoke.${name} PROPERTIES LABELS fuzzsmoke TIMEOUT 180 SKIP_RETURN_CODE 77)
endfunction()
foreach(src ${FL_FUZZ_SOURCES})
  get_filename_component(target ${src} NAME_WE)
  fl_fuzz_smoke(${target} fuzz ${target} ${FL_SMOKE_SECONDS})
endforeach()
fl_fuzz_smoke(afl_${FL_SMOKE_AFL_TARGET} afl ${FL_SMOKE_AFL_TARGET} ${FL_SMOKE_AFL_SECONDS})
