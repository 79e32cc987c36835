#!/bin/sh
# run.sh - builds the libFuzzer harnesses (build-fuzz: clang, AddressSanitizer + UBSan, leak
# checking on) and runs each for FUZZ_SECONDS on a copy of its seeds, so the repository is never
# written; fails on any finding (crash, leak, UBSan report, timeout, out-of-memory).
#
# Usage: tests/fuzz/run.sh [name ...]      (names as in tests/fuzz/fuzz_<name>.c; default: all)
# Environment:
#   FUZZ_SECONDS  seconds per harness (default 10)
#   FUZZ_JOBS     harnesses run at once (default 1)
#   FUZZ_RSS_MB   memory limit of one harness, also the largest single allocation (default 2048)
#   FUZZ_TIMEOUT  seconds one input may take before it is a finding (default 10)
#   FUZZ_OUT      where the corpora, logs and findings go (default: a temporary folder, removed
#                 when nothing was found)
# Prints one line per harness: executions and the result; on a finding, its log and reproducer.
set -eu
cd "$(dirname "$0")/../.."

# one harness (run by the loop below through xargs, so FUZZ_JOBS can run several at once)
if [ "${1:-}" = "--one" ]; then
    h=$2
    d=$FUZZ_OUT/$h
    rm -rf "$d"
    mkdir -p "$d/corpus" "$d/findings" "$d/tmp"
    cp tests/fuzz/seeds/"$h"/* "$d/corpus/"
    dict=""
    case $h in
    config | gmm | condition | state | safetensors) dict="-dict=tests/fuzz/json.dict" ;;
    esac
    rc=0
    # stdin from /dev/null: no input can make a parser wait on the terminal; TMPDIR: the
    # harness's own folder goes under this run's, so even a crash (which skips its clean-up)
    # leaves nothing behind once the run is removed
    TMPDIR=$d/tmp ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ./build-fuzz/fuzz_"$h" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb="$FUZZ_RSS_MB" \
        -timeout="$FUZZ_TIMEOUT" -print_final_stats=1 -artifact_prefix="$d/findings/" $dict \
        "$d/corpus" </dev/null >"$d/log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$d/log")
    found=$(ls "$d/findings")
    if [ "$rc" -eq 0 ] && [ -z "$found" ]; then
        echo "fuzz_$h: ${execs:-?} executions in ${FUZZ_SECONDS} s, nothing found"
        exit 0
    fi
    echo "fuzz_$h: FINDING (exit $rc) after ${execs:-?} executions; log $d/log"
    grep -E 'ERROR|SUMMARY|runtime error|#[0-9]+ .* in (gd_|LLVMFuzzer)' "$d/log" | head -20
    for f in $found; do
        echo "  reproduce: GD_FUZZ_VERBOSE=1 ./build-fuzz/fuzz_$h $d/findings/$f"
    done
    exit 1
fi

FUZZ_SECONDS=${FUZZ_SECONDS:-10}
FUZZ_JOBS=${FUZZ_JOBS:-1}
FUZZ_RSS_MB=${FUZZ_RSS_MB:-2048}
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-10}
keep=1
if [ -z "${FUZZ_OUT:-}" ]; then
    FUZZ_OUT=$(mktemp -d "${TMPDIR:-/tmp}/gd_fuzz_run_XXXXXX")
    keep=0
fi
export FUZZ_SECONDS FUZZ_RSS_MB FUZZ_TIMEOUT FUZZ_OUT

# libFuzzer comes with clang (its runtime is libclang-rt-dev), OpenMP under clang with libomp
sh tools/install-deps.sh clang libclang-rt-dev libomp-dev
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGD_FUZZ=ON -DGD_SANITIZE=ON \
    -DGD_NATIVE=OFF >/dev/null
cmake --build build-fuzz --target fuzz_all -j"${JOBS:-$(nproc)}" >/dev/null

names="$*"
if [ -z "$names" ]; then
    for f in tests/fuzz/fuzz_*.c; do
        n=${f#tests/fuzz/fuzz_}
        names="$names ${n%.c}"
    done
fi
status=0
printf '%s\n' $names | xargs -P "$FUZZ_JOBS" -I{} sh "$0" --one {} || status=1
if [ "$status" -eq 0 ] && [ "$keep" -eq 0 ]; then
    rm -rf "$FUZZ_OUT"
elif [ "$status" -ne 0 ]; then
    echo "fuzz: findings kept in $FUZZ_OUT" >&2
fi
exit $status
