#!/usr/bin/env bash
# Runs every GPU benchmark in one go on the GPU machine: attncnn's bench_train for each model and speed switch,
# then the PyTorch peers (eager, torch.compile, timm) on the same machine. One JSON line per case goes to
# OUTDIR/bench.jsonl; `python3 bench/make_report.py OUTDIR/bench.jsonl > docs/benchmarks.md` renders the tables.
# Usage: scripts/bench-gpu.sh OUTDIR [PART...]   (expects build-cuda/ from scripts/device-test.sh, or builds it)
# PARTs: ours (attncnn cases), eager (PyTorch eager peers), compile (torch.compile peers), tta (time to accuracy of
# both presets over 5 seeds; CIFAR-10 from $ATTNCNN_DATA/cifar10), all (default). Results are
# appended, so the parts may run in separate calls into the same OUTDIR when one call's time limit is too short.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/bench-gpu.sh OUTDIR [ours|eager|compile|all]...}
shift
parts=" ${*:-all} "
want() { [[ $parts == *" all "* || $parts == *" $1 "* ]]; }
mkdir -p "$out"
res=$out/bench.jsonl
touch "$res"
if [[ ! -x build-cuda/bin/bench_train ]]; then
  prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
  cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" -DATTNCNN_BUILD_BENCH=ON \
    -DATTNCNN_BUILD_TESTS=OFF > "$out/configure.log" 2>&1
  cmake --build build-cuda -j"$(nproc)" --target bench_train > "$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
fi
{
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
  python3 -c 'import torch, timm; print("torch", torch.__version__, "cuda", torch.version.cuda, "timm", timm.__version__)'
  date -u +%Y-%m-%d
} > "$out/machine.txt"

ours() {  # label, then bench_train arguments
  local label=$1; shift
  build-cuda/bin/bench_train --steps 40 --warmup 10 "$@" | sed "s/^{/{\"impl\":\"attncnn\",\"label\":\"$label\",/" >> "$res"
}
peer() {  # label, then bench_peers.py arguments
  local label=$1; shift
  python3 bench/peers/bench_peers.py "$@" | sed "s/^{/{\"impl\":\"pytorch\",\"label\":\"$label\",/" >> "$res"
}
fast=(--amp --channels-last)
if want ours; then
# attncnn, bf16 + channels-last, with and without attention
ours seed_net          --model seed_net --attn sgate --input 1x28x28 --batch 256 "${fast[@]}"
ours seed_net_none     --model seed_net --attn none  --input 1x28x28 --batch 256 "${fast[@]}"
ours resnet20_se       --model resnet20 --attn se    --input 3x32x32 --batch 512 "${fast[@]}"
ours resnet20          --model resnet20 --attn none  --input 3x32x32 --batch 512 "${fast[@]}"
ours resnet18_cbam     --model resnet18 --model-opt stem=cifar --attn cbam --input 3x32x32 --batch 512 "${fast[@]}"
ours resnet18_cifar    --model resnet18 --model-opt stem=cifar --attn none --input 3x32x32 --batch 512 "${fast[@]}"
ours resnet50_se       --model resnet50 --attn se   --num-classes 1000 --input 3x224x224 --batch 256 "${fast[@]}"
ours resnet50          --model resnet50 --attn none --num-classes 1000 --input 3x224x224 --batch 256 "${fast[@]}"
# the same with the step captured as a CUDA graph
ours seed_net+graph       --model seed_net --attn sgate --input 1x28x28 --batch 256 "${fast[@]}" --cuda-graph
ours seed_net_none+graph  --model seed_net --attn none  --input 1x28x28 --batch 256 "${fast[@]}" --cuda-graph
ours resnet20_se+graph    --model resnet20 --attn se    --input 3x32x32 --batch 512 "${fast[@]}" --cuda-graph
ours resnet20+graph       --model resnet20 --attn none  --input 3x32x32 --batch 512 "${fast[@]}" --cuda-graph
ours resnet18_cbam+graph  --model resnet18 --model-opt stem=cifar --attn cbam --input 3x32x32 --batch 512 "${fast[@]}" --cuda-graph
ours resnet18_cifar+graph --model resnet18 --model-opt stem=cifar --attn none --input 3x32x32 --batch 512 "${fast[@]}" --cuda-graph
ours resnet50_se+graph    --model resnet50 --attn se   --num-classes 1000 --input 3x224x224 --batch 256 "${fast[@]}" --cuda-graph
ours resnet50+graph       --model resnet50 --attn none --num-classes 1000 --input 3x224x224 --batch 256 "${fast[@]}" --cuda-graph
# the effect of each switch on resnet18 + cbam
ours "resnet18_cbam fp32"             --model resnet18 --model-opt stem=cifar --attn cbam --input 3x32x32 --batch 512 --no-tf32
ours "resnet18_cbam tf32"             --model resnet18 --model-opt stem=cifar --attn cbam --input 3x32x32 --batch 512
ours "resnet18_cbam tf32+cl"          --model resnet18 --model-opt stem=cifar --attn cbam --input 3x32x32 --batch 512 --channels-last
ours "resnet18_cbam bf16"             --model resnet18 --model-opt stem=cifar --attn cbam --input 3x32x32 --batch 512 --amp
ours "resnet18_cbam bf16+cl no-autotune" --model resnet18 --model-opt stem=cifar --attn cbam --input 3x32x32 --batch 512 "${fast[@]}" --no-cudnn-benchmark
ours "resnet18_cbam bf16+cl per-tensor SGD" --model resnet18 --model-opt stem=cifar --attn cbam --input 3x32x32 --batch 512 "${fast[@]}" --no-foreach
ours "seed_net per-tensor SGD"  --model seed_net --attn sgate --input 1x28x28 --batch 256 "${fast[@]}" --no-foreach
fi
# PyTorch peers, same batch, bf16 + channels-last
if want eager; then
for m in seed_net:256 seed_net_none:256 resnet20_se:512 resnet20:512 resnet18_cbam:512 resnet18_cifar:512 resnet50_se:256 resnet50:256; do
  peer "${m%%:*}" "${m%%:*}" "${m##*:}" --amp --channels-last
done
fi
if want compile; then
for m in resnet18_cbam:512 resnet50_se:256 resnet18_cifar:512 resnet50:256 seed_net:256 resnet20_se:512; do
  peer "${m%%:*}" "${m%%:*}" "${m##*:}" --amp --channels-last --compile
done
fi
if want tta; then
  build-cuda/bin/attncnn train --preset fashion-95 --epochs 1 --out "$out/warm-up" --exist-ok --quiet > /dev/null
  for p in cifar10-94 fashion-95; do
    python3 bench/time_to_accuracy.py --preset $p --seeds 0,1,2,3,4 --out "$out" --attncnn build-cuda/bin/attncnn | tail -1
  done
fi
cat "$res"
