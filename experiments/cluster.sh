#!/bin/sh
# cluster.sh - the GMM issue's unsupervised arm: shapes models conditioned on clusters found by a
# GMM over a PCA embedding of the pixels (--cond cluster; the labels are not used). Per seed: how
# often a cluster's samples fall back into it (cluster accuracy, beside chance 1/K), and what
# the clusters mean on real data (each attribute's purity). Writes OUT/results.md.
#
#   experiments/cluster.sh [short|full] [OUT]     (default: short, runs/cluster-BUDGET)
#
# short: seed 1, 200 steps, 4 samples per cluster; full: seeds 1 2 3, 3000 steps, 16 samples.
# 12 clusters (env CLUSTERS). env SEEDS, STEPS, PER override the budget's; THREADS: threads per
# run. Runs and evaluations that exist are kept.
set -eu
BUDGET=${1:-short}
OUT=${2:-runs/cluster-$BUDGET}
case "$BUDGET" in
short) S="1"; N=200; P=4 ;;
full) S="1 2 3"; N=3000; P=16 ;;
*) echo "usage: $0 [short|full] [OUT]" >&2; exit 2 ;;
esac
SEEDS=${SEEDS:-$S}; STEPS=${STEPS:-$N}; PER=${PER:-$P}; CLUSTERS=${CLUSTERS:-12}
TH=${THREADS:+--threads $THREADS}
cd "$(dirname "$0")/.."
make build >/dev/null
G=./build/gmmdiff
mkdir -p "$OUT"
for seed in $SEEDS; do
    R="$OUT/cluster-$seed"
    if [ -f "$R/run.json" ]; then
        $G train --resume "$R" --progress none --sample-every 0 $TH
    else
        $G train --data shapes --cond cluster --clusters "$CLUSTERS" --seed "$seed" --steps "$STEPS" \
            --batch 32 --lr 2e-3 --warmup "${WARMUP:-100}" --out "$R" --progress none --sample-every 0 \
            --ckpt-every 200 --log-every 5 $TH
    fi
    if [ ! "$R/eval-clusters.json" -nt "$R/state.safetensors" ]; then
        $G eval --run "$R" --per-class "$PER" --seed 0 --out "$R/eval-clusters.json" \
            --grid "$R/eval-clusters.png" $TH >/dev/null
    fi
    echo "done $R"
done
PYTHONPATH=experiments python3 - "$OUT" "$SEEDS" "$STEPS" <<'PY'
import json, os, sys
from stats import cell
out, seeds, steps = sys.argv[1], sys.argv[2].split(), sys.argv[3]
evs = [json.load(open(os.path.join(out, f"cluster-{s}", "eval-clusters.json"))) for s in seeds]
attrs = list(evs[0]["real_purity"])
lines = [f"Seeds {' '.join(seeds)}; shapes, {evs[0]['clusters']} clusters of a 16-dimensional PCA "
         f"embedding (labels unused); {steps} steps, batch 32, lr 2e-3, warmup {os.environ.get('WARMUP', '100')}; {evs[0]['samples']} samples "
         "per seed, DDIM 50 (clipped eps), cfg 2; mean ± 95% t-interval over seeds.\n",
         "| cluster accuracy | chance | " + " | ".join(f"purity: {a} (largest value's share)" for a in attrs) + " |",
         "|---|---|" + "---|" * len(attrs)]
row = [cell([e["cluster_accuracy"] for e in evs]), f"{evs[0]['chance']:.3f}"]
for a in attrs:
    row.append(cell([e["real_purity"][a]["purity"] for e in evs]) +
               f" ({evs[0]['real_purity'][a]['largest_value_share']:.3f})")
lines.append("| " + " | ".join(row) + " |")
open(os.path.join(out, "results.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
