#!/bin/sh
# conv_bench.sh - conv2d forward+backward of gmmdiff against PyTorch at the shapes of a 28x28
# UNet (bench/unet28_convs.txt), batch 64, same thread count, run alternately ROUNDS times.
# Prints each side's median total and per-shape medians, and the ratio torch_time / gmmdiff_time
# (above 1 means gmmdiff is faster).
# Usage: bench/conv_bench.sh [build-dir]   (env: THREADS, ROUNDS, REPS, BATCH)
set -eu
BUILD=${1:-build}
THREADS=${THREADS:-$(nproc)}
ROUNDS=${ROUNDS:-3}
REPS=${REPS:-5}
BATCH=${BATCH:-64}
PY=/usr/bin/python3
if ! $PY -c "import torch" 2>/dev/null; then
    sh tools/install-deps.sh python3-torch
fi
. bench/blas_coretype.sh
out=$(mktemp -d)
i=1
while [ "$i" -le "$ROUNDS" ]; do
    OMP_NUM_THREADS=$THREADS "$BUILD/gmmdiff" bench conv --batch "$BATCH" --reps "$REPS" \
        --threads "$THREADS" > "$out/gd.$i"
    OMP_NUM_THREADS=$THREADS $PY bench/conv_bench_torch.py --batch "$BATCH" --reps "$REPS" \
        --threads "$THREADS" > "$out/pt.$i"
    i=$((i + 1))
done
head -n 1 "$out/gd.1"
head -n 1 "$out/pt.1"
$PY - "$out" "$ROUNDS" <<'PYEOF'
import statistics, sys
d, rounds = sys.argv[1], int(sys.argv[2])
def load(side):
    runs = []
    for i in range(1, rounds + 1):
        rows = {}
        for line in open(f"{d}/{side}.{i}"):
            if line.startswith("#"):
                continue
            key, ms = line.rsplit(" ms=", 1)
            rows[key] = float(ms)
        runs.append(rows)
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}
gd, pt = load("gd"), load("pt")
print(f"{'shape':<52} {'gmmdiff ms':>10} {'torch ms':>9} {'ratio':>6}")
for k in gd:
    if k != "TOTAL":
        print(f"{k:<52} {gd[k]:>10.2f} {pt[k]:>9.2f} {pt[k] / gd[k]:>6.2f}")
print(f"{'TOTAL (count-weighted, median of rounds)':<52} {gd['TOTAL']:>10.2f} "
      f"{pt['TOTAL']:>9.2f} {pt['TOTAL'] / gd['TOTAL']:>6.2f}")
print(f"ratio torch/gmmdiff = {pt['TOTAL'] / gd['TOTAL']:.2f} (above 1: gmmdiff faster)")
PYEOF
rm -rf "$out"
