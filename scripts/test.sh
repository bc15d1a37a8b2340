#!/usr/bin/env bash
# Set up, build, and run every test (GoogleTest through CTest).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
source scripts/packages.sh
ensure_packages "${KVBENCH_TEST_PACKAGES[@]}"
ctest --test-dir "${KVBENCH_BUILD_DIR:-build}" --output-on-failure -j "${KVBENCH_JOBS:-$(nproc)}" "$@"
