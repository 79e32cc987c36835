#!/bin/sh
# peer_env.sh - makes the Python the benchmarks compare against, when missing: Debian's
# python3-torch (1.13) and python3-sklearn, and a virtual environment on top of them with
# diffusers 0.30.3 (the last diffusers line that runs on torch 1.13) from PyPI.
# Usage: bench/peer_env.sh [venv-dir]   (default /opt/gdref; prints the python's path)
set -eu
VENV=${1:-/opt/gdref}
if "$VENV/bin/python" -c "import torch, diffusers, sklearn" 2>/dev/null; then
    echo "$VENV/bin/python"
    exit 0
fi
sh tools/install-deps.sh python3-torch python3-sklearn python3-numpy python3-venv >&2
python3_sys=/usr/bin/python3
"$python3_sys" -m venv --system-site-packages "$VENV" >&2
"$VENV/bin/pip" install -q "diffusers==0.30.3" "huggingface_hub<0.26" "safetensors" >&2
"$VENV/bin/python" -c "import torch, diffusers, sklearn" >&2
echo "$VENV/bin/python"
