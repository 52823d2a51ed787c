"""Time to accuracy of a training preset: runs `attncnn train --preset NAME` once per seed, each a fresh process,
and times it from process start to the end of the final evaluation (the process exit).

usage: python3 bench/time_to_accuracy.py --preset cifar10-94 --seeds 0,1,2,3,4 --out DIR [--attncnn BIN] [-- ARGS]
Writes one JSON line per seed to DIR/tta.jsonl (preset, seed, top1, seconds, args) and prints a summary.
ARGS after `--` go to every `attncnn train` call (e.g. --data cifar10:/path or a setting being tried).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("--preset", required=True)
ap.add_argument("--seeds", default="0,1,2,3,4")
ap.add_argument("--out", required=True)
ap.add_argument("--attncnn", default="build-cuda/bin/attncnn")
ap.add_argument("--label", default="", help="name of this variant in the results (default: the preset)")
ap.add_argument("extra", nargs=argparse.REMAINDER)
a = ap.parse_args()
extra = [x for x in a.extra if x != "--"]
os.makedirs(a.out, exist_ok=True)
label = a.label or a.preset
accs, times = [], []
with open(os.path.join(a.out, "tta.jsonl"), "a") as res:
    for seed in [int(s) for s in a.seeds.split(",")]:
        run = os.path.join(a.out, "runs", f"{label}-s{seed}".replace(" ", "_"))
        cmd = [a.attncnn, "train", "--preset", a.preset, "--seed", str(seed), "--out", run, "--quiet"] + extra
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True)
        dt = time.perf_counter() - t0
        m = re.search(r"test accuracy ([0-9.]+)%", p.stdout)
        if p.returncode != 0 or not m:
            sys.stderr.write(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout[-2000:]}{p.stderr[-2000:]}\n")
            continue
        top1 = float(m.group(1))
        accs.append(top1)
        times.append(dt)
        row = {"preset": a.preset, "label": label, "seed": seed, "top1": top1, "seconds": round(dt, 3),
               "args": " ".join(extra)}
        res.write(json.dumps(row) + "\n")
        res.flush()
        print(json.dumps(row), flush=True)
if accs:
    print(f"{label}: mean {sum(accs) / len(accs):.2f}% (min {min(accs):.2f}, max {max(accs):.2f}) over {len(accs)} "
          f"seed(s); {sum(times) / len(times):.2f} s mean (min {min(times):.2f}, max {max(times):.2f})", flush=True)
