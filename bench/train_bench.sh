#!/bin/sh
# train_bench.sh - the training step and DDIM sampling of a 28x28 UNet2DModel (channels 32, 64,
# 128, attention at the lowest level, batch 64) in gmmdiff and in PyTorch + diffusers (eager),
# same model config, same thread count, run alternately ROUNDS times. Prints each side's median
# time, the ratio peer_time / gmmdiff_time (above 1: gmmdiff faster), peak memory of both
# (whole process, and above the process's size before the model was built) and gmmdiff's share of
# the machine's sgemm rate.
# Usage: bench/train_bench.sh [build-dir] [train|sample|all]
#   env: THREADS (nproc), ROUNDS (3), STEPS (train 6, sample 1), BATCH (64), CONFIG (a
#   config.json; default: gmmdiff's default UNet), PY (a python with torch and diffusers;
#   default: the one bench/peer_env.sh makes)
set -eu
BUILD=${1:-build}
WHAT=${2:-all}
THREADS=${THREADS:-$(nproc)}
ROUNDS=${ROUNDS:-3}
BATCH=${BATCH:-64}
PY=${PY:-$(sh bench/peer_env.sh)}
G="$BUILD/gmmdiff"
[ -x "$G" ] || { echo "train_bench.sh: $G not built (make build)" >&2; exit 1; }
if ! "$PY" -c "import torch, diffusers" 2>/dev/null; then
    echo "train_bench.sh: $PY lacks torch or diffusers (bench/peer_env.sh makes one)" >&2
    exit 1
fi
. bench/blas_coretype.sh
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if [ -n "${CONFIG:-}" ]; then cp "$CONFIG" "$out/config.json"
else "$G" bench train --write-config "$out/config.json"; fi
export OMP_NUM_THREADS=$THREADS
for mode in train sample; do
    [ "$WHAT" = all ] || [ "$WHAT" = "$mode" ] || continue
    if [ $mode = train ]; then steps=${STEPS:-6}; warm=2; else steps=${STEPS:-1}; warm=1; fi
    i=1
    while [ "$i" -le "$ROUNDS" ]; do
        "$G" bench $mode --config "$out/config.json" --batch "$BATCH" --steps "$steps" \
            --warmup "$warm" --threads "$THREADS" > "$out/gd.$mode.$i"
        "$PY" bench/train_bench_torch.py $mode --config "$out/config.json" --batch "$BATCH" \
            --steps "$steps" --warmup "$warm" --threads "$THREADS" > "$out/pt.$mode.$i"
        i=$((i + 1))
    done
    head -n 1 "$out/gd.$mode.1"
    head -n 1 "$out/pt.$mode.1"
    grep '^model GFLOP' "$out/gd.$mode.1"
    "$PY" - "$out" "$ROUNDS" "$mode" <<'PYEOF'
import statistics, sys
d, rounds, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def field(side, i, key):
    for line in open(f"{d}/{side}.{mode}.{i}"):
        for w in line.split():
            if w.startswith(key + "="):
                return float(w.split("=")[1])
def med(side, key):
    return statistics.median(field(side, i, key) for i in range(1, rounds + 1))
gd, pt = med("gd", "ms"), med("pt", "ms")
each = lambda side: " ".join(f"{field(side, i, 'ms'):.0f}" for i in range(1, rounds + 1))
print(f"{mode}: gmmdiff {gd:.1f} ms (rounds: {each('gd')}), torch {pt:.1f} ms (rounds: {each('pt')})")
print(f"{mode}: ratio torch/gmmdiff = {pt / gd:.2f} (above 1: gmmdiff faster)")
gp, pp = med("gd", "peak_rss_mib"), med("pt", "peak_rss_mib")
gb, pb = med("gd", "base_rss_mib"), med("pt", "base_rss_mib")
print(f"{mode}: peak memory gmmdiff {gp:.0f} MiB, torch {pp:.0f} MiB, ratio {gp / pp:.2f}; "
      f"above the process before the model: gmmdiff {gp - gb:.0f} MiB, torch {pp - pb:.0f} MiB, "
      f"ratio {(gp - gb) / (pp - pb):.2f}")
PYEOF
done
