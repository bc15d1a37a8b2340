#!/usr/bin/env bash
# Installs kvbench's build dependencies (Debian packages) when missing, then configures and builds
# the Release tree in build/. Safe to run again: it only does what is missing or out of date.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/packages.sh
ensure_packages "${KVBENCH_BUILD_PACKAGES[@]}"

BUILD_DIR="${KVBENCH_BUILD_DIR:-build}"
JOBS="${KVBENCH_JOBS:-$(nproc)}"
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"
