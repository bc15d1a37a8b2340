#!/usr/bin/env bash
# The main job: set up, build, and run the quickstart experiment on the default model (stories260K).
# Ends with a summary table; the CSV lands in results/quickstart.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build/cli/kvbench run configs/quickstart.yaml "$@"
