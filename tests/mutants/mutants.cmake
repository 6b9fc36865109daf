# mutants.cmake — compile-time mutants of refmalloc and the model (ctest -L mutants).
#
#   fl_mutant_executable(<target> <mutant-id> [PLAIN] <sources...>)
#
# Builds the executable <target> from <sources...> against mutant <mutant-id>:
# the source file(s) that tests/mutants/mutants.txt names for the id are
# compiled once more, with -DFL_MUTANT=<id> (src/util/mutant.h), into an object
# library shared by every executable of that mutant, and linked *before*
# fl_core. Objects on the link line are always loaded and archives only
# supply what is still undefined, so the linker takes the mutated definitions
# and never pulls the original archive member; if it ever did, the link would
# fail with "multiple definition" instead of silently testing the original.
# A mutant therefore rebuilds one or two objects, not the project. The
# executable gets fl_core's usage requirements (includes, and the sanitizers
# in the dev preset), like the faultline CLI and the tests; with PLAIN it
# links fl_core_plain instead (never sanitized), and the mutated objects are
# compiled to match.
#
#   fl_mutant_executable(faultline_m7 7 ${FL_CLI_SOURCES})   # the CLI with mutant 7
#
# Id 0 is no mutant: the sources linked against fl_core as they are.
# Every mutant of mutants.txt also gets a kill ctest `mutants.m<id>` (the
# driver tests/mutants/kill.c, run against that mutant), plus
# `mutants.control` (the unmutated driver must find nothing) and
# `mutants.summary` (the table and the kill rate, from the drivers' results).

set(FL_MUTANTS_FILE ${CMAKE_SOURCE_DIR}/tests/mutants/mutants.txt)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${FL_MUTANTS_FILE})

# The ids of mutants.txt, and FL_MUTANT_FILES_<id>: the sources each mutates
# (a comma-separated list in the file's second column).
file(STRINGS ${FL_MUTANTS_FILE} fl_mutant_lines REGEX "^[0-9]+[ \t]")
set(FL_MUTANT_IDS "")
foreach(line ${fl_mutant_lines})
  string(REGEX REPLACE "^([0-9]+)[ \t]+([^ \t]+).*" "\\1;\\2" fields "${line}")
  list(GET fields 0 id)
  list(GET fields 1 files)
  if(DEFINED FL_MUTANT_FILES_${id})
    message(FATAL_ERROR "mutants.txt: mutant ${id} is listed twice")
  endif()
  string(REPLACE "," ";" files "${files}")
  set(FL_MUTANT_FILES_${id} "")
  foreach(f ${files})
    list(APPEND FL_MUTANT_FILES_${id} ${CMAKE_SOURCE_DIR}/${f})
  endforeach()
  list(APPEND FL_MUTANT_IDS ${id})
endforeach()

# Every marker in the sources has its row: a mutant nobody builds is dead code.
file(GLOB fl_mutant_sources ${CMAKE_SOURCE_DIR}/src/alloc/*.c ${CMAKE_SOURCE_DIR}/src/vm/*.c)
foreach(src ${fl_mutant_sources})
  file(STRINGS ${src} markers REGEX "FL_MUT(_SKIP)?\\([0-9]+")
  foreach(m ${markers})
    string(REGEX MATCHALL "FL_MUT(_SKIP)?\\([0-9]+" calls "${m}")
    foreach(c ${calls})
      string(REGEX REPLACE ".*\\(" "" id "${c}")
      if(NOT DEFINED FL_MUTANT_FILES_${id})
        message(FATAL_ERROR "${src}: mutant ${id} is not listed in ${FL_MUTANTS_FILE}")
      endif()
    endforeach()
  endforeach()
endforeach()

function(fl_mutant_executable target id)
  set(core fl_core)
  set(sources ${ARGN})
  list(GET sources 0 first)
  if(first STREQUAL "PLAIN")
    set(core fl_core_plain)
    list(REMOVE_AT sources 0)
  endif()
  add_executable(${target} ${sources})
  if(id EQUAL 0)
    target_link_libraries(${target} PRIVATE ${core})
    return()
  endif()
  if(NOT DEFINED FL_MUTANT_FILES_${id})
    message(FATAL_ERROR "fl_mutant_executable: no mutant ${id} in ${FL_MUTANTS_FILE}")
  endif()
  set(obj fl_mutant_obj_${id}_${core})
  if(NOT TARGET ${obj})
    add_library(${obj} OBJECT ${FL_MUTANT_FILES_${id}})
    target_compile_definitions(${obj} PRIVATE FL_MUTANT=${id})
    target_link_libraries(${obj} PUBLIC ${core})
    if(core STREQUAL "fl_core_plain")
      set_target_properties(${obj} PROPERTIES POSITION_INDEPENDENT_CODE ON)
    endif()
  endif()
  # Linking the object library puts its objects on the link line ahead of
  # the archive (which it brings along).
  target_link_libraries(${target} PRIVATE ${obj})
endfunction()

# ---- the kill tests ---------------------------------------------------------
set(FL_MUTANT_RESULTS ${CMAKE_BINARY_DIR}/mutants)
file(MAKE_DIRECTORY ${FL_MUTANT_RESULTS})
set(fl_mutant_tests "")
# The driver is compiled once; each mutant only relinks it.
add_library(mutant_kill_driver OBJECT ${CMAKE_SOURCE_DIR}/tests/mutants/kill.c)
target_link_libraries(mutant_kill_driver PUBLIC fl_core_plain)
foreach(id 0 ${FL_MUTANT_IDS})
  # PLAIN: under ASan the host's own page faults (shadow memory, the
  # executor's tables) swamp the minor-fault comparison with the kernel.
  fl_mutant_executable(mutant_kill_${id} ${id} PLAIN $<TARGET_OBJECTS:mutant_kill_driver>)
  if(id EQUAL 0)
    set(name mutants.control)
  else()
    set(name mutants.m${id})
  endif()
  add_test(NAME ${name} COMMAND mutant_kill_${id} ${id} ${FL_MUTANT_RESULTS})
  set_tests_properties(${name} PROPERTIES LABELS mutants TIMEOUT 300 SKIP_RETURN_CODE 77)
  list(APPEND fl_mutant_tests ${name})
endforeach()

# The table and the kill rate, from the results the kill tests wrote; it runs
# after them (DEPENDS orders, it does not skip) and fails below 100%.
add_executable(mutant_summary ${CMAKE_SOURCE_DIR}/tests/mutants/summary.c)
add_test(NAME mutants.summary COMMAND mutant_summary ${FL_MUTANTS_FILE} ${FL_MUTANT_RESULTS})
set_tests_properties(mutants.summary PROPERTIES LABELS mutants DEPENDS "${fl_mutant_tests}")
