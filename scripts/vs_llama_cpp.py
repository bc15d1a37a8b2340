#!/usr/bin/env python3
"""kvbench bench against the user's own llama.cpp build, side by side on the same GGUF file.

The two run interleaved, one repetition at a time (kvbench, llama.cpp, kvbench, ...), so the drift
of a shared machine (+-20% within minutes on these VMs) falls on both alike; each round gives one
ratio per test and the table shows the median ratio with its range over the rounds. llama.cpp runs
with every --fa value given and the better one counts, as the performance issue asks.

  scripts/vs_llama_cpp.py --llama-bench ~/llama.cpp/build/bin/llama-bench \\
      -m ../shared/models/kvb-docs-12M/kvb-docs-12M-Q4_K_M.gguf -p 512 -n 128 -d 0,2048 -t 2

kvbench never builds llama.cpp: --llama-bench is a path to a build you made.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys


def run_jsonl(cmd):
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.strip().startswith("{")]
    return {(r["n_prompt"], r["n_gen"], r.get("n_depth", 0)): r["avg_ts"] for r in rows}


def name(key):
    p, n, d = key
    parts = ([f"pp{p}"] if p else []) + ([f"tg{n}"] if n else [])
    return "+".join(parts) + (f" @ d{d}" if d else "")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--llama-bench", required=True, help="path to llama-bench of your llama.cpp build")
    ap.add_argument("--kvbench", default="build/cli/kvbench", help="path to kvbench")
    ap.add_argument("-m", "--model", required=True, help="a GGUF file both can read")
    ap.add_argument("-p", default="512")
    ap.add_argument("-n", default="128")
    ap.add_argument("-d", default="0")
    ap.add_argument("-t", default=str(os.cpu_count()))
    ap.add_argument("--ctk", default="f16", help="K cache type for both (llama-bench -ctk)")
    ap.add_argument("--ctv", default="f16", help="V cache type for both (llama-bench -ctv)")
    ap.add_argument("--fa", default="0,1", help="llama.cpp flash-attention settings; the best counts")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (ratios are their median)")
    args = ap.parse_args()
    for path in (args.llama_bench, args.kvbench, args.model):
        if not os.path.exists(path):
            sys.exit(f"vs_llama_cpp: {path}: no such file")

    common = ["-m", args.model, "-p", args.p, "-n", args.n, "-t", args.t, "-r", "1", "-o", "jsonl"]
    depth = ["-d", args.d] if args.d != "0" else []
    kv_cmd = [args.kvbench, "bench", *common, *depth, "--k-store", args.ctk, "--v-store", args.ctv]
    ratios, kv_rates, ll_rates = {}, {}, {}
    for r in range(args.rounds):
        kv = run_jsonl(kv_cmd)
        ll = {}
        for fa in args.fa.split(","):
            got = run_jsonl([args.llama_bench, *common, *depth, "-ctk", args.ctk, "-ctv", args.ctv, "-fa", fa])
            for key, ts in got.items():
                ll[key] = max(ll.get(key, 0.0), ts)
        for key, ts in kv.items():
            if key not in ll:
                continue
            ratios.setdefault(key, []).append(ts / ll[key])
            kv_rates.setdefault(key, []).append(ts)
            ll_rates.setdefault(key, []).append(ll[key])
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr)

    print(f"| test | kvbench t/s | llama.cpp t/s | ratio (median) | range |")
    print(f"| --- | ---: | ---: | ---: | --- |")
    for key in sorted(ratios, key=lambda k: (k[2], k[0], k[1])):
        rs = ratios[key]
        print(f"| {name(key)} | {statistics.median(kv_rates[key]):.2f} | {statistics.median(ll_rates[key]):.2f} "
              f"| {statistics.median(rs):.2f}x | {min(rs):.2f}-{max(rs):.2f} |")


if __name__ == "__main__":
    main()
