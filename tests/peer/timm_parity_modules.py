#!/usr/bin/env python3
"""Writes timm reference files for the attention zoo: one safetensors file per case, read by tests/test-parity.cpp.

    python3 tests/peer/timm_parity_modules.py OUTDIR

Needs torch, timm (1.0.29) and safetensors; no network. Each file holds the metadata kind=attention, name (our
registry name), params (our options, key=value,...), channels and timm (the expression that built the reference),
and the tensors input, state/<key> (every entry of timm's state_dict), output_eval (computed first, in eval mode)
and output_train (computed after, in train mode, by a fresh module loaded with the same state).

Weights are random: every parameter is redrawn (timm zero-initialises some, which would hide mistakes), and every
BatchNorm/LayerNorm gets random affine parameters and running statistics, so that eval mode is a real test.
Modules timm lacks (bam, simam, triplet) and cases this timm cannot build are skipped with a note.
"""
import os
import sys
import types

import torch
from torch import nn
from safetensors.torch import save_file

import timm
from timm.layers.create_attn import create_attn

# (our name, our params, channels, input H=W, timm attn name, timm kwargs). Options appear under our keys in
# `params` and under timm's keyword names in the kwargs; they are the same names except where noted.
CASES = [
    ('se', {}, 16, 8, 'se', {}),
    ('se', {'rd_ratio': '0.25', 'add_maxpool': 'true'}, 16, 8, 'se', {'rd_ratio': 0.25, 'add_maxpool': True}),
    ('se', {'rd_channels': '6', 'gate_layer': 'hard_sigmoid'}, 16, 8, 'se',
     {'rd_channels': 6, 'gate_layer': 'hard_sigmoid'}),
    ('ese', {}, 16, 8, 'ese', {}),
    ('ese', {'add_maxpool': 'true'}, 16, 8, 'ese', {'add_maxpool': True}),
    ('eca', {}, 16, 8, 'eca', {}),
    ('eca', {}, 256, 4, 'eca', {}),  # adaptive kernel 5
    ('ecam', {}, 16, 8, 'ecam', {}),
    ('ceca', {}, 16, 8, 'ceca', {}),
    ('ceca', {}, 256, 4, 'ceca', {}),
    ('ge', {}, 16, 8, 'ge', {}),
    ('ge', {'extent': '2'}, 16, 8, 'ge', {'extent': 2}),
    ('ge', {'extent': '2', 'extra_params': 'true'}, 16, 8, 'ge', {'extent': 2, 'extra_params': True}),
    ('ge', {'extent': '4', 'extra_params': 'true'}, 16, 8, 'ge', {'extent': 4, 'extra_params': True}),
    ('ge', {'extent': '0', 'extra_params': 'true', 'feat_size': '8'}, 16, 8, 'ge',
     {'extent': 0, 'extra_params': True, 'feat_size': 8}),
    ('ge', {'extent': '2', 'use_mlp': 'false'}, 16, 8, 'ge', {'extent': 2, 'use_mlp': False}),
    ('ge', {'rd_ratio': '0.25', 'add_maxpool': 'true'}, 16, 8, 'ge', {'rd_ratio': 0.25, 'add_maxpool': True}),
    ('gc', {}, 16, 8, 'gc', {}),
    ('gc', {'use_attn': 'false'}, 16, 8, 'gc', {'use_attn': False}),
    ('gc', {'fuse_add': 'true'}, 16, 8, 'gc', {'fuse_add': True}),  # both fusions
    ('gca', {}, 16, 8, 'gca', {}),
    ('cbam', {}, 16, 8, 'cbam', {}),
    ('cbam', {'rd_ratio': '0.25', 'spatial_kernel_size': '3', 'mlp_bias': 'true'}, 16, 8, 'cbam',
     {'rd_ratio': 0.25, 'spatial_kernel_size': 3, 'mlp_bias': True}),
    ('lcbam', {}, 16, 8, 'lcbam', {}),
    ('coord', {}, 16, 8, 'coord', {}),
    ('coord', {'rd_channels': '8', 'has_skip': 'true', 'bias': 'true'}, 16, 8, 'coord',
     {'rd_channels': 8, 'has_skip': True, 'bias': True}),
    ('sk', {}, 16, 8, 'sk', {}),
    ('sk', {'stride': '2'}, 16, 8, 'sk', {'stride': 2}),
    ('sk', {'out_channels': '32', 'split_input': 'false'}, 16, 8, 'sk', {'out_channels': 32, 'split_input': False}),
    # Our kernel_size list is written with ':' (a comma separates options); timm takes a Python list.
    ('sk', {'kernel_size': '3:5:7'}, 24, 8, 'sk', {'kernel_size': [3, 5, 7]}),
    ('sk', {'keep_3x3': 'false'}, 16, 8, 'sk', {'keep_3x3': False}),
    ('splat', {}, 16, 8, 'splat', {}),
    ('splat', {'radix': '1'}, 16, 8, 'splat', {'radix': 1}),
    ('splat', {'stride': '2', 'out_channels': '32'}, 16, 8, 'splat', {'stride': 2, 'out_channels': 32}),
    ('splat', {'radix': '2', 'groups': '2'}, 16, 8, 'splat', {'radix': 2, 'groups': 2}),
    # timm takes a norm layer class; ours is named.
    ('splat', {'norm_layer': 'batchnorm'}, 16, 8, 'splat', {'norm_layer': nn.BatchNorm2d}),
    ('nl', {}, 16, 8, 'nl', {}),
    ('nl', {'use_scale': 'false', 'rd_ratio': '0.25'}, 16, 8, 'nl', {'use_scale': False, 'rd_ratio': 0.25}),
]


def kwarg_text(kwargs):
    parts = []
    for k, v in kwargs.items():
        parts.append('%s=%s' % (k, v.__name__ if isinstance(v, type) else repr(v)))
    return ''.join(', ' + p for p in parts)


def _drop_dd_strings(fn):
    def call(*args, **kwargs):
        return fn(*[a for a in args if not (isinstance(a, str) and a in ('device', 'dtype'))], **kwargs)
    return call


def build_reference(timm_name, channels, kwargs):
    """Returns (module, note). timm 1.0.29's GatherExcite passes `*dd` (the strings 'device' and 'dtype' as extra
    positional arguments) where `**dd` is meant, so building it with an MLP or extra params raises TypeError. For
    that case only, the three callees inside timm's gather_excite module are wrapped to drop those two strings,
    which is what the intended `**dd` (both None) amounts to, and the note says so."""
    try:
        return create_attn(timm_name, channels, **kwargs), ''
    except TypeError:
        if timm_name != 'ge':
            raise
    import timm.layers.gather_excite as ge_mod
    saved = (ge_mod.ConvMlp, ge_mod.create_conv2d, ge_mod.nn)
    shim_nn = types.SimpleNamespace(**{k: getattr(nn, k) for k in dir(nn) if not k.startswith('_')})
    shim_nn.BatchNorm2d = _drop_dd_strings(nn.BatchNorm2d)
    ge_mod.ConvMlp, ge_mod.create_conv2d, ge_mod.nn = _drop_dd_strings(saved[0]), _drop_dd_strings(saved[1]), shim_nn
    try:
        return create_attn(timm_name, channels, **kwargs), ' [timm *dd typo bypassed]'
    finally:
        ge_mod.ConvMlp, ge_mod.create_conv2d, ge_mod.nn = saved


def randomize(module, gen):
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.rand(p.shape, generator=gen) - 0.5)
        for m in module.modules():
            if isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm)):
                if getattr(m, 'weight', None) is not None:
                    m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                if getattr(m, 'bias', None) is not None:
                    m.bias.copy_(torch.rand(m.bias.shape, generator=gen) - 0.5)
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
                m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=gen) * 0.6 - 0.3)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)


def main():
    if len(sys.argv) != 2:
        print('usage: timm_parity_modules.py OUTDIR', file=sys.stderr)
        return 2
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    print('timm', timm.__version__, 'torch', torch.__version__)
    written = 0
    for idx, (name, params, channels, size, timm_name, kwargs) in enumerate(CASES):
        expr = 'create_attn(%r, %d%s)' % (timm_name, channels, kwarg_text(kwargs))
        torch.manual_seed(1000 + idx)
        gen = torch.Generator().manual_seed(2000 + idx)
        try:
            ref, note = build_reference(timm_name, channels, kwargs)
        except Exception as e:  # e.g. a timm without this module
            print('skip %-6s %s: %s' % (name, expr, e))
            continue
        expr += note
        randomize(ref, gen)
        state = {k: v.detach().clone().contiguous() for k, v in ref.state_dict().items()}
        x = torch.randn(2, channels, size, size, generator=gen)
        ref.eval()
        with torch.no_grad():
            out_eval = ref(x.clone())
        fresh, _ = build_reference(timm_name, channels, kwargs)
        fresh.load_state_dict(state)
        fresh.train()
        with torch.no_grad():
            out_train = fresh(x.clone())
        tensors = {'input': x.contiguous(), 'output_eval': out_eval.contiguous(), 'output_train': out_train.contiguous()}
        for k, v in state.items():
            tensors['state/' + k] = v if v.dtype == torch.int64 else v.float()
        metadata = {
            'kind': 'attention',
            'name': name,
            'params': ','.join('%s=%s' % kv for kv in sorted(params.items())),
            'channels': str(channels),
            'timm': expr,
        }
        tag = '_'.join('%s-%s' % (k, v.replace(':', '-')) for k, v in sorted(params.items())) or 'default'
        path = os.path.join(out_dir, 'attn_%02d_%s_%s.safetensors' % (idx, name, tag))
        save_file(tensors, path, metadata=metadata)
        written += 1
        print('wrote %s  %s' % (os.path.basename(path), expr))
    print('%d files in %s' % (written, out_dir))
    return 0


if __name__ == '__main__':
    sys.exit(main())
