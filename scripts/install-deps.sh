#!/usr/bin/env bash
# Installs what proact needs on Debian bookworm, skipping what is already there.
# Idempotent: a second run installs nothing and exits 0.
set -euo pipefail

# Build, run and test dependencies (docs/architecture.md); slurm-wlm and munge run the local test
# cluster (scripts/slurm-local.sh; ss from iproute2 finds its free ports); curl talks to proact serve
# in the tests and the demo; clang-format checks the code's format and graphviz draws
# docs/architecture.svg (tests/architecture/). The ONNX export
# compiles libonnx-dev's onnx.proto with protoc-c (protobuf-c-compiler) and links libprotobuf-c.
# chromium is the real browser the page of `proact serve` is tested in (tests/jobs/test_serve_web.sh,
# driven headless by npm puppeteer-core, which downloads no browser of its own).
# python3-scipy fits the loss-vs-compute law that sizes the shipped model (scripts/study/scaling.py).
PACKAGES=(
  build-essential cmake pkg-config
  libopenmpi-dev openmpi-bin
  libopenblas-dev libdnnl-dev
  libscalapack-openmpi-dev
  libhdf5-openmpi-dev hdf5-tools
  libinih-dev libjansson-dev libpcre2-dev libmicrohttpd-dev
  libcmocka-dev libutf8proc-dev libicu-dev
  libprotobuf-c-dev protobuf-c-compiler libonnx-dev
  python3 python3-numpy python3-scipy python3-torch python3-h5py
  unicode-data
  slurm-wlm munge iproute2 curl
  clang-format graphviz
  chromium
)
# Node.js runs the reference tokenizer (npm @huggingface/tokenizers) in the tests; a machine
# that already has node and npm (e.g. from nodesource) keeps them.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  PACKAGES+=(nodejs npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} Debian packages present"
else
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm packages the tests use as references, pinned in tests/node/package.json, installed
# into .deps/node (not tracked). Reinstalled only when package.json changes.
# node-llama-cpp (llama.cpp for tests/jobs/test_gguf.sh) lists a prebuilt binary per platform and
# GPU as optional dependencies: on Linux x64 npm would fetch the CPU one and ~600 MB of CUDA and
# Vulkan ones. --omit=optional skips them all, and package.json names the CPU one
# (@node-llama-cpp/linux-x64) as a plain dependency; --ignore-scripts skips node-llama-cpp's
# postinstall, which may download and build llama.cpp from source. The test loads the prebuilt
# binary with build: "never", gpu: false, so it runs offline. onnxruntime-node's package holds its
# CPU binaries (bin/napi-v6/linux/x64); its postinstall, skipped too, would only fetch CUDA ones.
# Its version is the one @huggingface/transformers pins, so that npm keeps one copy.
root=$(cd "$(dirname "$0")/.." && pwd)
node_dir="$root/.deps/node"
if ! cmp -s "$root/tests/node/package.json" "$node_dir/package.json" || [ ! -d "$node_dir/node_modules" ]; then
  echo "install-deps: installing npm packages into .deps/node"
  mkdir -p "$node_dir"
  cp "$root/tests/node/package.json" "$node_dir/package.json"
  (cd "$node_dir" && npm install --no-audit --no-fund --loglevel=error --omit=optional --ignore-scripts)
fi
echo "install-deps: done"
