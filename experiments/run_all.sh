#!/bin/sh
# run_all.sh - every experiment of the GMM and NGMG issues in one command, then one page that
# compares them (gmmdiff report). Runs two experiments at a time, one thread each.
#
#   experiments/run_all.sh [short|full] [OUT]     (default: short, runs/all-BUDGET)
#
#   OUT/class_vs_feature  class table, class components and features on shapes (+ held-out)
#   OUT/cluster           clusters of a PCA embedding, labels unused
#   OUT/fashion           Fashion-MNIST: classifier-scored samples, controllability
#   OUT/ngmg_vs_bce       classifier training stability over a learning-rate sweep
#   OUT/guidance_scale    classifier guidance by a BCE and an NGMG classifier
#   OUT/consistency       the feature-consistency term (its "none" arm is class_vs_feature's
#                         feature runs: the same flags)
#   OUT/results.md        every experiment's table; OUT/report/report.html (and report.md;
#                         report.png, a headless Chromium screenshot, when chromium is there)
#
# short: a reduced budget that finishes in under 30 minutes on 2 cores (docs/RESULTS.md gives
# the measured time): shapes models 200 steps with a 20-step warmup, seeds 1 2 3 wherever seeds
# are compared, few samples per combination. full: each script's full budget (hours). Work that exists is kept,
# so an interrupted run continues where it stopped.
set -eu
BUDGET=${1:-short}
OUT=${2:-runs/all-$BUDGET}
case "$BUDGET" in
short) DM=200; W=20; PER=2; HELD=8; GPER=1; CLF=500; SB="0 1 3"; SN="1 10 100" ;;
full) DM=3000; W=100; PER=8; HELD=40; GPER=4; CLF=1500; SB="0 1 3 10"; SN="0 1 3 10 30 100" ;;
*) echo "usage: $0 [short|full] [OUT]" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.."
make build >/dev/null
G=./build/gmmdiff
E=experiments
mkdir -p "$OUT"
start=$(date +%s)
export THREADS=1 WARMUP=$W
log() { echo "[$(($(date +%s) - start)) s] $*"; }
# one lane: its commands in order, output to OUT/NAME.log; a failure stops the whole run
lane() {
    name=$1
    shift
    if ! sh -c "$*" >"$OUT/$name.log" 2>&1; then
        echo "run_all: lane $name failed; see $OUT/$name.log" >&2
        tail -5 "$OUT/$name.log" >&2
        return 1
    fi
}
cvf() { echo "STEPS=$DM PER=$PER PER_HELDOUT=$HELD $1 $E/class_vs_feature.sh $BUDGET $OUT/class_vs_feature"; }

log "stage 1: class_vs_feature, cluster, guidance classifiers | ngmg_vs_bce, fashion"
lane a1 "$(cvf 'MODES="class class-gmm"') && $E/cluster.sh $BUDGET $OUT/cluster &&
    CLF_STEPS=$CLF $E/guidance_scale.sh - $OUT/guidance_scale" &
pa=$!
lane b1 "$(cvf MODES=feature) && JOBS=1 $E/ngmg_vs_bce.sh $BUDGET $OUT/ngmg_vs_bce &&
    $E/fashion.sh $BUDGET $OUT/fashion" &
pb=$!
wait $pa && wait $pb

log "stage 2: guidance scales, consistency seed 1, seed 3 bce | consistency seed 2, seed 3 ngmg"
mkdir -p "$OUT/consistency"
for s in 1 2 3; do # the "none" arm: class_vs_feature's feature run of that seed
    [ -e "$OUT/consistency/none-$s" ] || ln -s "../class_vs_feature/feature-$s" "$OUT/consistency/none-$s"
done
CONS="STEPS=$DM PER=$PER MODES='bce ngmg' $E/consistency.sh $OUT/guidance_scale $OUT/consistency"
CONS1=$(echo "$CONS" | sed "s/MODES='bce ngmg'/MODES=bce/")
CONS2=$(echo "$CONS" | sed "s/MODES='bce ngmg'/MODES=ngmg/")
lane a2 "PER=$GPER SCALES_BCE='$SB' SCALES_NGMG='$SN' CLF_STEPS=$CLF \
    $E/guidance_scale.sh $OUT/class_vs_feature/class-gmm-1 $OUT/guidance_scale &&
    SEEDS=1 $CONS && SEEDS=3 $CONS1" &
pa=$!
lane b2 "SEEDS=2 $CONS && SEEDS=3 $CONS2" &
pb=$!
wait $pa && wait $pb

log "stage 3: tables over every seed, the report"
lane c "$(cvf '') && STEPS=$DM PER=$PER $E/consistency.sh $OUT/guidance_scale $OUT/consistency"
{
    echo "# run_all.sh $BUDGET"
    for x in class_vs_feature cluster fashion ngmg_vs_bce guidance_scale consistency; do
        printf '\n## %s\n\n' "$x"
        cat "$OUT/$x/results.md"
    done
} >"$OUT/results.md"
$G report "$OUT/class_vs_feature" "$OUT/cluster" "$OUT/fashion" "$OUT/consistency" \
    --title "gmmdiff experiments ($BUDGET budget)" --out "$OUT/report" >/dev/null
# a picture of the page (docs/REPORTS.md), when Debian's chromium is there
if command -v chromium >/dev/null; then
    case "$OUT" in /*) page=$OUT ;; *) page=$(pwd)/$OUT ;; esac
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,1900 \
        --screenshot="$OUT/report/report.png" "file://$page/report/report.html" \
        >/dev/null 2>&1 || echo "run_all: chromium could not take the screenshot" >&2
fi
log "done: $OUT/results.md, $OUT/report/report.html"
