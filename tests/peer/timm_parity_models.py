#!/usr/bin/env python3
"""Writes timm reference cases for attncnn's backbones (kind=model), one safetensors file per case.

    python3 tests/peer/timm_parity_models.py OUTDIR

Each file holds the input, timm's state_dict under state/<key>, and timm's outputs in eval mode (first) and train
mode (after, from a freshly loaded state); its metadata holds our ModelConfig JSON (model_config) that must build
the same network, so that tests/test-parity.cpp can load state/* by name and compare. Random weights with BatchNorm
statistics and affine parameters re-randomised, so eval mode is a real test. Needs torch, timm and safetensors; no
network access.

To keep all files together small (a full fp32 resnet50 alone is ~100 MB), the cases use timm's ResNet class with
narrower stages (timm's `channels`, our model option `channels`) and, for the Bottleneck networks, one block per
stage (timm's `layers`, our `layers`); resnet18 keeps its full depth (2-2-2-2).
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file
import timm
from timm.models.resnet import BasicBlock, Bottleneck, ResNet

NUM_CLASSES = 10
INPUT = (2, 3, 64, 64)


def our_config(name, attn="none", model_params=None):
    return {
        "name": name,
        "in_channels": INPUT[1],
        "num_classes": NUM_CLASSES,
        "image_size": INPUT[2],
        "attn": attn,
        "attn_params": {},
        "head": "avg",
        "head_params": {},
        "model_params": {k: str(v) for k, v in (model_params or {}).items()},
    }


def cases():
    narrow = (32, 64, 128, 256)
    thin = (16, 32, 64, 128)
    return [
        dict(file="resnet18", timm="ResNet(BasicBlock, [2,2,2,2], channels=(32,64,128,256))",
             build=lambda: ResNet(BasicBlock, [2, 2, 2, 2], channels=narrow, num_classes=NUM_CLASSES),
             config=our_config("resnet18", "none", {"channels": "32,64,128,256"})),
        dict(file="resnet50", timm="ResNet(Bottleneck, [1,1,1,1], channels=(16,32,64,128))",
             build=lambda: ResNet(Bottleneck, [1, 1, 1, 1], channels=thin, num_classes=NUM_CLASSES),
             config=our_config("resnet50", "none", {"layers": "1,1,1,1", "channels": "16,32,64,128"})),
        dict(file="seresnet50", timm="ResNet(Bottleneck, [1,1,1,1], channels=(16,32,64,128), "
                                     "block_args=dict(attn_layer='se'))  # seresnet50 layout",
             build=lambda: ResNet(Bottleneck, [1, 1, 1, 1], channels=thin, num_classes=NUM_CLASSES,
                                  block_args=dict(attn_layer="se")),
             config=our_config("resnet50", "se", {"layers": "1,1,1,1", "channels": "16,32,64,128"})),
        dict(file="ecaresnet50d", timm="ResNet(Bottleneck, [1,1,1,1], channels=(16,32,64,128), stem_width=32, "
                                       "stem_type='deep', avg_down=True, block_args=dict(attn_layer='eca'))"
                                       "  # ecaresnet50d layout",
             build=lambda: ResNet(Bottleneck, [1, 1, 1, 1], channels=thin, num_classes=NUM_CLASSES, stem_width=32,
                                  stem_type="deep", avg_down=True, block_args=dict(attn_layer="eca")),
             config=our_config("resnet50", "eca", {"layers": "1,1,1,1", "channels": "16,32,64,128",
                                                   "stem": "deep", "avg_down": "1"})),
        dict(file="resnet26d", timm="ResNet(Bottleneck, [2,2,2,2], channels=(16,32,64,128), stem_width=32, "
                                    "stem_type='deep', avg_down=True)  # resnet26d layout",
             build=lambda: ResNet(Bottleneck, [2, 2, 2, 2], channels=thin, num_classes=NUM_CLASSES, stem_width=32,
                                  stem_type="deep", avg_down=True),
             config=our_config("resnet26", "none", {"channels": "16,32,64,128", "stem": "deep", "avg_down": "1"})),
    ]


def randomise_norms(model, gen):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.rand(m.bias.shape, generator=gen) - 0.5)
                m.running_mean.copy_((torch.rand(m.running_mean.shape, generator=gen) - 0.5) * 0.2)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: timm_parity_models.py OUTDIR")
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    total = 0
    for i, case in enumerate(cases()):
        torch.manual_seed(1000 + i)
        gen = torch.Generator().manual_seed(2000 + i)
        model = case["build"]()
        randomise_norms(model, gen)
        state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
        x = torch.randn(INPUT, generator=gen)
        model.eval()
        with torch.no_grad():
            out_eval = model(x).clone()
        model.load_state_dict(state)
        model.train()
        with torch.no_grad():
            out_train = model(x).clone()
        tensors = {"input": x.contiguous(), "output_eval": out_eval.contiguous(),
                   "output_train": out_train.contiguous()}
        for k, v in state.items():
            tensors["state/" + k] = v if v.dtype == torch.int64 else v.float()
        cfg = case["config"]
        meta = {
            "kind": "model",
            "name": cfg["name"],
            "params": ",".join(f"{k}={v}" for k, v in sorted(cfg["model_params"].items())),
            "model_config": json.dumps(cfg),
            "timm": case["timm"] + f"  (timm {timm.__version__})",
        }
        path = os.path.join(out_dir, f"model_{case['file']}.safetensors")
        save_file(tensors, path, metadata=meta)
        size = os.path.getsize(path)
        total += size
        n_params = sum(p.numel() for p in model.parameters())
        print(f"{path}: {n_params} params, {size / 2**20:.1f} MiB, max|eval| {out_eval.abs().max():.3g}, "
              f"max|train| {out_train.abs().max():.3g}")
    print(f"total {total / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
