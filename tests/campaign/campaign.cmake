# campaign.cmake — the planted-bug test's CLI (ctest -L campaign).
#
# faultline-mutant is the faultline command built with one refmalloc mutant
# (tests/mutants/mutants.txt): mutant 1, _int_free filing a fast chunk one
# fastbin too high; found once a size class has filled its tcache.
# tests/campaign/test_campaign.c runs `verify` on it, which must find the bug
# in seconds, then `replay`, `minimize` and `repro --c` on what verify saved. FL_PLANTED_MUTANT and FL_PLANTED_ID tell the test which
# mutant it is and the invariant that must name it.
set(FL_PLANTED_MUTANT 1)
set(FL_PLANTED_ID BIN-FAST-CLASS)
fl_mutant_executable(faultline-mutant ${FL_PLANTED_MUTANT} ${FL_CLI_SOURCES})
target_link_libraries(faultline-mutant PRIVATE m) # as faultline: cmd_bench's statistics
target_compile_definitions(test_campaign PRIVATE FL_PLANTED_MUTANT=${FL_PLANTED_MUTANT}
                           FL_PLANTED_ID="${FL_PLANTED_ID}")
add_dependencies(test_campaign faultline-mutant faultline faultline-glibc)
