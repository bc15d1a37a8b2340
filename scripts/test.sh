#!/usr/bin/env bash
# Set up, build, and run every test (GoogleTest through CTest).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# What only the tests need: gnuplot-nox draws `kvbench report`'s plots (report_test checks them);
# chromium renders the report page in report_test's browser check (it skips without it).
TEST_PACKAGES=(gnuplot-nox chromium)
missing=()
for p in "${TEST_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "test: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
ctest --test-dir "${KVBENCH_BUILD_DIR:-build}" --output-on-failure -j "${KVBENCH_JOBS:-$(nproc)}" "$@"
