#!/usr/bin/env bash
# The main job: set up, build, then on kvb-docs-12M measure what eviction policies and quantized
# stores cost in divergence, latency and memory (configs/quickstart.yaml) and whether the model still
# finds a needle in 1024 tokens (configs/quickstart_niah.yaml); ends with both summaries, the CSVs
# in results/ and one HTML report, results/quickstart.html.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build/cli/kvbench run configs/quickstart.yaml "$@"
build/cli/kvbench run configs/quickstart_niah.yaml "$@"
build/cli/kvbench report results/quickstart.csv results/quickstart_niah.csv -o results/quickstart.html
