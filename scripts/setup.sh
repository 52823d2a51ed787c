#!/usr/bin/env bash
# Installs what attncnn needs on Debian 12 (apt, as root or through sudo), then configures and builds into build/.
# Safe to run again: installed packages are skipped and the build is incremental.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake ninja-build pkg-config libtorch-dev libpng-dev libjpeg-dev zlib1g-dev
          nlohmann-json3-dev libcli11-dev libgtest-dev dataset-fashion-mnist)
packages+=(libyaml-cpp-dev)  # train --config YAML files
packages+=(libgloo-dev)      # data-parallel training on the CPU (c10d Gloo)
packages+=(libonnx-dev libprotobuf-dev)  # export --format onnx (checked with ONNX's checker as it is written)
# The export tests run the files in onnxruntime through Node (onnxruntime-node from the npm registry, below).
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# onnxruntime for the export tests, into an ignored folder (tests/CMakeLists.txt passes its path to test-export).
ort_version=1.30.0
ort_dir=.cache/onnxruntime
if ! grep -qs "\"version\": \"$ort_version\"" "$ort_dir/node_modules/onnxruntime-node/package.json"; then
  echo "setup: installing onnxruntime-node@$ort_version into $ort_dir"
  mkdir -p "$ort_dir"
  npm install --prefix "$ort_dir" --ignore-scripts --no-audit --no-fund --no-save "onnxruntime-node@$ort_version"
fi

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"
echo "setup: built build/bin/attncnn"
