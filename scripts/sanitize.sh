#!/usr/bin/env bash
# The whole tree built with clang 14 under AddressSanitizer + UndefinedBehaviorSanitizer in
# build-asan, then every test of the suite run there (docs/sanitizers.md). The same folder also
# builds the libFuzzer targets of fuzz/ (scripts/fuzz.sh), so CI compiles the clang tree once:
# everything is compiled with -fsanitize=fuzzer-no-link too (coverage hooks; only the fuzz
# targets link libFuzzer itself).
#
#   scripts/sanitize.sh [CTEST_ARG...]        build everything, run ctest (e.g. -R Gguf)
#   scripts/sanitize.sh --build [TARGET...]   configure and build only (default every target)
#   KVBENCH_SANITIZE_HEAVY=1 scripts/sanitize.sh   also the tests labelled sanitizer_heavy
#
# A report stops its test (UBSan without recovery, ASan aborts, leaks are errors), so a test
# with undefined behaviour, a bad access or a leak fails like a failed assertion.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/packages.sh
# clang-14 alone lacks the sanitizer runtimes (libclang-rt-14-dev) and clang's OpenMP (libomp).
ensure_packages "${KVBENCH_BUILD_PACKAGES[@]}" "${KVBENCH_TEST_PACKAGES[@]}" clang-14 \
  libclang-rt-14-dev libomp-14-dev

BUILD_DIR=${KVBENCH_ASAN_BUILD_DIR:-build-asan}
JOBS=${KVBENCH_JOBS:-$(nproc)}
CLANG=${CLANG:-clang++-14}
# -O1 keeps the suite's real-model tests within minutes; -fno-omit-frame-pointer and -g give
# readable stacks. No NDEBUG: the empty RelWithDebInfo flags leave only these.
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1"
LAUNCHER=()
command -v ccache >/dev/null && LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

# Configured every time (seconds when nothing changed), so the cache follows this script.
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$CLANG" \
  -DCMAKE_CXX_FLAGS="$SAN -fsanitize=fuzzer-no-link" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" -DKVBENCH_FUZZ=ON \
  -DKVBENCH_BUILD_TESTS=ON -DKVBENCH_BUILD_BENCH=ON "${LAUNCHER[@]}" >/dev/null

if [ "${1:-}" = "--build" ]; then
  shift
  TARGETS=()
  [ $# -gt 0 ] && TARGETS=(--target "$@")
  nice -n 10 cmake --build "$BUILD_DIR" -j "$JOBS" "${TARGETS[@]}"
  exit 0
fi
nice -n 10 cmake --build "$BUILD_DIR" -j "$JOBS"

# abort_on_error: a report ends the process with SIGABRT, which no test can mistake for an exit
# code it expects from a child process. Suppressions for third-party code only, each with why.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# sanitizer_heavy: the tests that take minutes here (tests/CMakeLists.txt says which and why);
# KVBENCH_SANITIZE_HEAVY=1 runs them too.
SKIP=(-LE sanitizer_heavy)
[ "${KVBENCH_SANITIZE_HEAVY:-0}" = 1 ] && SKIP=()
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "$JOBS" "${SKIP[@]}" "$@"
