# Every tests/<area>/test_<name>.c becomes one executable; every FL_TEST(name)
# in it becomes one ctest named <area>.<name>, labelled <area>. Nothing to
# register by hand: add a test to the file and reconfigure.
add_library(fl_test_harness STATIC ${CMAKE_SOURCE_DIR}/tests/harness/harness.c)
target_include_directories(fl_test_harness PUBLIC ${CMAKE_SOURCE_DIR}/tests ${CMAKE_SOURCE_DIR}/src)
target_link_libraries(fl_test_harness PUBLIC fl_core)

file(GLOB FL_TEST_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/*/test_*.c)
foreach(src ${FL_TEST_SOURCES})
  get_filename_component(dir ${src} DIRECTORY)
  get_filename_component(area ${dir} NAME)
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_link_libraries(${name} PRIVATE fl_test_harness)
  file(STRINGS ${src} decls REGEX "^FL_TEST\\([A-Za-z0-9_]+\\)")
  foreach(decl ${decls})
    string(REGEX REPLACE "^FL_TEST\\(([A-Za-z0-9_]+)\\).*" "\\1" t "${decl}")
    add_test(NAME ${area}.${t} COMMAND ${name} ${t})
    set_tests_properties(${area}.${t} PROPERTIES LABELS ${area} TIMEOUT 300 SKIP_RETURN_CODE 77
      ENVIRONMENT "FAULTLINE_BUILD_DIR=${CMAKE_BINARY_DIR};FAULTLINE_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
  endforeach()
endforeach()
# tests/map decodes Chromium's PNG screenshots with zlib.
if(TARGET test_map)
  target_link_libraries(test_map PRIVATE z)
endif()

# tests/bench/bench_<name>.c: benchmarks, built without sanitizers, not ctests
# (they print side-by-side ratios; these machines are shared and noisy).
file(GLOB FL_BENCH_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/bench/bench_*.c)
foreach(src ${FL_BENCH_SOURCES})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src})
  target_link_libraries(${name} PRIVATE fl_core_plain)
endforeach()
# The same runner over fl_core_release: refmalloc without observation.
add_executable(bench_runner_release ${CMAKE_SOURCE_DIR}/tests/bench/bench_runner.c)
target_link_libraries(bench_runner_release PRIVATE fl_core_release)

# Compile-time mutants and their kill tests (ctest -L mutants); defines fl_mutant_executable.
include(${CMAKE_SOURCE_DIR}/tests/mutants/mutants.cmake)
# The planted-bug test's mutant CLI (ctest -L campaign); needs fl_mutant_executable.
include(${CMAKE_SOURCE_DIR}/tests/campaign/campaign.cmake)

# The black-box oracle's broken allocators (libbroken-<name>.so) for tests/oracle.
include(${CMAKE_SOURCE_DIR}/tests/oracle/oracle.cmake)
