# arm-none-eabi-cortex-m4.cmake: a CMake toolchain file for bare-metal
# Cortex-M4 code (Debian: apt-get install gcc-arm-none-eabi
# libnewlib-arm-none-eabi), with which test_package checks that a 32-bit
# bare-metal build finds the installed (64-bit, build machine) convgen and
# that convgen_generate() shapes the code for the core.  Libraries only: how
# an image boots and links is a project's business (examples/train).
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR cortex-m4)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_C_FLAGS_INIT "-mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard")
# No startup file nor memory map to link a test program with.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
