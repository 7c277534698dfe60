# CriterionDiscover.cmake: one CTest test per Criterion test.
#
# criterion_discover_tests(target) lists the tests of 'target' after each build
# ('target --list' under LC_ALL=C) and writes one add_test per suite/name, run
# as 'target --filter suite/name --jobs=1'.  A binary that cannot be listed, or
# lists no test at all (Criterion passes an empty binary quietly), becomes a
# failing '<target>/DISCOVERY_FAILED' test.
set(_criterion_discover_script ${CMAKE_CURRENT_LIST_DIR}/criterion_list.cmake)

function(criterion_discover_tests target)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${target}_tests.cmake)
  if(NOT EXISTS ${out})
    file(WRITE ${out} "add_test(${target}/DISCOVERY_FAILED ${CMAKE_COMMAND} -E false)\n")
  endif()
  # Relink, and so list again, when the listing script changes.
  set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS ${_criterion_discover_script})
  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND ${CMAKE_COMMAND} -DEXE=$<TARGET_FILE:${target}> -DTARGET=${target}
            -DOUT=${out} -P ${_criterion_discover_script}
    VERBATIM)
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES ${out})
endfunction()
