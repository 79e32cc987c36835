#!/bin/sh
# consistency.sh - the NGMG issue's diffusion experiment: feature-conditioned shapes models
# (the class_vs_feature.sh short settings) trained with the feature-consistency term under a
# BCE-trained and under an NGMG-trained classifier (each term using its classifier's own loss),
# beside no term. Per arm, over seeds: the loss curve's stability (spikes, the coefficient of
# variation of the loss and of the gradient norm over the second half) and the judge's defect
# rate and attribute accuracy. Writes OUT/results.md.
#
#   experiments/consistency.sh CLF_DIR [OUT]     (default OUT: runs/consistency)
#
# CLF_DIR holds clf-bce and clf-ngmg (experiments/guidance_scale.sh trains them). env MODES
# (default "none bce ngmg"), SEEDS (1 2 3), STEPS (600), WEIGHT (lambda, default 3), PER
# (samples per combination, 8), THREADS.
# Runs and evaluations that exist are kept.
set -eu
CLF=${1:?usage: $0 CLF_DIR [OUT]}
OUT=${2:-runs/consistency}
MODES=${MODES:-"none bce ngmg"}
SEEDS=${SEEDS:-"1 2 3"}
STEPS=${STEPS:-600}
WEIGHT=${WEIGHT:-3}
PER=${PER:-8}
TH=${THREADS:+--threads $THREADS}
cd "$(dirname "$0")/.."
make build >/dev/null
G=./build/gmmdiff
mkdir -p "$OUT"
for seed in $SEEDS; do
    for mode in $MODES; do
        R="$OUT/$mode-$seed"
        AUX=""
        [ "$mode" = none ] || AUX="--aux-weight $WEIGHT --aux-classifier $CLF/clf-$mode --aux-loss $mode"
        if [ -f "$R/run.json" ]; then
            $G train --resume "$R" --progress none --sample-every 0 $TH
        else
            $G train --data shapes --cond feature --seed "$seed" --steps "$STEPS" --batch 32 \
                --lr 2e-3 --warmup "${WARMUP:-100}" --out "$R" --progress none --sample-every 0 \
                --ckpt-every 200 --log-every 5 $AUX $TH
        fi
        if [ ! "$R/eval-trained.json" -nt "$R/state.safetensors" ]; then
            $G eval --run "$R" --per-class "$PER" --seed 0 --out "$R/eval-trained.json" $TH >/dev/null
        fi
        echo "done $R"
    done
done
PYTHONPATH=experiments python3 - "$OUT" "$SEEDS" "$MODES" "$STEPS" "$WEIGHT" <<'PY'
import json, math, os, statistics, sys
out, seeds, modes, steps, weight = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), sys.argv[4], sys.argv[5]
from stats import ci  # experiments/stats.py
fmt = lambda xs: "%.3f ± %.3f" % ci(xs)
rows, n = [], 0
for mode in modes:
    cols = {k: [] for k in ("spikes", "loss_cv", "gn_cv", "defect", "exact", "shape", "size")}
    for s in seeds:
        R = os.path.join(out, f"{mode}-{s}")
        m = [json.loads(l) for l in open(os.path.join(R, "metrics.jsonl"))]
        loss = [x["loss"] for x in m]
        gn = [x["grad_norm"] for x in m]
        half = len(m) // 2
        cols["spikes"].append(sum(loss[i] > 2 * statistics.median(loss[max(0, i - 10):i])
                                  for i in range(10, len(loss))))
        cols["loss_cv"].append(statistics.pstdev(loss[half:]) / statistics.mean(loss[half:]))
        cols["gn_cv"].append(statistics.pstdev(gn[half:]) / statistics.mean(gn[half:]))
        e = json.load(open(os.path.join(R, "eval-trained.json")))
        n = e["samples"]
        cols["defect"].append(e["defect_rate"])
        cols["exact"].append(e["exact_accuracy"])
        cols["shape"].append(e["attribute_accuracy"]["shape"])
        cols["size"].append(e["attribute_accuracy"]["size"])
    rows.append(f"| {mode} | " + " | ".join(fmt(cols[k]) for k in cols) + " |")
text = (f"Feature-conditioned shapes UNet, {steps} steps, batch 32, lr 2e-3, warmup "
        f"{os.environ.get('WARMUP', '100')}; consistency weight {weight} "
        f"(none: no term); seeds {' '.join(seeds)}; the judge on {n} samples per run (DDIM 50, clipped eps, cfg 2); "
        "loss logged every 5 steps (a mean of 5 steps); mean ± 95% t-interval over seeds.\n\n"
        "| term | loss spikes (> 2x the median of the previous 10 logs) | loss CV, 2nd half | grad-norm CV, 2nd half | defect rate | exact accuracy | shape | size |\n"
        "|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n")
text = text.replace("{n}", str(n))
open(os.path.join(out, "results.md"), "w").write(text)
print(text)
PY
