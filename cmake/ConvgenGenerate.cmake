# ConvgenGenerate.cmake: convgen_generate(), for projects that use convgen
# (installed, through find_package(convgen CONFIG), or vendored, through
# add_subdirectory()).
#
#   convgen_generate(TARGET <target> NAME <name>
#                    OPTIONS <convgen generate options...>
#                    [VERIFY [SANITIZE]])
#
# At build time, runs 'convgen generate <options> --name <name> -o <dir>' with
# <dir> = ${CMAKE_CURRENT_BINARY_DIR}/convgen/<target>, adds <dir>/<name>.c to
# <target>'s sources and <dir> to its include path, so that the target can
# '#include "<name>.h"'.  The files are regenerated when the options change or
# convgen::convgen is rebuilt (or reinstalled), and not otherwise.  Each target
# has its own directory, so two targets may both generate a layer <name>.
#
# VERIFY adds the CTest test convgen_verify_<target>_<name>, which runs
# 'convgen verify --file <dir>/<name>.c' (the very file compiled into the
# target) with CC set to this project's C compiler and CFLAGS to the flags the
# file is built with: CMAKE_C_FLAGS and the build type's, then <target>'s
# COMPILE_OPTIONS and its COMPILE_DEFINITIONS as -D (those its linked
# libraries pass on included, and those set after the call): the complete
# proof, memory check included, of the code as built (a -ffast-math there
# gets convgen's warning).  What cannot be a word of $CFLAGS (SHELL: options,
# a flag with a blank or * ? [) is named in the test's environment variable
# CONVGEN_NOT_IN_CFLAGS instead; ctest -V shows both, and convgen's report
# says which CFLAGS it built with.  Not seen: options under
# $<COMPILE_LANGUAGE:...> (a test has no language, so they evaluate to
# nothing), source-file properties, and the C standard flag (convgen builds
# with -std=c99 before $CFLAGS).  SANITIZE
# adds '--sanitize' (the memory check under UBSan too, at -O1: a slower
# compile, a few seconds more).  Like any add_test(), it
# needs enable_testing() or include(CTest) in the top-level CMakeLists.txt.
#
# Cross builds: VERIFY proves the file on the target.  When
# CMAKE_CROSSCOMPILING_EMULATOR is set (a list, e.g. 'qemu-aarch64;-L;/usr/
# aarch64-linux-gnu', usually from the toolchain file), the test passes it to
# convgen as one '--exec' string, its words joined by spaces (a word with
# characters special to /bin/sh is single-quoted), so the checks' programs are
# built by the cross compiler and run under the emulator; the report says
# "run under '<emulator>'".  convgen itself always runs on the build machine:
# the test names it by $<TARGET_FILE:...>, not as a target, so CMake does not
# put the emulator in front of it (it would, for any executable target, even
# an imported one).  Without an emulator, a cross compiler's VERIFY test fails
# with convgen's message asking for --exec.
#
# Cross builds: the target.  convgen's default, --target host, is the build
# machine, never right in a cross build, so without --target (or --target=)
# in OPTIONS the target comes from the toolchain, and a STATUS message names
# it: -mcpu=cortex-m4 or -mcpu=cortex-m7 in the C flags (CMAKE_C_FLAGS, the
# build type's, <target>'s COMPILE_OPTIONS set before the call; the last
# -mcpu= counts, as for gcc), else CMAKE_SYSTEM_PROCESSOR: aarch64 or arm64
# gives aarch64, cortex-m4 or cortex-m7 that core, x86_64 with
# -march=x86-64-v3 or -v4 that level, 32-bit Arm Linux (armhf) generic.  Any
# other toolchain (another core, x86_64 without such a -march) stops with a
# FATAL_ERROR that asks for --target in OPTIONS.  Native builds keep host.
#
# A cross build needs convgen installed for the build machine and found with
# find_package(): the toolchain file must let find_package() look outside the
# sysroot (CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH or NEVER), or give
# convgen_DIR.  A vendored convgen (add_subdirectory()) would be built by the
# cross compiler and could not run here: convgen_generate() stops with a
# FATAL_ERROR when CMAKE_CROSSCOMPILING is true and convgen::convgen is not an
# imported target.
#
# The generated file is C: the project must enable C (project(<name>
# LANGUAGES C CXX) or enable_language(C)), or convgen_generate() stops with a
# FATAL_ERROR saying so; CMake itself would leave a .c out of a target without
# a word, and the link would fail on the layer's functions.
#
# Call it in the directory that defines <target>: the generated files are the
# outputs of a custom command, and those are visible in that directory only.
include_guard(GLOBAL)

# The value of the last -NAME=VALUE among 'flags' (as gcc reads them, the last
# one counts), or "" in 'out'.
function(_convgen_last_flag flags name out)
  set(value "")
  string(REGEX MATCHALL "(^|[ \t])-${name}=[^ \t]+" all "${flags}")
  if(all)
    list(GET all -1 value)
    string(REGEX REPLACE "^[ \t]*-${name}=" "" value "${value}")
  endif()
  set(${out} "${value}" PARENT_SCOPE)
endfunction()

# The convgen target that a cross build's toolchain builds <tgt> for, in <out>
# (empty when it cannot tell), and in <seen> what it went by.  The flags the
# compiler gets come first: -mcpu= is what the code is compiled for, whatever
# CMAKE_SYSTEM_PROCESSOR says (gcc obeys the last one, so do we).
function(_convgen_cross_target tgt out seen)
  set(flags "${CMAKE_C_FLAGS}")
  if(CMAKE_BUILD_TYPE)
    string(TOUPPER "${CMAKE_BUILD_TYPE}" config)
    string(APPEND flags " ${CMAKE_C_FLAGS_${config}}")
  endif()
  get_target_property(options ${tgt} COMPILE_OPTIONS)
  if(options)
    list(JOIN options " " options)
    string(APPEND flags " ${options}")
  endif()
  _convgen_last_flag("${flags}" mcpu mcpu)
  _convgen_last_flag("${flags}" march march)
  string(TOLOWER "${CMAKE_SYSTEM_PROCESSOR}" processor)
  set(what "CMAKE_SYSTEM_NAME ${CMAKE_SYSTEM_NAME}, CMAKE_SYSTEM_PROCESSOR '${CMAKE_SYSTEM_PROCESSOR}'")
  if(mcpu)
    string(APPEND what ", -mcpu=${mcpu}")
  endif()
  if(march)
    string(APPEND what ", -march=${march}")
  endif()

  set(result "")
  # '+nofp' and the like are still the core's integer pipeline and memory:
  # the scalar schedule's stack budget is what matters, and it holds.
  if(mcpu MATCHES "^cortex-m(4|7)($|\\+)")
    set(result cortex-m${CMAKE_MATCH_1})
  elseif(processor MATCHES "^(aarch64|arm64)")
    set(result aarch64)
  elseif(NOT mcpu AND processor MATCHES "^cortex-m(4|7)($|[^0-9])")
    set(result cortex-m${CMAKE_MATCH_1})
  elseif(processor MATCHES "^(x86_64|amd64)$" AND march MATCHES "^x86-64-v(3|4)$")
    set(result x86-64-v${CMAKE_MATCH_1})
  elseif(CMAKE_SYSTEM_NAME MATCHES "^(Linux|Android)$" AND processor MATCHES "^arm")
    # 32-bit Arm Linux (Debian's armhf: ARMv7-A, VFPv3-D16) has no convgen
    # target of its own, and generic is not a guess here: it is the only one
    # that fits.  Its baseline promises no NEON and no fused multiply-add,
    # which is what generic assumes (scalar C, no FMA), and a Linux thread's
    # stack is megabytes, so generic's default frame budget holds; aarch64
    # would emit A64 NEON shapes for 32 q registers, cortex-m* would hold
    # frames to a microcontroller's 1 KiB for no reason.
    set(result generic)
  endif()
  set(${out} "${result}" PARENT_SCOPE)
  set(${seen} "${what}" PARENT_SCOPE)
endfunction()

function(convgen_generate)
  cmake_parse_arguments(PARSE_ARGV 0 arg "VERIFY;SANITIZE" "TARGET;NAME" "OPTIONS")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "convgen_generate: unknown arguments: ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT arg_TARGET OR NOT arg_NAME)
    message(FATAL_ERROR "convgen_generate: TARGET and NAME are required")
  endif()
  if(NOT TARGET ${arg_TARGET})
    message(FATAL_ERROR "convgen_generate: '${arg_TARGET}' is not a target (define it first)")
  endif()
  # The generated .c is a C source: in a project without C, CMake would
  # leave it out of the target without a word, and the link would fail on
  # the layer's functions.
  get_property(languages GLOBAL PROPERTY ENABLED_LANGUAGES)
  if(NOT "C" IN_LIST languages)
    message(FATAL_ERROR "convgen_generate: ${arg_NAME}.c is C, and this project has not enabled C "
                        "(enabled: ${languages}), so it would not be compiled into '${arg_TARGET}' "
                        "and ${arg_NAME}_* would be undefined at link time: enable C with "
                        "project(<name> LANGUAGES C CXX) or enable_language(C) before convgen_generate()")
  endif()
  if(NOT TARGET convgen::convgen)
    message(FATAL_ERROR "convgen_generate: no target convgen::convgen: "
                        "use find_package(convgen CONFIG REQUIRED) or add_subdirectory() of convgen first")
  endif()
  get_target_property(convgen_imported convgen::convgen IMPORTED)
  if(CMAKE_CROSSCOMPILING AND NOT convgen_imported)
    message(FATAL_ERROR "convgen_generate: this is a cross build (CMAKE_SYSTEM_NAME ${CMAKE_SYSTEM_NAME}, "
                        "${CMAKE_SYSTEM_PROCESSOR}), and convgen::convgen is built here by the cross compiler "
                        "(add_subdirectory()), so it cannot run on this machine: install convgen for the "
                        "build machine and use find_package(convgen CONFIG REQUIRED) instead (let the "
                        "toolchain file search packages outside the sysroot, or pass -Dconvgen_DIR=...)")
  endif()
  if(NOT arg_NAME MATCHES "^[A-Za-z_][A-Za-z0-9_]*$")
    message(FATAL_ERROR "convgen_generate: NAME '${arg_NAME}' is not a C identifier")
  endif()
  set(has_target FALSE)
  foreach(opt IN LISTS arg_OPTIONS)
    if(opt MATCHES "^(--name|-o)(=.*)?$")
      message(FATAL_ERROR "convgen_generate: OPTIONS must not contain ${opt}: "
                          "NAME gives the name and the output directory is chosen for you")
    endif()
    if(opt MATCHES "^--target(=.*)?$")
      set(has_target TRUE)
    endif()
  endforeach()
  # convgen's default target is 'host', this machine: in a cross build that
  # is the wrong machine (AVX-512 shapes and 60 KiB frames for a Cortex-M4,
  # whose schedule keeps frames to a few hundred bytes).  The results would
  # be right and the code wrong, so say which target, or refuse.
  if(CMAKE_CROSSCOMPILING AND NOT has_target)
    _convgen_cross_target(${arg_TARGET} derived seen)
    if(NOT derived)
      message(FATAL_ERROR "convgen_generate: ${arg_NAME} for ${arg_TARGET}: a cross build (${seen}) "
                          "whose core convgen cannot tell a target for, and without --target it would "
                          "shape the code for this build machine: add --target T to OPTIONS, T one "
                          "of x86-64-v3, x86-64-v4, aarch64, cortex-m4, cortex-m7, or generic (scalar "
                          "C99, no assumption about the core: right for any core, fastest on none)")
    endif()
    message(STATUS "convgen_generate: ${arg_NAME} for ${arg_TARGET}: --target ${derived} (from ${seen}; "
                   "give --target in OPTIONS to choose)")
    list(APPEND arg_OPTIONS --target ${derived})
  endif()
  get_target_property(target_dir ${arg_TARGET} SOURCE_DIR)
  if(NOT target_dir STREQUAL CMAKE_CURRENT_SOURCE_DIR)
    message(FATAL_ERROR "convgen_generate: call it in ${target_dir}, the directory that defines "
                        "'${arg_TARGET}' (custom-command outputs are directory-scoped)")
  endif()

  set(dir ${CMAKE_CURRENT_BINARY_DIR}/convgen/${arg_TARGET})
  set(header ${dir}/${arg_NAME}.h)
  set(source ${dir}/${arg_NAME}.c)

  # The options, in a file the command depends on, written only when they
  # change: so a changed OPTIONS list reruns the command with every generator
  # (Ninja also sees the new command line; Makefiles would not), and an
  # unchanged one leaves the file, and the build, alone.
  set(options_file ${dir}/${arg_NAME}.options)
  string(JOIN "\n" options_text ${arg_OPTIONS})
  set(options_text "${options_text}\n")
  set(old_text "")
  if(EXISTS ${options_file})
    file(READ ${options_file} old_text)
  endif()
  if(NOT old_text STREQUAL options_text)
    file(WRITE ${options_file} "${options_text}")
  endif()

  # convgen writes both files every time (temporary file and rename), so the
  # outputs are always newer than the inputs after a run.
  add_custom_command(
    OUTPUT ${header} ${source}
    COMMAND convgen::convgen generate ${arg_OPTIONS} --name ${arg_NAME} -o ${dir}
    DEPENDS convgen::convgen ${options_file}
    COMMENT "convgen: generating ${arg_NAME}.c and ${arg_NAME}.h for ${arg_TARGET}"
    VERBATIM)
  target_sources(${arg_TARGET} PRIVATE ${source} ${header})
  target_include_directories(${arg_TARGET} PUBLIC $<BUILD_INTERFACE:${dir}>)

  if(arg_SANITIZE AND NOT arg_VERIFY)
    message(FATAL_ERROR "convgen_generate: SANITIZE adds to VERIFY's test: give VERIFY too")
  endif()
  if(arg_VERIFY)
    set(test convgen_verify_${arg_TARGET}_${arg_NAME})
    set(sanitize "")
    if(arg_SANITIZE)
      set(sanitize --sanitize)
    endif()
    # On the target, through the emulator: one --exec string, split into
    # words again by /bin/sh, so a word that sh would change is quoted.
    set(exec "")
    if(CMAKE_CROSSCOMPILING_EMULATOR)
      set(words "")
      foreach(word IN LISTS CMAKE_CROSSCOMPILING_EMULATOR)
        if(word STREQUAL "" OR NOT word MATCHES "^[A-Za-z0-9_@%+=:,./-]+$")
          string(REPLACE "'" "'\\''" word "${word}")
          set(word "'${word}'")
        endif()
        list(APPEND words "${word}")
      endforeach()
      list(JOIN words " " words)
      set(exec --exec "${words}")
    endif()
    # $<TARGET_FILE:>, not the target's name: CMake would run a named
    # executable target (even an imported one) under the emulator, and
    # convgen is a program for this machine.
    add_test(NAME ${test}
             COMMAND $<TARGET_FILE:convgen::convgen> verify --file ${source} ${sanitize} ${exec})
    # Prove the file as this project compiles it: its compiler, its C flags
    # for the build type, and the target's options and definitions, read at
    # generate time so that those set after this call and those its linked
    # libraries pass on count too.  convgen splits $CFLAGS at blanks and the
    # shell would expand * ? [ in it, so a flag with those cannot travel
    # there: it goes to CONVGEN_NOT_IN_CFLAGS instead, which ctest -V shows
    # beside CFLAGS, so that nothing is left out without a word.  SHELL:
    # options are CMake's own syntax, not flags.
    set(cflags "${CMAKE_C_FLAGS}")
    if(CMAKE_BUILD_TYPE)
      string(TOUPPER "${CMAKE_BUILD_TYPE}" config)
      string(APPEND cflags " ${CMAKE_C_FLAGS_${config}}")
    endif()
    string(STRIP "${cflags}" cflags)
    set(not_flag "^SHELL:|[ \t\n*?[]")
    set(options "$<TARGET_PROPERTY:${arg_TARGET},COMPILE_OPTIONS>")
    set(defines "$<TARGET_PROPERTY:${arg_TARGET},COMPILE_DEFINITIONS>")
    set(options_in "$<FILTER:${options},EXCLUDE,${not_flag}>")
    set(options_out "$<FILTER:${options},INCLUDE,${not_flag}>")
    set(defines_in "$<FILTER:${defines},EXCLUDE,${not_flag}>")
    set(defines_out "$<FILTER:${defines},INCLUDE,${not_flag}>")
    set(target_flags "$<JOIN:${options_in}, >$<$<BOOL:${defines_in}>: -D$<JOIN:${defines_in}, -D>>")
    set(left_out "$<JOIN:${options_out}, | >$<$<BOOL:${defines_out}>:$<$<BOOL:${options_out}>: | >-D$<JOIN:${defines_out}, | -D>>")
    set(env "CFLAGS=${cflags}$<$<AND:$<BOOL:${cflags}>,$<BOOL:${options_in}${defines_in}>>: >${target_flags}")
    list(APPEND env "$<$<BOOL:${options_out}${defines_out}>:CONVGEN_NOT_IN_CFLAGS=${left_out}>")
    if(CMAKE_C_COMPILER)
      list(APPEND env "CC=${CMAKE_C_COMPILER}")
    endif()
    set_tests_properties(${test} PROPERTIES ENVIRONMENT "${env}")
  endif()
endfunction()
