#!/usr/bin/env bash
# Installs the Debian packages calibd builds against, if any is missing.
set -euo pipefail
packages=(libcfitsio-dev zlib1g-dev libsqlite3-dev liblapacke-dev libopenblas-dev libgsl-dev pkg-config)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
