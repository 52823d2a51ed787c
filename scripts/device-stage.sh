#!/usr/bin/env bash
# Runs on the GPU machine across several back-to-back calls, so that data larger than one call's transfer (CIFAR-10)
# can be staged while the CUDA build runs. Data and the build live under $HOME, outside the checkout, so the next
# call's fresh copy of the tree does not touch them.
#
#   scripts/device-stage.sh copy .data/s1            # copy a carried folder's cifar/ and fashion-mnist/ to $HOME/data
#   scripts/device-stage.sh build                    # copy the tree to $HOME/src and start the CUDA build (background)
#   scripts/device-stage.sh wait                     # wait for that build; print its end
#   scripts/device-stage.sh presets OUT [SEEDS]      # both time-to-accuracy presets, results in OUT/*.jsonl
#   scripts/device-stage.sh ctest OUT                # the test suite against the staged data, log in OUT/ctest.log
set -uo pipefail
cd "$(dirname "$0")/.."
data=$HOME/data src=$HOME/src
case "${1:-}" in
  copy)
    mkdir -p "$data/cifar" "$data/fashion-mnist"
    [[ -d $2/cifar ]] && cp "$2"/cifar/* "$data/cifar/"
    [[ -d $2/fashion-mnist ]] && cp "$2"/fashion-mnist/* "$data/fashion-mnist/"
    ls -la "$data"/* | tail -n +1 ;;
  build)
    rm -rf "$src" && mkdir -p "$src"
    tar --exclude=./.data --exclude='./build*' --exclude=./.git -cf - . | (cd "$src" && tar xf -)
    prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
    setsid nohup bash -c "cd '$src' && cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH='$prefix' -DATTNCNN_FASHION_MNIST_DIR='$data/fashion-mnist' -DATTNCNN_BUILD_BENCH=ON \
      && cmake --build build-cuda -j\$(nproc); echo BUILD_EXIT \$?" > "$HOME/build.log" 2>&1 < /dev/null &
    echo "build started in $src (log $HOME/build.log)" ;;
  wait)
    until grep -q BUILD_EXIT "$HOME/build.log" 2>/dev/null; do sleep 3; done
    grep -E "error|FAILED" "$HOME/build.log" | head -30
    tail -3 "$HOME/build.log"
    grep -q "BUILD_EXIT 0" "$HOME/build.log" ;;
  presets)
    out=$2 seeds=${3:-0,1,2,3,4}
    mkdir -p "$out"
    (cd "$data/cifar" && md5sum ./*.bin) > "$out/cifar-md5.txt"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$out/device.txt"
    for p in fashion-95:fashion-mnist:"$data/fashion-mnist" cifar10-94:cifar10:"$data/cifar"; do
      preset=${p%%:*} spec=${p#*:}
      python3 bench/time_to_accuracy.py --preset "$preset" --seeds "$seeds" --out "$HOME/tta-$preset" \
        --attncnn "$src/build-cuda/bin/attncnn" -- --data "$spec" | tail -n 1
      cp "$HOME/tta-$preset/tta.jsonl" "$out/$preset.jsonl"
    done ;;
  ctest)
    mkdir -p "$2"
    (cd "$src/build-cuda" && ctest --output-on-failure -j12 --timeout 300) > "$2/ctest.log" 2>&1
    tail -n 25 "$2/ctest.log" ;;
  *) sed -n 2,11p "$0"; exit 2 ;;
esac
