"""Renders the GPU benchmark results (bench.jsonl from scripts/bench-gpu.sh) as the Markdown of docs/benchmarks.md.

usage: python3 bench/make_report.py RESULTS_DIR > docs/benchmarks.md   (RESULTS_DIR holds bench.jsonl, machine.txt)
"""
import json
import sys

d = sys.argv[1]
rows = [json.loads(l) for l in open(f"{d}/bench.jsonl") if l.startswith("{")]
machine = open(f"{d}/machine.txt").read().strip().splitlines()


def get(impl, label, mode=None):
    for r in rows:
        if r["impl"] == impl and r["label"] == label and (mode is None or r.get("mode") == mode):
            return r
    return None


def f(v):
    return f"{v:,.0f}" if v is not None else "–"


def ratio(a, b):
    return f"{a / b:.2f}×" if a and b else "–"


print("# GPU benchmarks\n")
print("Measured with `scripts/bench-gpu.sh` in one call on the GPU machine; all numbers are images/s from the same run.")
print("Machine: " + "; ".join(machine) + "\n")
print("Training step = forward, cross-entropy, backward, SGD momentum; bf16 autocast and channels-last for every")
print("implementation; synthetic data already on the GPU; 15 untimed warm-up steps, then 50 timed.\n")
print("## attncnn against PyTorch\n")
print("| model | batch | attncnn train | eager train | compile train | ours/eager | ours/compile | attncnn infer | eager infer | compile infer |")
print("|---|---|---|---|---|---|---|---|---|---|")
for label in ["seed_net", "seed_net_none", "resnet20_se", "resnet20", "resnet18_cbam", "resnet18_cifar", "resnet50_se", "resnet50"]:
    o, e, c = get("attncnn", label), get("pytorch", label, "eager"), get("pytorch", label, "compile")
    if not o and not e:
        continue
    g = lambda r, k: r.get(k) if r else None
    print(f"| {label} | {g(o, 'batch') or g(e, 'batch')} | {f(g(o, 'train_images_per_s'))} | {f(g(e, 'train_images_per_s'))} | "
          f"{f(g(c, 'train_images_per_s'))} | {ratio(g(o, 'train_images_per_s'), g(e, 'train_images_per_s'))} | "
          f"{ratio(g(o, 'train_images_per_s'), g(c, 'train_images_per_s'))} | {f(g(o, 'infer_images_per_s'))} | "
          f"{f(g(e, 'infer_images_per_s'))} | {f(g(c, 'infer_images_per_s'))} |")
print("\n## Cost of attention (training throughput of the backbone alone / with the module − 1)\n")
print("| model | module | attncnn | PyTorch eager |")
print("|---|---|---|---|")
for att, base, mod in [("seed_net", "seed_net_none", "sgate"), ("resnet20_se", "resnet20", "se"),
                       ("resnet18_cbam", "resnet18_cifar", "cbam"), ("resnet50_se", "resnet50", "se")]:
    def over(impl):
        a, b = get(impl, att, None if impl == "attncnn" else "eager"), get(impl, base, None if impl == "attncnn" else "eager")
        if not a or not b:
            return "–"
        return f"{(b['train_images_per_s'] / a['train_images_per_s'] - 1) * 100:.1f}%"
    print(f"| {base} | {mod} | {over('attncnn')} | {over('pytorch')} |")
print("\n## Speed switches (attncnn, resnet18 + cbam, CIFAR stem, batch 512)\n")
print("| setting | train images/s | infer images/s |")
print("|---|---|---|")
for label in ["resnet18_cbam fp32", "resnet18_cbam tf32", "resnet18_cbam tf32+cl", "resnet18_cbam bf16",
              "resnet18_cbam bf16+cl no-autotune", "resnet18_cbam"]:
    r = get("attncnn", label)
    if r:
        name = label.replace("resnet18_cbam", "").strip() or "bf16+cl (default fast path)"
        print(f"| {name} | {f(r['train_images_per_s'])} | {f(r.get('infer_images_per_s'))} |")
