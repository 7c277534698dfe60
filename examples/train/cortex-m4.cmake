# cortex-m4.cmake: a CMake toolchain file for bare-metal Cortex-M4 firmware
# (Debian: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi
# qemu-system-arm), run on QEMU's mps2-an386 board with semihosting: stdio on
# the host's terminal, and the image's exit status is QEMU's.  CTest runs the
# project's programs, and convgen_generate()'s VERIFY tests run the proof's
# programs, under that emulator.
#
#   cmake -S examples/train -B build-train-m4 -DCMAKE_TOOLCHAIN_FILE=$PWD/examples/train/cortex-m4.cmake \
#         -DCMAKE_PREFIX_PATH=/where/convgen/is/installed
#
# The flags only choose the core and its single-precision FPU; how an image
# boots and is linked (vector table, memory map, newlib's semihosting) is the
# project's business: examples/train/CMakeLists.txt.  convgen itself is a tool
# for the build machine: install it there and let find_package() find it.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR cortex-m4)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_C_FLAGS_INIT "-mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard")
# A test program cannot be linked without a startup file and a memory map:
# CMake checks the compiler with a static library instead.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-system-arm -M mps2-an386 -cpu cortex-m4 -nographic -semihosting -kernel)

# Programs (and convgen's package) from the build machine; libraries and
# headers only from the compiler's own newlib.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
