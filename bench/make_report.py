"""Renders the GPU benchmark results as the Markdown of docs/benchmarks.md.

usage: python3 bench/make_report.py RESULTS_DIR > docs/benchmarks.md
RESULTS_DIR holds bench.jsonl (scripts/bench-gpu.sh), machine.txt and, when present, tta.jsonl
(bench/time_to_accuracy.py).
"""
import json
import os
import statistics
import sys

d = sys.argv[1]
rows = [json.loads(l) for l in open(f"{d}/bench.jsonl") if l.startswith("{")]
machine = open(f"{d}/machine.txt").read().strip().splitlines()


def get(impl, label, mode=None):
    for r in rows:
        if r["impl"] == impl and r["label"] == label and (mode is None or r.get("mode") == mode):
            return r
    return None


def val(r, k="train_images_per_s"):
    return r.get(k) if r else None


def f(v):
    return f"{v:,.0f}" if v else "–"


def ratio(a, b):
    return f"{a / b:.2f}×" if a and b else "–"


def cost(a, b):
    return f"{(b / a - 1) * 100:.1f}%" if a and b else "–"


models = [("seed_net", "sgate", 256), ("seed_net_none", "–", 256), ("resnet20_se", "se", 512), ("resnet20", "–", 512),
          ("resnet18_cbam", "cbam", 512), ("resnet18_cifar", "–", 512), ("resnet50_se", "se", 256),
          ("resnet50", "–", 256)]
print("# GPU benchmarks\n")
print("Machine: " + "; ".join(machine) + "\n")
print("Reproduce on the GPU machine with `scripts/device-test.sh OUT && scripts/bench-gpu.sh OUT` (the parts `ours`,")
print("`eager` and `compile` may run in separate calls into the same OUT), then")
print("`python3 bench/make_report.py OUT > docs/benchmarks.md`. The raw results of these tables are in `bench/results/`.\n")
print("## Training and inference throughput (images/s)\n")
print("Training step = forward, cross-entropy, backward, SGD with momentum. Every implementation runs bf16 autocast and")
print("channels-last on synthetic data already on the GPU, at the same batch size; 10 untimed warm-up steps, then 40")
print("timed. attncnn uses its multi-tensor SGD step; *+graph* replays forward, loss and backward as one captured CUDA")
print("graph (`--cuda-graph`). The PyTorch peers are the same networks written in Python (`bench/peers/`), eager and")
print("under `torch.compile` (default mode, compile time excluded).\n")
print("| model | batch | attncnn | attncnn +graph | PyTorch eager | torch.compile | best ours / eager | best ours / compile "
      "| attncnn infer | eager infer | compile infer |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for label, _, batch in models:
    o, g, e, c = get("attncnn", label), get("attncnn", label + "+graph"), get("pytorch", label, "eager"), get("pytorch", label, "compile")
    if not o and not e:
        continue
    best = max(val(o) or 0, val(g) or 0) or None
    print(f"| {label} | {batch} | {f(val(o))} | {f(val(g))} | {f(val(e))} | {f(val(c))} | {ratio(best, val(e))} | "
          f"{ratio(best, val(c))} | {f(val(o, 'infer_images_per_s'))} | {f(val(e, 'infer_images_per_s'))} | "
          f"{f(val(c, 'infer_images_per_s'))} |")
print("\n## Cost of attention\n")
print("Training throughput of the backbone alone over the backbone with the module, minus one.\n")
print("| backbone | module | attncnn | attncnn +graph | PyTorch eager | torch.compile |")
print("|---|---|---|---|---|---|")
for att, base, mod in [("seed_net", "seed_net_none", "sgate"), ("resnet20_se", "resnet20", "se"),
                       ("resnet18_cbam", "resnet18_cifar", "cbam"), ("resnet50_se", "resnet50", "se")]:
    print(f"| {base} | {mod} | {cost(val(get('attncnn', att)), val(get('attncnn', base)))} | "
          f"{cost(val(get('attncnn', att + '+graph')), val(get('attncnn', base + '+graph')))} | "
          f"{cost(val(get('pytorch', att, 'eager')), val(get('pytorch', base, 'eager')))} | "
          f"{cost(val(get('pytorch', att, 'compile')), val(get('pytorch', base, 'compile')))} |")
print("\n## Speed switches\n")
print("attncnn, resnet18 (CIFAR stem) + cbam, batch 512, one switch at a time.\n")
print("| setting | train images/s | infer images/s |")
print("|---|---|---|")
for label, name in [("resnet18_cbam fp32", "fp32 (TF32 off)"), ("resnet18_cbam tf32", "TF32"),
                    ("resnet18_cbam tf32+cl", "TF32 + channels-last"), ("resnet18_cbam bf16", "bf16 autocast"),
                    ("resnet18_cbam bf16+cl no-autotune", "bf16 + channels-last, cuDNN autotuning off"),
                    ("resnet18_cbam bf16+cl per-tensor SGD", "bf16 + channels-last, per-tensor SGD"),
                    ("resnet18_cbam", "bf16 + channels-last, multi-tensor SGD"),
                    ("resnet18_cbam+graph", "bf16 + channels-last, multi-tensor SGD, CUDA graph"),
                    ("seed_net per-tensor SGD", "seed_net: per-tensor SGD"), ("seed_net", "seed_net: multi-tensor SGD"),
                    ("seed_net+graph", "seed_net: multi-tensor SGD, CUDA graph")]:
    r = get("attncnn", label)
    if r:
        print(f"| {name} | {f(val(r))} | {f(val(r, 'infer_images_per_s'))} |")

tta = os.path.join(d, "tta.jsonl")
if os.path.exists(tta):
    runs = [json.loads(l) for l in open(tta) if l.startswith("{")]
    print("\n## Time to accuracy\n")
    print("`attncnn train --preset NAME --seed S`, each seed a fresh process, timed from process start to the end of the")
    print("final test evaluation (the process exit), after one untimed warm-up process. The test set is used once, by that")
    print("final evaluation. Run by `bench/time_to_accuracy.py --preset NAME --seeds 0,1,2,3,4` (or `scripts/bench-gpu.sh OUT")
    print("tta`, which reads CIFAR-10 from `$ATTNCNN_DATA/cifar10`).\n")
    print("| preset | network | target | mean top-1 | min | max | mean time | fastest | slowest | seeds: top-1 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    nets = {"cifar10-94": ("fastnet + se, 12 epochs, alternating flips", "94.0%"), "fashion-95": ("fastnet + eca, 18 epochs", "95.0%")}
    for preset in dict.fromkeys(r["label"] for r in runs):
        rs = [r for r in runs if r["label"] == preset]
        acc = [r["top1"] for r in rs]
        t = [r["seconds"] for r in rs]
        net, target = nets.get(preset, ("", ""))
        print(f"| {preset} | {net} | {target} | {statistics.mean(acc):.2f}% | {min(acc):.2f}% | {max(acc):.2f}% | "
              f"{statistics.mean(t):.2f} s | {min(t):.2f} s | {max(t):.2f} s | "
              + ", ".join(f"{r['seed']}: {r['top1']:.2f}%" for r in rs) + " |")
