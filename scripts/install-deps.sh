#!/usr/bin/env bash
# Installs what proact needs on Debian bookworm, skipping what is already there.
# Idempotent: a second run installs nothing and exits 0.
set -euo pipefail

# Build, run and test dependencies (DESIGN §6).
PACKAGES=(
  build-essential cmake pkg-config
  libopenmpi-dev openmpi-bin
  libopenblas-dev
  libscalapack-openmpi-dev
  libhdf5-openmpi-dev hdf5-tools
  libinih-dev libjansson-dev libpcre2-dev libmicrohttpd-dev
  libcmocka-dev
  python3 python3-numpy python3-torch python3-h5py
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"
