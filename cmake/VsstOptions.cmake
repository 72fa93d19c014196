# SPDX-License-Identifier: Apache-2.0
# Warnings and sanitizer flags for all project code (not for QEMU, which
# keeps its own flags, nor the kernel module, built by kbuild).
add_compile_options(-Wall -Wextra -Werror)

if(VSST_SANITIZE STREQUAL "asan")
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
elseif(VSST_SANITIZE STREQUAL "tsan")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(NOT VSST_SANITIZE STREQUAL "")
  message(FATAL_ERROR "VSST_SANITIZE must be '', asan or tsan, not '${VSST_SANITIZE}'")
endif()

# Fuzz flavour (clang only): every library gets libFuzzer coverage plus ASan+UBSan;
# the fuzz targets themselves (tests/fuzz) link -fsanitize=fuzzer.
option(VSST_FUZZ "build libFuzzer targets (needs clang)" OFF)
if(VSST_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "VSST_FUZZ needs clang: -DCMAKE_CXX_COMPILER=clang++")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
