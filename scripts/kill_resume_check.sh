#!/usr/bin/env bash
# Crash-safety check of `kvbench run` (docs/harness.md, "Interrupted runs"): runs an experiment
# once without interruption, then again into another CSV, killing it with SIGKILL at KILLS random
# moments (each time restarting the same command, which resumes), and finally compares the two
# CSVs row for row, ignoring the timestamp, git_sha and peak_rss_bytes columns (when, from which
# commit, and the peak memory of the process that wrote the row). Exits 1 on any difference.
#
#   scripts/kill_resume_check.sh CONFIG [KILLS] [-- extra kvbench run flags, e.g. --set model=...]
#
# Needs a built build/cli/kvbench and python3 (the comparison).
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=$1
KILLS=${2:-10}
shift 2 || shift $#
[ "${1:-}" = "--" ] && shift
EXTRA=("$@")
KVBENCH=${KVBENCH:-build/cli/kvbench}
WORK=$(mktemp -d /tmp/kill_resume.XXXXXX)
echo "kill_resume_check: $CONFIG, $KILLS kills, work in $WORK"

start=$(date +%s%N)
"$KVBENCH" run "$CONFIG" "${EXTRA[@]}" --set "output=$WORK/whole.csv" --progress=never \
  2>"$WORK/whole.log" >/dev/null
seconds=$(( ($(date +%s%N) - start) / 1000000000 + 1 ))
echo "uninterrupted: $seconds s"

kills=0
runs=0
while :; do
  runs=$((runs + 1))
  "$KVBENCH" run "$CONFIG" "${EXTRA[@]}" --set "output=$WORK/killed.csv" --progress=never \
    2>>"$WORK/killed.log" >/dev/null &
  pid=$!
  if [ "$kills" -lt "$KILLS" ]; then
    # Each restart first redoes what is not checkpointed (loading, the reference's memory run), so
    # most kills wait for this run's first progress (a checkpoint or a row written), then come at a
    # random moment within the next 1/KILLS of an uninterrupted run's time: mid-sequence, mid-case
    # or between a row and its checkpoint's removal.
    before=$(stat -c '%n %Y %s' "$WORK"/killed.csv* 2>/dev/null | grep -v '\.lock ' || true)
    # Every third kill lands before any progress: while the model loads or the reference runs.
    [ $((kills % 3)) -eq 2 ] && before=never
    while [ "$before" != never ] && kill -0 "$pid" 2>/dev/null &&
      [ "$(stat -c '%n %Y %s' "$WORK"/killed.csv* 2>/dev/null | grep -v '\.lock ' || true)" = "$before" ]; do
      sleep 0.05
    done
    delay=$(python3 -c "import random; print(round(random.uniform(0, $seconds / $KILLS), 2))")
    sleep "$delay"
    if kill -9 "$pid" 2>/dev/null; then
      wait "$pid" 2>/dev/null || true
      kills=$((kills + 1))
      rows=$(python3 -c "import csv,sys; print(sum(1 for _ in csv.reader(open(sys.argv[1]))) - 1)" \
        "$WORK/killed.csv" 2>/dev/null || echo 0)
      partial=$(ls "$WORK"/killed.csv.*.partial 2>/dev/null | head -1 || true)
      done_sequences=$( [ -n "$partial" ] && sed -n 's/^sequences \([0-9]*\) .*/\1/p' "$partial" || echo -)
      when=$([ "$before" = never ] && echo "after its start" || echo "after the run's first progress")
      echo "kill $kills ${delay} s $when: $rows rows in the CSV, checkpoint at sequence ${done_sequences:--}"
      continue
    fi
  fi
  wait "$pid"
  break
done
echo "finished after $runs runs ($kills kills)"
grep -c "^resuming the divergence" "$WORK/killed.log" | sed 's/^/resumed from a checkpoint: /'

python3 - "$WORK/whole.csv" "$WORK/killed.csv" <<'PY'
import csv, sys
def rows(path):
    with open(path, newline="") as f:
        r = list(csv.reader(f))
    head, body = r[0], r[1:]
    drop = {head.index(c) for c in ("timestamp", "git_sha", "peak_rss_bytes") if c in head}
    return head, [[v for i, v in enumerate(row) if i not in drop] for row in body]
ha, a = rows(sys.argv[1])
hb, b = rows(sys.argv[2])
if ha != hb or a != b:
    print(f"DIFFERENT: {len(a)} rows uninterrupted, {len(b)} after kills")
    for x, y in zip(a, b):
        if x != y:
            print("  first difference:", [(ha[i], p, q) for i, (p, q) in enumerate(zip(x, y)) if p != q][:4])
            break
    sys.exit(1)
print(f"identical: {len(a)} rows, every column but timestamp, git_sha and peak_rss_bytes")
PY
