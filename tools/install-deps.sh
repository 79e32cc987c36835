#!/bin/sh
# install-deps.sh - installs the Debian packages gmmdiff needs to build and test, when missing.
# Usage: tools/install-deps.sh [extra-package ...]
set -eu
pkgs="gcc make cmake pkg-config libopenblas-dev libopenblas0-openmp libpng-dev libjpeg62-turbo-dev zlib1g-dev libjansson-dev libgomp1 libopenmpi-dev openmpi-bin procps dataset-fashion-mnist $*"
missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0
echo "gmmdiff: installing missing Debian packages:$missing"
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "gmmdiff: need root (or sudo) to install:$missing" >&2
    exit 1
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
