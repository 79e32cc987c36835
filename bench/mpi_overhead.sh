#!/bin/sh
# mpi_overhead.sh - what data parallelism costs on this machine: the same global batch trained
# by 1 process with 1 thread, 1 process with 2 threads, and 2 MPI ranks of 1 thread each (half
# the batch each), run alternately ROUNDS times; prints the median seconds per step of each, and
# for the 2 ranks the time per step spent waiting for the slower rank and in the sum itself
# (GMMDIFF_MPI_TIMING, tools/mpi_run.c).
# Usage: bench/mpi_overhead.sh [build-dir]   (env: ROUNDS 3, STEPS 30, BATCH 64 global, DATA shapes,
#        SIZE 16 image side)
set -eu
BUILD=${1:-build}
ROUNDS=${ROUNDS:-3}
STEPS=${STEPS:-30}
BATCH=${BATCH:-64}
DATA=${DATA:-shapes}
SIZE=${SIZE:-16}
G="$BUILD/gmmdiff"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
F="--data $DATA --image-size $SIZE --cond class --steps $STEPS --progress none --sample-every 0 \
--ckpt-every 100000 --log-every 100000"
sps() { # seconds per step from the closing line "trained DIR to step N (X s)"
    sed -n 's/.*to step \([0-9]*\) (\([0-9.]*\) s).*/\2 \1/p' "$1" | awk '{ printf "%.4f\n", $1 / $2 }'
}
i=1
while [ "$i" -le "$ROUNDS" ]; do
    "$G" train --out "$out/a$i" --batch "$BATCH" --threads 1 $F >"$out/a$i.txt"
    "$G" train --out "$out/b$i" --batch "$BATCH" --threads 2 $F >"$out/b$i.txt"
    GMMDIFF_MPI_TIMING=1 mpirun --oversubscribe -np 2 "$G" train --out "$out/c$i" \
        --batch $((BATCH / 2)) --threads 1 $F >"$out/c$i.txt" 2>"$out/c$i.err"
    sps "$out/a$i.txt" >>"$out/a"
    sps "$out/b$i.txt" >>"$out/b"
    sps "$out/c$i.txt" >>"$out/c"
    sed -n 's/.*, \([0-9.]*\) ms per step waiting.*, \([0-9.]*\) ms per step summing \([0-9]*\) floats/\1 \2 \3/p' \
        "$out/c$i.err" >>"$out/sum"
    i=$((i + 1))
done
med() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
a=$(med <"$out/a"); b=$(med <"$out/b"); c=$(med <"$out/c")
w=$(cut -d' ' -f1 "$out/sum" | med); s=$(cut -d' ' -f2 "$out/sum" | med); n=$(head -1 "$out/sum" | cut -d' ' -f3)
echo "global batch $BATCH, $DATA ${SIZE}x$SIZE, $STEPS steps, median of $ROUNDS rounds (seconds per step):"
echo "  1 process, 1 thread:    $a"
echo "  1 process, 2 threads:   $b"
echo "  2 ranks, 1 thread each: $c   (per step: ${w} ms waiting for the slower rank, ${s} ms in the sum of $n floats)"
awk -v a="$a" -v b="$b" -v c="$c" -v s="$s" 'BEGIN {
    printf "speed-up of 2 ranks over 1 thread %.2fx, over 2 threads %.2fx; the sum is %.1f%% of a 2-rank step\n",
        a / c, b / c, 100 * s / 1000 / c }'
