# aarch64-linux-gnu.cmake: a CMake toolchain file for 64-bit Arm Linux (Debian:
# apt-get install gcc-aarch64-linux-gnu qemu-user), with its programs, and
# convgen_generate()'s VERIFY tests, run under qemu-aarch64 on this machine.
#
#   cmake -S . -B build -DCMAKE_TOOLCHAIN_FILE=.../aarch64-linux-gnu.cmake \
#         -DCMAKE_PREFIX_PATH=/where/convgen/is/installed
#
# convgen itself is a tool for the build machine: install it there and let
# find_package() find it (packages are searched outside the sysroot too).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64 -L /usr/aarch64-linux-gnu)

set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
