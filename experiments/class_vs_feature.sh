#!/bin/sh
# class_vs_feature.sh - the GMM issue's experiment: class- versus feature-conditioned UNets on
# the built-in shapes data, same architecture, budget and seeds; the judge's defect rate and
# attribute accuracy on the trained combinations (all) and the 6 held-out ones (feature only,
# since a class model has no row for them). Three arms (env MODES, default all three):
#   class      diffusers' class table, one learned row per combination (sigma 0)
#   class-gmm  one Gaussian component N(mu_class, 0.1^2 I) per combination, through the same
#              identity path as feature (--cond class --cond-sigma 0.1)
#   feature    one component per attribute value, composed (--cond feature, sigma 0.1)
# Writes OUT/results.md (a Markdown table with 95% intervals over seeds) and every run's eval
# JSON.
#
#   experiments/class_vs_feature.sh [short|full] [OUT]     (default: short, runs/class_vs_feature)
#
# short: 600 steps per run (about 2.5 min each on 2 cores), full: 3000 steps. Seeds 1 2 3 (env
# SEEDS, threads per run: env THREADS; env STEPS, PER, PER_HELDOUT override the budget's steps
# and samples per combination). Runs that exist are resumed and evaluations newer than their
# checkpoint kept, so an interrupted experiment continues. Losses are logged every 5 steps (the
# stability figures of consistency.sh read them).
set -eu
BUDGET=${1:-short}
OUT=${2:-runs/class_vs_feature-$BUDGET}
SEEDS=${SEEDS:-"1 2 3"}
MODES=${MODES:-"class class-gmm feature"}
TH=${THREADS:+--threads $THREADS} # env THREADS: threads per run (default all cores)
case "$BUDGET" in
short) N=600 ;;
full) N=3000 ;;
*) echo "usage: $0 [short|full] [OUT]" >&2; exit 2 ;;
esac
STEPS=${STEPS:-$N}             # env overrides of the budget (experiments/run_all.sh sets them)
PER=${PER:-8}                  # samples per trained combination
PER_HELDOUT=${PER_HELDOUT:-40} # samples per held-out combination
cd "$(dirname "$0")/.."
make build >/dev/null
G=./build/gmmdiff
mkdir -p "$OUT"
for seed in $SEEDS; do
    for mode in $MODES; do
        R="$OUT/$mode-$seed"
        case "$mode" in
        class-gmm) COND="--cond class --cond-sigma 0.1" ;;
        *) COND="--cond $mode" ;;
        esac
        if [ -f "$R/run.json" ]; then
            $G train --resume "$R" --progress none --sample-every 0 $TH
        else
            $G train --data shapes $COND --seed "$seed" --steps "$STEPS" --batch 32 \
                --lr 2e-3 --warmup "${WARMUP:-100}" --out "$R" --progress none --sample-every 0 --ckpt-every 200 \
                --log-every 5 $TH
        fi
        # an evaluation newer than the run's checkpoint is kept
        if [ ! "$R/eval-trained.json" -nt "$R/state.safetensors" ]; then
            $G eval --run "$R" --per-class "$PER" --seed 0 --out "$R/eval-trained.json" \
                --grid "$R/eval-trained.png" $TH >/dev/null
        fi
        if [ "$mode" = feature ] && [ ! "$R/eval-heldout.json" -nt "$R/state.safetensors" ]; then
            $G eval --run "$R" --heldout --per-class "$PER_HELDOUT" --seed 0 --out "$R/eval-heldout.json" $TH >/dev/null
        fi
        echo "done $R"
    done
done
PYTHONPATH=experiments python3 - "$OUT" "$SEEDS" "$STEPS" "$MODES" <<'PY'
import json, math, os, sys
out, seeds, steps, modes = sys.argv[1], sys.argv[2].split(), sys.argv[3], sys.argv[4].split()
from stats import ci  # experiments/stats.py
rows = []
arms = [(m, "trained") for m in modes] + [("feature", "heldout")] * ("feature" in modes)
for mode, which in arms:
    evs = [json.load(open(os.path.join(out, f"{mode}-{s}", f"eval-{which}.json"))) for s in seeds]
    cols = [("defect_rate", lambda e: e["defect_rate"]), ("exact", lambda e: e["exact_accuracy"])]
    cols += [(a, (lambda a: lambda e: e["attribute_accuracy"][a])(a)) for a in ("shape", "size", "position", "intensity")]
    cells = []
    for name, get in cols:
        m, h = ci([get(e) for e in evs])
        cells.append(f"{m:.3f} ± {h:.3f}")
    rows.append((mode, which, evs[0]["samples"], cells))
with open(os.path.join(out, "results.md"), "w") as f:
    f.write(f"Seeds {' '.join(seeds)}; {steps} steps, batch 32, lr 2e-3, warmup {os.environ.get('WARMUP', '100')}; DDIM 50 (clipped eps), "
            "cfg 2; mean ± 95% t-interval over seeds.\n\n")
    f.write("| model | combinations | samples per seed | defect rate | exact accuracy | shape | size | position | intensity |\n")
    f.write("|---|---|---|---|---|---|---|---|---|\n")
    for mode, which, n, cells in rows:
        f.write(f"| {mode} | {which} | {n} | " + " | ".join(cells) + " |\n")
print(open(os.path.join(out, "results.md")).read())
PY
