# SPDX-License-Identifier: Apache-2.0
# Run a command and check both its exit status and its output, so that a test cannot pass on
# the wrong status (PASS_REGULAR_EXPRESSION ignores the status; WILL_FAIL accepts any non-zero).
#
#   cmake -DEXPECT_EXIT=<code> [-DEXPECT_OUTPUT=<regex>] -P expect-exit.cmake -- <command> [args...]
#
# The output checked is stdout and stderr together. Exits non-zero, saying what differed.
if(NOT DEFINED EXPECT_EXIT)
  message(FATAL_ERROR "expect-exit: -DEXPECT_EXIT=<code> is required")
endif()
set(cmd)
set(after_dashes FALSE)
math(EXPR last "${CMAKE_ARGC} - 1")
foreach(i RANGE 0 ${last})
  if(after_dashes)
    list(APPEND cmd "${CMAKE_ARGV${i}}")
  elseif("${CMAKE_ARGV${i}}" STREQUAL "--")
    set(after_dashes TRUE)
  endif()
endforeach()
if(NOT cmd)
  message(FATAL_ERROR "expect-exit: no command after --")
endif()
execute_process(COMMAND ${cmd} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
message("${out}")
if(NOT "${rc}" STREQUAL "${EXPECT_EXIT}")
  message(FATAL_ERROR "expect-exit: '${cmd}' exited '${rc}', expected ${EXPECT_EXIT}")
endif()
if(DEFINED EXPECT_OUTPUT AND NOT out MATCHES "${EXPECT_OUTPUT}")
  message(FATAL_ERROR "expect-exit: the output of '${cmd}' does not match '${EXPECT_OUTPUT}'")
endif()
message("expect-exit: exit ${rc} as expected")
