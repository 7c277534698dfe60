/* test_package.c: convgen as a CMake package, as downstream projects use it:
** installed (cmake --install, then find_package) and vendored
** (add_subdirectory), with convgen_generate() generating at build time,
** regenerating exactly when it should, and VERIFY tests that pass -- also in
** a cross build for aarch64 (tests/toolchains/), where the test proves the file
** under the toolchain's CMAKE_CROSSCOMPILING_EMULATOR (qemu-aarch64) while
** convgen runs here, and a vendored convgen is refused.  From 32-bit
** toolchains too (arm-none-eabi, armhf), where a cross build without --target
** gets the toolchain's core or is stopped, never the build machine's code; a
** project without C is stopped; VERIFY proves with the target's own flags.
**
** Each test configures and builds a small project with Ninja in a scratch
** directory: a few seconds each. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "support.h"

#define DOWNSTREAM SOURCE_DIR "/examples/downstream"
#define AARCH64_TOOLCHAIN SOURCE_DIR "/tests/toolchains/aarch64-linux-gnu.cmake"
#define AARCH64_EMULATOR "qemu-aarch64 -L /usr/aarch64-linux-gnu"
#define M4_TOOLCHAIN SOURCE_DIR "/tests/toolchains/arm-none-eabi-cortex-m4.cmake"
#define ARMHF_TOOLCHAIN SOURCE_DIR "/tests/toolchains/arm-linux-gnueabihf.cmake"
/* The smallest layer: what these tests check is the build around it. */
#define SMALL "--input 4x4 --kernel 3x3 --ops forward"
/* The example's second layer, which its main.c trains (examples/downstream). */
#define RELU1_OPTIONS "--input 4x4 --kernel 3x3 --padding 1 --activation relu --ops forward,grad_input,sgd_update --momentum"

/* Run a shell command made from 'fmt' in 'dir', its output (both streams)
** into dir/log, which it first empties; on failure print the log. */
static int sh(const char *dir, const char *fmt, ...)
{
	char cmd[4096], inner[3072], log[512];
	va_list ap;
	int status;
	va_start(ap, fmt);
	vsnprintf(inner, sizeof inner, fmt, ap);
	va_end(ap);
	snprintf(log, sizeof log, "%s/log", dir);
	snprintf(cmd, sizeof cmd, "cd '%s' && (%s) >'%s' 2>&1", dir, inner, log);
	status = run_shell(cmd);
	if (status != 0) {
		char *text = read_file(log, NULL);
		fprintf(stderr, "exit %d: %s\n%s\n", status, inner, text ? text : "(no log)");
		free(text);
	}
	return status;
}

/* The log of the last sh() in 'dir' (malloc'ed). */
static char *last_log(const char *dir)
{
	char log[512];
	char *text;
	snprintf(log, sizeof log, "%s/log", dir);
	text = read_file(log, NULL);
	cr_assert(text, "no log in %s", dir);
	return text;
}

/* Install the project's build of convgen into dir/prefix. */
static void install_into(const char *dir)
{
	char path[512];
	cr_assert_eq(sh(dir, "cmake --install '%s' --prefix prefix", CONVGEN_BINARY_DIR), 0);
	snprintf(path, sizeof path, "%s/prefix/bin/convgen", dir);
	cr_assert(file_exists(path), "no %s", path);
	snprintf(path, sizeof path, "%s/prefix/lib/cmake/convgen/convgenConfig.cmake", dir);
	cr_assert(file_exists(path), "no %s", path);
	snprintf(path, sizeof path, "%s/prefix/lib/cmake/convgen/convgenConfigVersion.cmake", dir);
	cr_assert(file_exists(path), "no %s", path);
}

/* The test names that 'ctest -N' lists in dir/build, one per line, sorted. */
static char *ctest_names(const char *dir)
{
	cr_assert_eq(sh(dir, "ctest --test-dir build -N | sed -n 's/^ *Test *#[0-9]*: //p' | LC_ALL=C sort"), 0);
	return last_log(dir);
}

static struct timespec mtime(const char *path)
{
	struct stat st;
	cr_assert_eq(stat(path, &st), 0, "no %s", path);
	return st.st_mtim;
}

static int same_time(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

Test(package, installed_find_package_builds_and_verifies, .timeout = 300)
{
	char dir[256];
	char *names;
	cr_assert(scratch_dir(dir, sizeof dir));
	install_into(dir);
	cr_assert_eq(sh(dir, "cmake -S '%s' -B build -G Ninja -DCMAKE_PREFIX_PATH=\"$PWD/prefix\"", DOWNSTREAM), 0);
	cr_assert_eq(sh(dir, "cmake --build build"), 0);
	cr_assert_eq(sh(dir, "ctest --test-dir build --output-on-failure"), 0);
	names = ctest_names(dir);
	cr_expect_str_eq(names, "app\nconvgen_verify_app_conv1\nconvgen_verify_app_relu1\n");
	/* The generated files live in the build tree, in the target's own directory,
	** and the verify test checks that very file with the installed convgen. */
	cr_assert_eq(sh(dir, "test -f build/convgen/app/conv1.c && test -f build/convgen/app/conv1.h"), 0);
	cr_assert_eq(sh(dir, "ctest --test-dir build -R convgen_verify -V"), 0);
	free(names);
	names = last_log(dir);
	cr_expect(strstr(names, "/prefix/bin/convgen \"verify\" \"--file\"") != NULL, "%s", names);
	cr_expect(strstr(names, "/build/convgen/app/conv1.c\"") != NULL, "%s", names);
	cr_expect(strstr(names, "CC=/") != NULL, "no CC for convgen verify: %s", names);
	cr_expect(strstr(names, "CFLAGS=") != NULL, "no CFLAGS for convgen verify: %s", names);
	/* SANITIZE: the memory check runs too, 4 checks per op but forward's 3. */
	cr_expect(strstr(names, "\"--sanitize\"") != NULL, "SANITIZE not passed on: %s", names);
	cr_expect(strstr(names, "grad_input   memory        ok") != NULL, "%s", names);
	cr_expect(strstr(names, "proved: 4 ops, 15 checks hold") != NULL, "%s", names);
	/* relu1, without SANITIZE: its three ops proven, the mask's value at 0 too. */
	cr_expect(strstr(names, "/build/convgen/app/relu1.c\"") != NULL, "%s", names);
	cr_expect(strstr(names, "sgd_update   relu-at-zero  ok") != NULL, "%s", names);
	cr_expect(strstr(names, "proved: 3 ops, 13 checks hold") != NULL, "%s", names);
	free(names);
	remove_dir(dir);
}

Test(package, vendored_add_subdirectory_builds_without_convgen_tests, .timeout = 300)
{
	char dir[256];
	char *names;
	cr_assert(scratch_dir(dir, sizeof dir));
	cr_assert_eq(sh(dir, "cmake -S '%s' -B build -G Ninja -DCONVGEN_SOURCE_DIR='%s'", DOWNSTREAM, SOURCE_DIR), 0);
	cr_assert_eq(sh(dir, "cmake --build build"), 0);
	cr_assert_eq(sh(dir, "ctest --test-dir build --output-on-failure"), 0);
	/* Only the parent's tests: none of convgen's own (no Criterion, no tests/). */
	names = ctest_names(dir);
	cr_expect_str_eq(names, "app\nconvgen_verify_app_conv1\nconvgen_verify_app_relu1\n");
	free(names);
	cr_expect_neq(sh(dir, "test -e build/convgen/tests"), 0, "convgen's tests/ was added to the parent");
	/* A vendored convgen is not installed with the parent. */
	cr_assert_eq(sh(dir, "cmake --install build --prefix prefix"), 0);
	cr_expect_neq(sh(dir, "test -e prefix/bin/convgen"), 0, "the parent installed convgen");
	remove_dir(dir);
}

/* A project with two targets that both generate a layer 'conv1', with
** different options; OPTIONS_APP are app's.  Both also generate relu1, which
** the example's main.c calls, without a test. */
static void write_project(const char *dir, const char *options_app)
{
	char path[512];
	FILE *f;
	snprintf(path, sizeof path, "%s/src/CMakeLists.txt", dir);
	f = fopen(path, "w");
	cr_assert(f, "cannot write %s", path);
	fprintf(f,
		"cmake_minimum_required(VERSION 3.25)\n"
		"project(two LANGUAGES C)\n"
		"enable_testing()\n"
		"find_package(convgen CONFIG REQUIRED)\n"
		"add_executable(app main.c)\n"
		"convgen_generate(TARGET app NAME conv1 OPTIONS %s VERIFY)\n"
		"convgen_generate(TARGET app NAME relu1 OPTIONS " RELU1_OPTIONS ")\n"
		"add_executable(app2 main.c)\n"
		"convgen_generate(TARGET app2 NAME conv1 OPTIONS --input 28x28 --kernel 3x3 --padding 1 --ops forward VERIFY)\n"
		"convgen_generate(TARGET app2 NAME relu1 OPTIONS " RELU1_OPTIONS ")\n",
		options_app);
	cr_assert_eq(fclose(f), 0);
}

Test(package, regenerates_exactly_when_it_should, .timeout = 300)
{
	char dir[256], c_file[512], h_file[512], c2_file[512];
	struct timespec before, before2;
	char *log, *names, *header;
	cr_assert(scratch_dir(dir, sizeof dir));
	install_into(dir);
	cr_assert_eq(sh(dir, "mkdir src && cp '%s/main.c' src/", DOWNSTREAM), 0);
	write_project(dir, "--input 28x28 --kernel 3x3 --padding 1");
	cr_assert_eq(sh(dir, "cmake -S src -B build -G Ninja -DCMAKE_PREFIX_PATH=\"$PWD/prefix\""), 0);
	cr_assert_eq(sh(dir, "cmake --build build"), 0);
	snprintf(c_file, sizeof c_file, "%s/build/convgen/app/conv1.c", dir);
	snprintf(h_file, sizeof h_file, "%s/build/convgen/app/conv1.h", dir);
	snprintf(c2_file, sizeof c2_file, "%s/build/convgen/app2/conv1.c", dir);

	/* Two targets, one NAME: two directories, two different files, both proven. */
	cr_assert_eq(sh(dir, "cmp -s build/convgen/app/conv1.c build/convgen/app2/conv1.c || echo differ"), 0);
	log = last_log(dir);
	cr_expect_str_eq(log, "differ\n");
	free(log);
	cr_assert_eq(sh(dir, "ctest --test-dir build --output-on-failure"), 0);
	names = ctest_names(dir);
	cr_expect_str_eq(names, "convgen_verify_app2_conv1\nconvgen_verify_app_conv1\n");
	free(names);
	cr_assert_eq(sh(dir, "build/app && build/app2"), 0);

	/* A no-op rebuild (even after reconfiguring) regenerates and rebuilds nothing. */
	before = mtime(c_file);
	before2 = mtime(c2_file);
	cr_assert_eq(sh(dir, "cmake build >/dev/null && cmake --build build"), 0);
	log = last_log(dir);
	cr_expect(strstr(log, "no work to do") != NULL, "a no-op rebuild did work:\n%s", log);
	cr_expect(strstr(log, "convgen: generating") == NULL, "a no-op rebuild regenerated:\n%s", log);
	free(log);
	cr_expect(same_time(before, mtime(c_file)), "conv1.c rewritten by a no-op rebuild");
	cr_expect(same_time(before2, mtime(c2_file)), "app2's conv1.c rewritten by a no-op rebuild");

	/* Changed OPTIONS: app's layer is regenerated with them, app2's is not. */
	write_project(dir, "--input 28x28 --kernel 3x3 --padding 1 --ops forward,grad_bias");
	cr_assert_eq(sh(dir, "cmake --build build"), 0);
	log = last_log(dir);
	cr_expect(strstr(log, "convgen: generating conv1.c and conv1.h for app\n") != NULL,
		  "new OPTIONS did not regenerate:\n%s", log);
	cr_expect(strstr(log, "for app2") == NULL, "app2 regenerated for app's new OPTIONS:\n%s", log);
	free(log);
	header = read_file(h_file, NULL);
	cr_assert(header);
	cr_expect(strstr(header, "--ops forward,grad_bias ") != NULL, "conv1.h not from the new options");
	cr_expect(strstr(header, "conv1_grad_weight") == NULL, "conv1.h not from the new options");
	free(header);
	cr_expect(same_time(before2, mtime(c2_file)), "app2's conv1.c rewritten");

	/* A new convgen regenerates both. */
	cr_assert_eq(sh(dir, "touch prefix/bin/convgen && cmake --build build"), 0);
	log = last_log(dir);
	cr_expect(strstr(log, "for app\n") != NULL && strstr(log, "for app2\n") != NULL,
		  "a new convgen did not regenerate both:\n%s", log);
	free(log);
	cr_assert_eq(sh(dir, "ctest --test-dir build --output-on-failure"), 0);
	remove_dir(dir);
}

/* Skip the test, naming it, when 'tool' is not on PATH. */
static void need_tool(const char *tool, const char *package)
{
	char cmd[256];
	snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tool);
	if (run_shell(cmd) != 0)
		cr_skip_test("%s is not installed (Debian: apt-get install %s)", tool, package);
}

/* 'path' is an ELF file for 64-bit Arm (e_machine EM_AARCH64, 183). */
static int is_aarch64_elf(const char *path)
{
	size_t len = 0;
	unsigned char *bytes = (unsigned char *)read_file(path, &len);
	int yes = bytes && len > 20 && memcmp(bytes, "\177ELF", 4) == 0 && bytes[4] == 2 &&
	          bytes[18] == 183 && bytes[19] == 0;
	free(bytes);
	return yes;
}

Test(package, cross_aarch64_verifies_under_the_emulator, .timeout = 300)
{
	char dir[256], app[512], key[1024];
	char *log;
	need_tool("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu");
	need_tool("qemu-aarch64", "qemu-user");
	cr_assert(scratch_dir(dir, sizeof dir));
	install_into(dir);
	/* The toolchain file lets find_package() search outside the sysroot, so
	** the installed (host) convgen is found through CMAKE_PREFIX_PATH. */
	cr_assert_eq(sh(dir, "cmake -S '%s' -B build -G Ninja -DCMAKE_TOOLCHAIN_FILE='%s' -DCMAKE_PREFIX_PATH=\"$PWD/prefix\"",
	                DOWNSTREAM, AARCH64_TOOLCHAIN), 0);
	cr_assert_eq(sh(dir, "cmake --build build"), 0);
	snprintf(app, sizeof app, "%s/build/app", dir);
	cr_expect(is_aarch64_elf(app), "%s is not an aarch64 program", app);
	cr_assert_eq(sh(dir, "ctest --test-dir build --output-on-failure -V"), 0);
	log = last_log(dir);
	/* convgen runs here, not under the emulator; the emulator goes to --exec
	** as one word, and the proof's programs are built by the cross compiler. */
	snprintf(key, sizeof key, "Test command: %s/prefix/bin/convgen \"verify\" \"--file\" \"%s/build/convgen/app/conv1.c\" "
	         "\"--sanitize\" \"--exec\" \"" AARCH64_EMULATOR "\"\n", dir, dir);
	cr_expect(strstr(log, key) != NULL, "no '%s' in:\n%s", key, log);
	cr_expect(strstr(log, "CC=/usr/bin/aarch64-linux-gnu-gcc\n") != NULL, "%s", log);
	cr_expect(strstr(log, "run under '" AARCH64_EMULATOR "'\n") != NULL,
	          "the report does not name the emulator:\n%s", log);
	cr_expect(strstr(log, "grad_input   memory        ok") != NULL, "%s", log);
	cr_expect(strstr(log, "proved: 4 ops, 15 checks hold") != NULL, "%s", log);
	snprintf(key, sizeof key, "Test command: %s/prefix/bin/convgen \"verify\" \"--file\" \"%s/build/convgen/app/relu1.c\" "
	         "\"--exec\" \"" AARCH64_EMULATOR "\"\n", dir, dir);
	cr_expect(strstr(log, key) != NULL, "no '%s' in:\n%s", key, log);
	cr_expect(strstr(log, "proved: 3 ops, 13 checks hold") != NULL, "%s", log);
	/* The program using the kernel is the target's: CTest runs it under the
	** emulator. */
	snprintf(key, sizeof key, "qemu-aarch64 \"-L\" \"/usr/aarch64-linux-gnu\" \"%s/build/app\"\n", dir);
	cr_expect(strstr(log, key) != NULL, "app not run under the emulator: no '%s' in:\n%s", key, log);
	cr_expect(strstr(log, "100% tests passed, 0 tests failed out of 3") != NULL, "%s", log);
	free(log);
	remove_dir(dir);
}

Test(package, cross_vendored_convgen_is_refused, .timeout = 120)
{
	char dir[256];
	char *log;
	need_tool("aarch64-linux-gnu-gcc", "gcc-aarch64-linux-gnu");
	cr_assert(scratch_dir(dir, sizeof dir));
	cr_assert_neq(sh(dir, "cmake -S '%s' -B build -G Ninja -DCMAKE_TOOLCHAIN_FILE='%s' -DCONVGEN_SOURCE_DIR='%s'",
	                 DOWNSTREAM, AARCH64_TOOLCHAIN, SOURCE_DIR), 0, "a vendored convgen configured in a cross build");
	log = last_log(dir);
	cr_expect(strstr(log, "convgen_generate: this is a cross build") != NULL, "%s", log);
	cr_expect(strstr(log, "find_package(convgen CONFIG REQUIRED)") != NULL, "%s", log);
	free(log);
	remove_dir(dir);
}

/* Write dir/src/CMakeLists.txt: a project in 'languages' that finds the
** installed convgen (dir/prefix, from install_into()), then 'body'. */
static void write_small_project(const char *dir, const char *languages, const char *body)
{
	char path[512];
	FILE *f;
	cr_assert_eq(sh(dir, "mkdir -p src"), 0);
	snprintf(path, sizeof path, "%s/src/CMakeLists.txt", dir);
	f = fopen(path, "w");
	cr_assert(f, "cannot write %s", path);
	fprintf(f,
		"cmake_minimum_required(VERSION 3.25)\n"
		"project(small LANGUAGES %s)\n"
		"enable_testing()\n"
		"find_package(convgen CONFIG REQUIRED)\n"
		"%s",
		languages, body);
	cr_assert_eq(fclose(f), 0);
}

/* A scratch directory with the installed convgen (install_into) and
** write_small_project's project in src/: the start of most tests below. */
static void new_small_project(char *dir, size_t len, const char *languages, const char *body)
{
	cr_assert(scratch_dir(dir, len));
	install_into(dir);
	write_small_project(dir, languages, body);
}

/* Configure dir/src into dir/build (Ninja, the convgen in dir/prefix) with
** 'toolchain' (NULL: natively); returns cmake's status, its output in the log. */
static int configure(const char *dir, const char *toolchain)
{
	if (!toolchain)
		return sh(dir, "cmake -S src -B build -G Ninja -DCMAKE_PREFIX_PATH=\"$PWD/prefix\"");
	return sh(dir, "cmake -S src -B build -G Ninja -DCMAKE_TOOLCHAIN_FILE='%s' -DCMAKE_PREFIX_PATH=\"$PWD/prefix\"",
	          toolchain);
}

/* convgen runs on the build machine, whatever the target's pointer size: a
** 32-bit toolchain, bare metal or Linux, finds the installed package. */
static void find_package_from(const char *toolchain, const char *target)
{
	char dir[256], body[512];
	cr_assert(scratch_dir(dir, sizeof dir));
	install_into(dir);
	snprintf(body, sizeof body, "add_library(k STATIC)\n"
	         "convgen_generate(TARGET k NAME conv1 OPTIONS " SMALL " --target %s)\n", target);
	write_small_project(dir, "C", body);
	cr_assert_eq(configure(dir, toolchain), 0);
	cr_assert_eq(sh(dir, "cmake --build build"), 0);
	cr_expect_eq(sh(dir, "test -f build/libk.a"), 0, "no libk.a");
	remove_dir(dir);
}

Test(package, found_from_a_bare_metal_arm_toolchain, .timeout = 120)
{
	need_tool("arm-none-eabi-gcc", "gcc-arm-none-eabi libnewlib-arm-none-eabi");
	find_package_from(M4_TOOLCHAIN, "cortex-m4");
}

Test(package, found_from_an_armhf_toolchain, .timeout = 120)
{
	need_tool("arm-linux-gnueabihf-gcc", "gcc-arm-linux-gnueabihf");
	find_package_from(ARMHF_TOOLCHAIN, "generic");
}

/* dir/'header' (under build/convgen/k/) defines NAME_TARGET as 'target'. */
static void expect_target(const char *dir, const char *name, const char *target)
{
	char path[512], key[128];
	char *text;
	snprintf(path, sizeof path, "%s/build/convgen/k/%s.h", dir, name);
	text = read_file(path, NULL);
	cr_assert(text, "no %s", path);
	snprintf(key, sizeof key, "#define %s_TARGET \"%s\"\n", name, target);
	cr_expect(strstr(text, key) != NULL, "%s.h is not for %s: %.60s", name, target,
	          strstr(text, "_TARGET \"") ? strstr(text, "_TARGET \"") : "(no NAME_TARGET)");
	free(text);
}

/* A cross build never gets code shaped for the build machine: without
** --target, convgen_generate() names the core the toolchain builds for. */
Test(package, cross_without_target_derives_cortex_m4, .timeout = 120)
{
	char dir[256];
	char *log;
	need_tool("arm-none-eabi-gcc", "gcc-arm-none-eabi libnewlib-arm-none-eabi");
	new_small_project(dir, sizeof dir, "C",
		"add_library(k STATIC)\n"
		"convgen_generate(TARGET k NAME conv1 OPTIONS " SMALL ")\n"
		"convgen_generate(TARGET k NAME conv2 OPTIONS " SMALL " --target=generic)\n"
		"convgen_generate(TARGET k NAME conv3 OPTIONS --target cortex-m7 " SMALL ")\n");
	cr_assert_eq(configure(dir, M4_TOOLCHAIN), 0);
	log = last_log(dir);
	cr_expect(strstr(log, "-- convgen_generate: conv1 for k: --target cortex-m4") != NULL, "%s", log);
	cr_expect(strstr(log, "conv2 for k") == NULL, "--target= not seen:\n%s", log);
	cr_expect(strstr(log, "conv3 for k") == NULL, "--target not seen:\n%s", log);
	free(log);
	cr_assert_eq(sh(dir, "cmake --build build"), 0);
	expect_target(dir, "conv1", "cortex-m4");
	expect_target(dir, "conv2", "generic");
	expect_target(dir, "conv3", "cortex-m7");
	remove_dir(dir);
}

/* Write dir/'file', a toolchain file: the bare-metal one with processor
** 'arm' (which names no core) and the C flags 'flags'. */
static void write_arm_toolchain(const char *dir, const char *file, const char *flags)
{
	char path[512];
	FILE *f;
	snprintf(path, sizeof path, "%s/%s", dir, file);
	f = fopen(path, "w");
	cr_assert(f, "cannot write %s", path);
	fprintf(f, "include(%s)\nset(CMAKE_SYSTEM_PROCESSOR arm)\nset(CMAKE_C_FLAGS_INIT \"%s\")\n",
	        M4_TOOLCHAIN, flags);
	cr_assert_eq(fclose(f), 0);
}

/* The core from -mcpu= when the processor does not name it; a core convgen
** has no target for stops the configuration, asking for one. */
Test(package, cross_target_from_mcpu_or_refused, .timeout = 120)
{
	char dir[256];
	char *log;
	need_tool("arm-none-eabi-gcc", "gcc-arm-none-eabi libnewlib-arm-none-eabi");
	new_small_project(dir, sizeof dir, "C",
		"add_library(k STATIC)\n"
		"convgen_generate(TARGET k NAME conv1 OPTIONS " SMALL ")\n");
	write_arm_toolchain(dir, "m7.cmake", "-mcpu=cortex-m7 -mthumb -mfpu=fpv5-d16 -mfloat-abi=hard");
	cr_assert_eq(sh(dir, "cmake -S src -B build -G Ninja -DCMAKE_TOOLCHAIN_FILE=\"$PWD/m7.cmake\" "
	                "-DCMAKE_PREFIX_PATH=\"$PWD/prefix\" && cmake --build build"), 0);
	expect_target(dir, "conv1", "cortex-m7");

	write_arm_toolchain(dir, "m0.cmake", "-mcpu=cortex-m0plus -mthumb");
	cr_assert_neq(sh(dir, "rm -rf build && cmake -S src -B build -G Ninja -DCMAKE_TOOLCHAIN_FILE=\"$PWD/m0.cmake\" "
	                 "-DCMAKE_PREFIX_PATH=\"$PWD/prefix\""), 0, "configured for a core with no convgen target");
	log = last_log(dir);
	cr_expect(strstr(log, "convgen_generate: conv1 for k: a cross build") != NULL, "%s", log);
	cr_expect(strstr(log, "-mcpu=cortex-m0plus") != NULL, "the message does not say what it saw:\n%s", log);
	cr_expect(strstr(log, "add --target T to OPTIONS") != NULL, "%s", log);
	free(log);
	remove_dir(dir);
}

/* 32-bit Arm Linux: no convgen target of its own; generic, scalar C. */
Test(package, cross_armhf_without_target_gets_generic, .timeout = 120)
{
	char dir[256];
	char *log;
	need_tool("arm-linux-gnueabihf-gcc", "gcc-arm-linux-gnueabihf");
	new_small_project(dir, sizeof dir, "C",
		"add_library(k STATIC)\n"
		"convgen_generate(TARGET k NAME conv1 OPTIONS " SMALL ")\n");
	cr_assert_eq(configure(dir, ARMHF_TOOLCHAIN), 0);
	log = last_log(dir);
	cr_expect(strstr(log, "-- convgen_generate: conv1 for k: --target generic") != NULL, "%s", log);
	free(log);
	cr_assert_eq(sh(dir, "cmake --build build"), 0);
	expect_target(dir, "conv1", "generic");
	remove_dir(dir);
}

/* The generated file is C: a project without C would leave it out of the
** target without a word and fail at link time; it is refused up front. */
Test(package, project_without_c_is_refused, .timeout = 120)
{
	char dir[256];
	char *log;
	new_small_project(dir, sizeof dir, "CXX",
		"add_executable(app main.cpp)\n"
		"convgen_generate(TARGET app NAME conv1 OPTIONS " SMALL ")\n");
	cr_assert_eq(sh(dir, "printf '%%s\\n' '#include \"conv1.h\"' 'int main() { conv1_forward(0, 0, 0, 0); }' >src/main.cpp"), 0);
	cr_assert_neq(configure(dir, NULL), 0, "a C++-only project configured");
	log = last_log(dir);
	cr_expect(strstr(log, "convgen_generate: conv1.c is C, and this project has not enabled C") != NULL, "%s", log);
	cr_expect(strstr(log, "project(<name> LANGUAGES C CXX)") != NULL, "%s", log);
	cr_expect(strstr(log, "enable_language(C)") != NULL, "%s", log);
	free(log);
	remove_dir(dir);
}

/* VERIFY proves the file with the flags it is built with: the target's own
** options and definitions, its linked libraries' usage requirements too, not
** only CMAKE_C_FLAGS; a definition that cannot travel in $CFLAGS is named. */
Test(package, verify_proves_with_the_targets_flags, .timeout = 180)
{
	char dir[256];
	char *log;
	new_small_project(dir, sizeof dir, "C",
		"add_library(probe INTERFACE)\n"
		"target_compile_options(probe INTERFACE -DCONVGEN_PROBE_INTERFACE)\n"
		"add_library(k STATIC)\n"
		"target_link_libraries(k PRIVATE probe)\n"
		"target_compile_options(k PRIVATE -ffast-math \"SHELL:-DCONVGEN_PROBE_SHELL\" -DCONVGEN_PROBE_OPTION)\n"
		"target_compile_definitions(k PRIVATE CONVGEN_PROBE_DEF=1 \"CONVGEN_PROBE_SPACED=a b\")\n"
		"convgen_generate(TARGET k NAME conv1 OPTIONS " SMALL " VERIFY)\n");
	cr_assert_eq(configure(dir, NULL), 0);
	cr_assert_eq(sh(dir, "cmake --build build && ctest --test-dir build -V"), 0);
	log = last_log(dir);
	cr_expect(strstr(log, "convgen: warning: CFLAGS has -ffast-math") != NULL,
	          "the target's -ffast-math did not reach convgen verify:\n%s", log);
	cr_expect(strstr(log, " -DCONVGEN_PROBE_OPTION") != NULL, "no target option in CFLAGS:\n%s", log);
	cr_expect(strstr(log, " -DCONVGEN_PROBE_INTERFACE") != NULL, "no interface option in CFLAGS:\n%s", log);
	cr_expect(strstr(log, " -DCONVGEN_PROBE_DEF=1") != NULL, "no definition in CFLAGS:\n%s", log);
	cr_expect(strstr(log, "CONVGEN_NOT_IN_CFLAGS=SHELL:-DCONVGEN_PROBE_SHELL | -DCONVGEN_PROBE_SPACED=a b\n") != NULL,
	          "the definition left out is not named:\n%s", log);
	cr_expect(strstr(log, "proved: 1 ops, 3 checks hold") != NULL, "%s", log);
	free(log);
	remove_dir(dir);
}
