# SPDX-License-Identifier: Apache-2.0
# vsst_gtest(<target> LABELS <label>... SOURCES <src>... [LIBS <lib>...] [TIMEOUT s])
# Builds a GoogleTest binary and registers it as one CTest test named
# <target> (names are "<component>.<what>", e.g. rpc.ring_unit) with labels
# from {unit, integration, e2e, replay}. Tests exit 77 to say SKIP.
function(vsst_gtest target)
  cmake_parse_arguments(A "" "TIMEOUT" "LABELS;SOURCES;LIBS" ${ARGN})
  string(REPLACE "." "_" exe "${target}")
  add_executable(${exe} ${A_SOURCES})
  target_link_libraries(${exe} PRIVATE GTest::gtest GTest::gtest_main ${A_LIBS})
  add_test(NAME ${target} COMMAND ${exe})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 300)
  endif()
  set_tests_properties(${target} PROPERTIES LABELS "${A_LABELS}" TIMEOUT ${A_TIMEOUT}
                       SKIP_RETURN_CODE 77)
endfunction()

# vsst_script_test(<name> LABELS ... COMMAND ... [TIMEOUT s])
function(vsst_script_test name)
  cmake_parse_arguments(A "" "TIMEOUT" "LABELS;COMMAND" ${ARGN})
  add_test(NAME ${name} COMMAND ${A_COMMAND})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 600)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${A_LABELS}" TIMEOUT ${A_TIMEOUT}
                       SKIP_RETURN_CODE 77)
endfunction()

# Adds every immediate subfolder of the current folder that has a CMakeLists.txt.
function(vsst_add_subfolders)
  file(GLOB children LIST_DIRECTORIES true "${CMAKE_CURRENT_SOURCE_DIR}/*")
  list(SORT children)
  foreach(child ${children})
    if(IS_DIRECTORY "${child}" AND EXISTS "${child}/CMakeLists.txt")
      add_subdirectory("${child}")
    endif()
  endforeach()
endfunction()

# vsst_guest_vm_tests(PREFIX <name prefix> SCRIPT <script> CASES <case> <timeout s> ...)
# One e2e test per case, `<script> <case>`, named <prefix><case>. The default QEMU, images
# and binaries come from the build (the environment ./vsst exports wins), and only one
# guest VM test runs at a time: a TCG guest needs most of a core.
function(vsst_guest_vm_tests)
  cmake_parse_arguments(A "" "PREFIX;SCRIPT" "CASES" ${ARGN})
  set(env
    "VSST_DEFAULT_QEMU=${VSST_DEFAULT_QEMU}"
    "VSST_DEFAULT_IMAGES=${VSST_CACHE}/images"
    "VSST_DEFAULT_BIN=${CMAKE_BINARY_DIR}/bin")
  list(LENGTH A_CASES n)
  math(EXPR last "${n} - 1")
  foreach(i RANGE 0 ${last} 2)
    math(EXPR j "${i} + 1")
    list(GET A_CASES ${i} case)
    list(GET A_CASES ${j} secs)
    vsst_script_test(${A_PREFIX}${case} LABELS e2e TIMEOUT ${secs} COMMAND ${A_SCRIPT} ${case})
    set_tests_properties(${A_PREFIX}${case} PROPERTIES ENVIRONMENT "${env}"
                         RESOURCE_LOCK vsst_guest_vm)
  endforeach()
endfunction()
