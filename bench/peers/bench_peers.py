"""Training and inference throughput of the PyTorch peers, eager and torch.compile, one JSON line per case.

usage: python3 bench/peers/bench_peers.py MODEL BATCH [--amp] [--channels-last] [--compile] [--steps N]
The step matches bench_train: forward, cross-entropy, backward, SGD momentum 0.9 (foreach), warm-up untimed.
"""
import argparse
import json
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from peer_models import build  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("batch", type=int)
    ap.add_argument("--amp", action="store_true")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=15)
    a = ap.parse_args()
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.manual_seed(0)
    model, shape = build(a.model)
    model = model.cuda()
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    x = torch.randn(a.batch, *shape, device="cuda").contiguous(memory_format=fmt)
    num_classes = model.fc.out_features if hasattr(model, "fc") else 10
    y = torch.randint(num_classes, (a.batch,), device="cuda")
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, foreach=True)
    fwd = torch.compile(model) if a.compile else model

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=a.amp):
            loss = F.cross_entropy(fwd(x), y)
        loss.backward()
        opt.step()

    out = dict(model=a.model, batch=a.batch, amp=a.amp, channels_last=a.channels_last,
               mode="compile" if a.compile else "eager",
               params=sum(p.numel() for p in model.parameters()))
    model.train()
    for _ in range(a.warmup):
        step()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    torch.cuda.synchronize()
    out["train_images_per_s"] = a.batch * a.steps / (time.perf_counter() - t0)
    model.eval()
    with torch.no_grad():
        for _ in range(a.warmup):
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=a.amp):
                fwd(x)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(a.steps):
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=a.amp):
                fwd(x)
        torch.cuda.synchronize()
    out["infer_images_per_s"] = a.batch * a.steps / (time.perf_counter() - t0)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
