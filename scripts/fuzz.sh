#!/usr/bin/env bash
# libFuzzer on kvbench's parsers of untrusted input (fuzz/*_fuzz.cc): builds the targets in
# build-asan, the clang ASan+UBSan tree of scripts/sanitize.sh (compiled with
# -fsanitize=fuzzer-no-link, so one clang build serves the sanitized test suite and fuzzing), then
# runs each for a bounded time on a seed corpus made from the real files in ../shared (read by
# path, never copied into the repository) plus fuzz/corpus/<target>/ (small inputs committed:
# crashes found become seeds and regression tests). A crash, leak, timeout or UBSan report stops
# the target with its input saved in build-asan/fuzz/artifacts/<target>/ and the script exits 1.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     default 60 s, every target
#
# Prints per target: executions, coverage (libFuzzer's cov: edges) and the corpus size.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECONDS_PER_TARGET=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(gguf safetensors tokenizer_json csv jsonl experiment gate_rules trace)
SHARED=${KVBENCH_SHARED_DIR:-$ROOT/../shared}
BUILD_DIR=${KVBENCH_ASAN_BUILD_DIR:-build-asan}
BUILD=$ROOT/$BUILD_DIR/fuzz  # the targets; their corpora, artifacts and logs beside them
KVBENCH_ASAN_BUILD_DIR=$BUILD_DIR scripts/sanitize.sh --build "${TARGETS[@]/%/_fuzz}"

# Seeds: the real files, as they are (libFuzzer's -max_len bounds what it mutates).
seed() {  # seed TARGET FILE...
  local dir=$BUILD/corpus/$1
  shift
  mkdir -p "$dir"
  # Named by folder and file: the oracle checkpoints are all model.safetensors / tokenizer.json.
  for f in "$@"; do [ -f "$f" ] && cp -f "$f" "$dir/seed_$(basename "$(dirname "$f")")_$(basename "$f")"; done
  [ -d "$ROOT/fuzz/corpus/$(basename "$dir")" ] && cp -f "$ROOT/fuzz/corpus/$(basename "$dir")"/* "$dir/" 2>/dev/null
  return 0
}
seed gguf "$SHARED"/models/stories260K/stories260K.gguf
seed safetensors "$ROOT"/tests/data/hf_oracle/*/model.safetensors
seed tokenizer_json "$SHARED"/models/kvb-docs-12M/tokenizer.json "$ROOT"/tests/data/hf_oracle/*/tokenizer.json
seed csv "$ROOT"/results/baselines/*.csv
seed jsonl "$SHARED"/data/tinystories-valid-200.jsonl
seed experiment "$ROOT"/configs/*.yaml
seed gate_rules "$ROOT"/configs/gates/*.yaml
seed trace "$ROOT"/tests/data/*.kvt

status=0
for t in "${TARGETS[@]}"; do
  mkdir -p "$BUILD/artifacts/$t" "$BUILD/corpus/$t"
  log=$BUILD/$t.log
  max_len=65536
  case $t in gguf) max_len=1200000 ;; safetensors | tokenizer_json) max_len=600000 ;; esac
  if ! nice -n 10 "$BUILD/${t}_fuzz" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 \
    -rss_limit_mb=2048 -max_len=$max_len -print_final_stats=1 \
    -artifact_prefix="$BUILD/artifacts/$t/" "$BUILD/corpus/$t" \
    >"$log" 2>&1; then
    status=1
    echo "$t: FAILED (crash, leak, timeout or UBSan; input in $BUILD_DIR/fuzz/artifacts/$t/, log $log)"
  fi
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{s += $2} END {print s + 0}')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  echo "$t: ${execs} executions in ${SECONDS_PER_TARGET} s, coverage ${cov:-?} edges, corpus $(ls "$BUILD/corpus/$t" | wc -l) inputs"
done
exit $status
