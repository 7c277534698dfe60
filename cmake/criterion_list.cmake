# criterion_list.cmake: run as 'cmake -DEXE= -DTARGET= -DOUT= -P criterion_list.cmake'
# (see CriterionDiscover.cmake).  Parses Criterion's '--list' output:
#   suite: 2 tests
#   |-- name
#   `-- name
# Each test runs alone (--filter suite/name), so it skipped (cr_skip_test)
# exactly when Criterion's summary, the last line it prints, says it tested
# none:
#   [====] Synthesis: Tested: 0 | Passing: 0 | Failing: 0 | Crashing: 0
# At the default verbosity that line is all a skip prints (the reason shows
# under --verbose, which scripts/skips uses).  SKIP_REGULAR_EXPRESSION makes
# CTest report such a test as skipped, not passed.  A test that fails and then
# skips counts as tested, so it fails.  The regex is anchored at the end of
# the output: a failing test may quote another run's summary, and a sanitizer
# report printed at exit must not be hidden by a skip.
set(ENV{LC_ALL} C)
set(skip_regex "Synthesis: Tested: 0 \\\\| Passing: 0 \\\\| Failing: 0 \\\\| Crashing: 0 *\\n*$")
execute_process(COMMAND ${EXE} --list RESULT_VARIABLE rc OUTPUT_VARIABLE listing ERROR_VARIABLE err)
set(body "")
set(count 0)
if(rc EQUAL 0)
  string(REPLACE "\n" ";" lines "${listing}")
  foreach(line IN LISTS lines)
    if(line MATCHES "^([A-Za-z0-9_]+): [0-9]+ tests?$")
      set(suite ${CMAKE_MATCH_1})
    elseif(line MATCHES "^[|`]-- ([A-Za-z0-9_]+)$")
      set(name ${suite}/${CMAKE_MATCH_1})
      # The tier (docs/testing.md): a suite named full_* runs only in the full
      # tier (ctest -L full), every other in the main tier (ctest -L main).
      set(tier main)
      if(suite MATCHES "^full_")
        set(tier full)
      endif()
      string(APPEND body "add_test(${name} \"${EXE}\" --filter ${name} --jobs=1)\n")
      string(APPEND body "set_tests_properties(${name} PROPERTIES FAIL_REGULAR_EXPRESSION \"Sanitizer|runtime error\"\n"
                         "  SKIP_REGULAR_EXPRESSION \"${skip_regex}\" LABELS ${tier})\n")
      math(EXPR count "${count} + 1")
    endif()
  endforeach()
endif()
if(count EQUAL 0)
  set(body "add_test(${TARGET}/DISCOVERY_FAILED ${CMAKE_COMMAND} -E false)\n")
  message(WARNING "${TARGET}: no tests listed (exit ${rc}): ${err}")
endif()
file(WRITE "${OUT}" "${body}")
