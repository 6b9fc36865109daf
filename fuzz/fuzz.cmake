# Every fuzz/<target>.c (other than replay_main.c) defines
# LLVMFuzzerTestOneInput and becomes:
#   replay_<target>  always: a standalone, non-sanitized replay binary
#   fuzz_<target>    with FL_FUZZ (preset fuzz): libFuzzer + ASan + UBSan
#   afl_<target>     with the afl preset: afl-clang-fast -fsanitize=fuzzer
#                    links AFL++'s libFuzzer-compatible driver (persistent
#                    mode, shared-memory input)
file(GLOB FL_FUZZ_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/fuzz/*.c)
list(REMOVE_ITEM FL_FUZZ_SOURCES ${CMAKE_SOURCE_DIR}/fuzz/replay_main.c)
get_filename_component(FL_C_COMPILER_NAME ${CMAKE_C_COMPILER} NAME)
foreach(src ${FL_FUZZ_SOURCES})
  get_filename_component(target ${src} NAME_WE)
  add_executable(replay_${target} ${src} ${CMAKE_SOURCE_DIR}/fuzz/replay_main.c)
  target_link_libraries(replay_${target} PRIVATE fl_core_plain)
  if(FL_FUZZ)
    add_executable(fuzz_${target} ${src})
    target_link_libraries(fuzz_${target} PRIVATE fl_core)
    target_link_options(fuzz_${target} PRIVATE -fsanitize=fuzzer)
  endif()
  if(FL_C_COMPILER_NAME MATCHES "^afl-")
    add_executable(afl_${target} ${src})
    target_link_libraries(afl_${target} PRIVATE fl_core)
    target_link_options(afl_${target} PRIVATE -fsanitize=fuzzer)
  endif()
endforeach()

# corpus/<target>/ is replayed by ctest (label corpus) with the standalone
# binary: every seed and every past finding must run clean, forever.
# Under valgrind memcheck too, where valgrind is installed.
find_program(FL_VALGRIND valgrind)
foreach(src ${FL_FUZZ_SOURCES})
  get_filename_component(target ${src} NAME_WE)
  if(IS_DIRECTORY ${CMAKE_SOURCE_DIR}/corpus/${target})
    add_test(NAME corpus.${target} COMMAND replay_${target} ${CMAKE_SOURCE_DIR}/corpus/${target})
    set_tests_properties(corpus.${target} PROPERTIES LABELS corpus TIMEOUT 300)
    if(FL_VALGRIND)
      add_test(NAME corpus.${target}.memcheck
               COMMAND ${FL_VALGRIND} -q --error-exitcode=9 $<TARGET_FILE:replay_${target}> ${CMAKE_SOURCE_DIR}/corpus/${target})
      set_tests_properties(corpus.${target}.memcheck PROPERTIES LABELS corpus TIMEOUT 600)
    endif()
  endif()
endforeach()
