#!/usr/bin/env bash
# Installs kvbench's build dependencies (Debian packages) when missing, then configures and builds
# the Release tree in build/. Safe to run again: it only does what is missing or out of date.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(build-essential cmake libabsl-dev libyaml-cpp-dev nlohmann-json3-dev libpcre2-dev libgtest-dev libgmock-dev
          libbenchmark-dev libsentencepiece-dev
          libcli11-dev  # CLI11: one parser for every command's flags (cli/command_line.h)
          gnuplot-nox)  # draws `kvbench report`'s plots (the quickstart ends in a report)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

BUILD_DIR="${KVBENCH_BUILD_DIR:-build}"
JOBS="${KVBENCH_JOBS:-$(nproc)}"
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"
