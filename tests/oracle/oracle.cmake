# The black-box oracle's deliberately broken allocators (tests/oracle/broken):
# one shared object per broken promise, build/oracle-broken/libbroken-<name>.so,
# never sanitized (they are LD_PRELOADed into the non-sanitized helper).
set(FL_BROKEN_ALLOCATORS misalign ignore_align overlap short_usable scribble lose_prefix
    dirty_calloc huge_ok free_null zero_shared no_errno any_align hoard crash hang)
foreach(name ${FL_BROKEN_ALLOCATORS})
  string(TOUPPER ${name} upper)
  add_library(broken-${name} SHARED ${CMAKE_SOURCE_DIR}/tests/oracle/broken/broken.c)
  target_compile_definitions(broken-${name} PRIVATE BROKEN_${upper})
  target_compile_options(broken-${name} PRIVATE -fvisibility=hidden -fno-builtin)
  target_link_libraries(broken-${name} PRIVATE dl)
  set_target_properties(broken-${name} PROPERTIES OUTPUT_NAME broken-${name}
    LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/oracle-broken)
  # The oracle's tests run them through faultline and its helper.
  add_dependencies(test_oracle broken-${name})
endforeach()
add_dependencies(test_oracle faultline faultline-oracle)
