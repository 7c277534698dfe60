# arm-linux-gnueabihf.cmake: a CMake toolchain file for 32-bit Arm Linux with
# hardware floating point, Debian's armhf (apt-get install
# gcc-arm-linux-gnueabihf qemu-user), its programs run under qemu-arm.
#
#   cmake -S . -B build -DCMAKE_TOOLCHAIN_FILE=.../arm-linux-gnueabihf.cmake \
#         -DCMAKE_PREFIX_PATH=/where/convgen/is/installed
#
# convgen itself is a tool for the build machine: install it there and let
# find_package() find it (packages are searched outside the sysroot too).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-arm -L /usr/arm-linux-gnueabihf)

set(CMAKE_FIND_ROOT_PATH /usr/arm-linux-gnueabihf)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
