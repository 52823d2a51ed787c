#!/usr/bin/env bash
# Builds attncnn against the GPU machine's PyTorch libtorch (CUDA) and runs the whole test suite there.
# Fashion-MNIST travels in .data/fashion-mnist (copy /usr/share/datasets/fashion-mnist there and carry .data).
# Usage: scripts/device-test.sh [OUTDIR]   (logs and the ctest summary are written to OUTDIR, default build-cuda)
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-build-cuda}
mkdir -p "$out"
prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
fm=/usr/share/datasets/fashion-mnist
[[ -d $fm ]] || fm=$PWD/.data/fashion-mnist
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())'
  g++ --version | head -1
} > "$out/device.txt" 2>&1
cat "$out/device.txt"
cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
  -DATTNCNN_FASHION_MNIST_DIR="$fm" -DATTNCNN_BUILD_BENCH=ON > "$out/configure.log" 2>&1 || { tail -40 "$out/configure.log"; exit 1; }
grep "attncnn:" "$out/configure.log"
cmake --build build-cuda -j"$(nproc)" > "$out/build.log" 2>&1 || { grep -E "error|Error" "$out/build.log" | head -40; exit 1; }
echo "build ok"
ctest --test-dir build-cuda --output-on-failure -j8 2>&1 | tee "$out/ctest.log" | tail -25
exit "${PIPESTATUS[0]}"
