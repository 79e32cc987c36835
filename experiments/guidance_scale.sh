#!/bin/sh
# guidance_scale.sh - the NGMG issue's guidance table: the judge's scores of a shapes model's
# samples as the classifier-guidance scale grows, with a time-conditioned classifier trained by
# BCE and one trained by NGMG (same data, steps and seed). Writes OUT/results.md and every
# evaluation's JSON.
#
#   experiments/guidance_scale.sh RUN [OUT]       (default OUT: runs/guidance_scale)
#
# RUN is a class- or feature-conditioned shapes run (e.g. one of class_vs_feature.sh's); RUN
# "-" trains the two classifiers and stops (experiments/consistency.sh uses them too).
# env SCALES (default "0 1 3 10"; SCALES_BCE and SCALES_NGMG set one loss's own), PER
# (samples per combination, default 4), CLF_STEPS (1500), THREADS (threads per process).
# Classifiers and evaluations that exist are kept.
set -eu
RUN=${1:?usage: $0 RUN [OUT]}
OUT=${2:-runs/guidance_scale}
SCALES=${SCALES:-"0 1 3 10"}
SCALES_BCE=${SCALES_BCE:-$SCALES}
SCALES_NGMG=${SCALES_NGMG:-$SCALES}
PER=${PER:-4}
CLF_STEPS=${CLF_STEPS:-1500}
TH=${THREADS:+--threads $THREADS}
cd "$(dirname "$0")/.."
make build >/dev/null
G=./build/gmmdiff
mkdir -p "$OUT"
for loss in bce ngmg; do
    C="$OUT/clf-$loss"
    if [ ! -f "$C/classifier.safetensors" ]; then
        $G classifier train --data shapes --noisy --loss "$loss" --steps "$CLF_STEPS" --batch 64 \
            --seed 1 --out "$C" $TH | tail -1
    fi
    [ "$RUN" = - ] && continue
    if [ "$loss" = bce ]; then SC=$SCALES_BCE; else SC=$SCALES_NGMG; fi
    for s in $SC; do
        E="$OUT/eval-$loss-$s.json"
        [ -s "$E" ] || $G eval --run "$RUN" --per-class "$PER" --seed 0 --classifier "$C" \
            --classifier-scale "$s" --out "$E" $TH >/dev/null
        echo "done $E"
    done
done
[ "$RUN" = - ] && exit 0
python3 - "$OUT" "$RUN" "$SCALES_BCE" "$SCALES_NGMG" <<'PY'
import json, os, sys
out, run = sys.argv[1], sys.argv[2]
scales = {"bce": sys.argv[3].split(), "ngmg": sys.argv[4].split()}
lines = [f"Run `{run}`; the judge on {{n}} samples (every trained combination), DDIM 50 (clipped eps), "
         "cfg 2, seed 0; classifiers trained on noisy x_t (`--noisy`), one seed each.\n",
         "| classifier | scale | defect rate | exact accuracy | shape | size | position | intensity |",
         "|---|---|---|---|---|---|---|---|"]
n = None
for loss in ("bce", "ngmg"):
    for s in scales[loss]:
        e = json.load(open(os.path.join(out, f"eval-{loss}-{s}.json")))
        n = e["samples"]
        a = e["attribute_accuracy"]
        lines.append(f"| {loss} | {s} | {e['defect_rate']:.3f} | {e['exact_accuracy']:.3f} | "
                     f"{a['shape']:.3f} | {a['size']:.3f} | {a['position']:.3f} | {a['intensity']:.3f} |")
lines[0] = lines[0].replace("{n}", str(n))
open(os.path.join(out, "results.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
