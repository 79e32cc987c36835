#!/bin/sh
# fashion.sh - the GMM issue's Fashion-MNIST arm: a label classifier trained here on the real
# training images scores class-conditional samples (conditional accuracy, FD and k-NN
# precision/recall in its feature space, beside two disjoint real sets of the same size), and a
# feature-conditioned model (label plus ink, mean intensity, width and height through 1-D GMMs)
# is asked for each component of each continuous feature (controllability error, beside no
# control and real data). Arms (env MODES): feature, and class (diffusers' class table).
# Writes OUT/results.md.
#
#   experiments/fashion.sh [short|full] [OUT]     (default: short, runs/fashion-BUDGET)
#
# short: the feature arm, seed 1, 200 steps; 4 samples per component, a pool of 16, 10 scored
#        samples per class; the classifier 500 steps.
# full:  both arms, seeds 1 2 3, 3000 steps; 16 per component, a pool of 64, 100 per class; the
#        classifier 1500 steps.
# env MODES, SEEDS, STEPS, PER, POOL, SCORE_PER, CLF_STEPS override the budget's; THREADS: threads
# per process. Needs Debian's dataset-fashion-mnist. Runs and evaluations that exist are kept.
set -eu
BUDGET=${1:-short}
OUT=${2:-runs/fashion-$BUDGET}
case "$BUDGET" in
short) M="feature"; S="1"; N=200; P=4; Q=16; SP=10; CN=500 ;;
full) M="class feature"; S="1 2 3"; N=3000; P=16; Q=64; SP=100; CN=1500 ;;
*) echo "usage: $0 [short|full] [OUT]" >&2; exit 2 ;;
esac
MODES=${MODES:-$M}; SEEDS=${SEEDS:-$S}; STEPS=${STEPS:-$N}; PER=${PER:-$P}; POOL=${POOL:-$Q}
SCORE_PER=${SCORE_PER:-$SP}; CLF_STEPS=${CLF_STEPS:-$CN}
TH=${THREADS:+--threads $THREADS}
cd "$(dirname "$0")/.."
make build >/dev/null
G=./build/gmmdiff
mkdir -p "$OUT"
C="$OUT/clf"
if [ ! -f "$C/classifier.safetensors" ]; then
    $G classifier train --data fashion-mnist --steps "$CLF_STEPS" --batch 64 --seed 1 --out "$C" \
        $TH | tail -1 | tee "$OUT/clf.txt"
fi
for seed in $SEEDS; do
    for mode in $MODES; do
        R="$OUT/$mode-$seed"
        if [ -f "$R/run.json" ]; then
            $G train --resume "$R" --progress none --sample-every 0 $TH
        else
            $G train --data fashion-mnist --cond "$mode" --seed "$seed" --steps "$STEPS" --batch 32 \
                --lr 2e-3 --warmup "${WARMUP:-100}" --out "$R" --progress none --sample-every 0 \
                --ckpt-every 200 --log-every 5 $TH
        fi
        if [ ! "$R/eval.json" -nt "$R/state.safetensors" ]; then
            CTL=""
            [ "$mode" = feature ] && CTL="--per-class $PER --pool $POOL"
            $G eval --run "$R" $CTL --score-classifier "$C" --score-per-class "$SCORE_PER" \
                --seed 0 --grid "$R/eval.png" --out "$R/eval.json" $TH >/dev/null
        fi
        echo "done $R"
    done
done
PYTHONPATH=experiments python3 - "$OUT" "$SEEDS" "$STEPS" "$MODES" <<'PY'
import json, os, sys
from stats import cell
out, seeds, steps, modes = sys.argv[1], sys.argv[2].split(), sys.argv[3], sys.argv[4].split()
clf = open(os.path.join(out, "clf.txt")).read().strip() if os.path.exists(os.path.join(out, "clf.txt")) else ""
evs = {m: [json.load(open(os.path.join(out, f"{m}-{s}", "eval.json"))) for s in seeds] for m in modes}
first = evs[modes[0]][0]["scored"]
lines = [f"Seeds {' '.join(seeds)}; Fashion-MNIST 28x28, {steps} steps, batch 32, lr 2e-3, warmup "
         f"{os.environ.get('WARMUP', '100')}; DDIM 50 "
         "(clipped eps), cfg 2, sampling seed 0; mean ± 95% t-interval over seeds.\n",
         f"Scored by a label classifier trained on the real training images ({clf}): "
         f"{first['samples']} samples per seed ({first['samples'] // first['classes']} per class) "
         f"against as many real test images; `FD real` is two disjoint real sets of that size.\n",
         "| model | label accuracy | FD | FD real | precision | recall | precision real | recall real |",
         "|---|---|---|---|---|---|---|---|"]
for m in modes:
    sc = [e["scored"] for e in evs[m]]
    lines.append(f"| {m} | " + " | ".join(cell([x[k] for x in sc]) if not k.startswith("label") else
                                         cell([x["accuracy"]["label"] for x in sc])
                                         for k in ("label", "fd", "fd_real", "precision", "recall",
                                                   "precision_real", "recall_real")) + " |")
if "feature" in modes:
    fe = evs["feature"]
    lines += ["", f"Controllability of the feature model ({fe[0]['per_target']} samples per component, "
              f"a pool of {fe[0]['pool']} uncontrolled): the error |f(x) - target| / sd, "
              "asked for a component, not asked, and of real test images against their own "
              "component (the floor).\n",
              "| feature | asked | not asked | real floor | real, any component |", "|---|---|---|---|---|"]
    for a in list(fe[0]["controllability"]) + ["(mean)"]:
        get = (lambda e, k: e["controllability"][a][k]) if a != "(mean)" else \
              (lambda e, k: e["controllability_" + k] if k != "error" else e["controllability_error"])
        lines.append(f"| {a} | " + " | ".join(cell([get(e, k) for e in fe]) for k in
                     ("error", "error_uncontrolled", "error_real", "error_real_uncontrolled")) + " |")
open(os.path.join(out, "results.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
