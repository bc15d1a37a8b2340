# Sourced by the scripts that install Debian packages: ensure_packages PACKAGE... installs those
# not yet installed, with apt-get, through sudo only when not root. Quiet when nothing is missing.
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  echo "$(basename "$0" .sh): installing ${missing[*]}" >&2
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# What every build of the tree needs (scripts/setup.sh, and the clang build of scripts/asan.sh).
KVBENCH_BUILD_PACKAGES=(build-essential cmake libabsl-dev libyaml-cpp-dev nlohmann-json3-dev libpcre2-dev
                        libgtest-dev libgmock-dev libbenchmark-dev libsentencepiece-dev
                        libcli11-dev  # CLI11: one parser for every command's flags (cli/command_line.h)
                        gnuplot-nox)  # draws `kvbench report`'s plots (the quickstart ends in a report)
# What only the tests need: gnuplot-nox draws `kvbench report`'s plots (report_test checks them);
# chromium renders the report page in report_test's browser check (it skips without it).
KVBENCH_TEST_PACKAGES=(gnuplot-nox chromium)
