#!/bin/sh
# test_cli.sh - the command line: help for every command, bad flags and bad files rejected with
# a message and a non-zero exit, and `gmmdiff forward` on a fixture model.
# Usage: test_cli.sh GMMDIFF FIXTURES
set -u
G=$1
FX=$2
. "$(dirname "$0")/testlib.sh"

expect 0 "usage: gmmdiff" "help" -- "$G" help
expect 2 "unknown command" "unknown command" -- "$G" frobnicate
expect 2 "usage" "no command" -- "$G"
for c in bench init forward sample train demo classifier gmm ngmg; do
    expect 0 "usage: gmmdiff $c" "$c --help" -- "$G" $c --help
done
expect 2 "unknown subcommand 'fit'" "classifier bad subcommand" -- "$G" classifier fit
expect 2 "unknown or incomplete flag '--bogus'" "classifier train bad flag" -- \
    "$G" classifier train --out "$T/c" --bogus
expect 2 "--out DIR is required" "classifier train without --out" -- "$G" classifier train
expect 2 "'hinge' is not bce or ngmg" "classifier train bad --loss" -- "$G" classifier train \
    --out "$T/c" --loss hinge
expect 2 "--ngmg-max 1 is below --ngmg-min 2" "classifier train bad NGMG ladder" -- \
    "$G" classifier train --out "$T/c" --loss ngmg --ngmg-min 2 --ngmg-max 1
expect 0 "^4.00,0.355" "ngmg lines table" -- "$G" ngmg lines
expect 0 "" "ngmg lines svg" -- "$G" ngmg lines --svg "$T/l.svg"
grep -q "<polyline" "$T/l.svg" && ok || bad "ngmg lines draws an SVG"
expect 2 "unknown subcommand 'circles'" "ngmg bad subcommand" -- "$G" ngmg circles
expect 2 "not an integer" "classifier train bad steps" -- "$G" classifier train --out "$T/c" --steps x
expect 2 "'val' is not train or test" "classifier eval bad split" -- \
    "$G" classifier eval --model "$T/c" --split val
expect 1 "config.json" "classifier eval missing model" -- "$G" classifier eval --model "$T/none"
expect 2 "no data flags" "classifier eval --run with data flags" -- \
    "$G" classifier eval --model "$T/c" --run "$T/r" --data shapes
expect 1 "is not shapes, fashion-mnist" "classifier train unknown data" -- \
    "$G" classifier train --out "$T/c" --data nowhere
expect 2 "give one or more RUN" "report without runs" -- "$G" report
expect 2 "unknown or incomplete flag '--bogus'" "forward bad flag" -- "$G" forward --bogus
expect 2 "required" "forward missing flags" -- "$G" forward --model "$FX/unet/plain"
expect 2 "'-3' is not a non-negative number" "forward bad t" -- \
    "$G" forward --model "$FX/unet/plain" --in x --t -3 --out y
expect 2 "not an integer" "bench bad batch" -- "$G" bench conv --batch ten

python_free_npy() { # writes a [n, c, h, w] float32 .npy of zeros+ramp without Python
    printf '\223NUMPY\001\000v\000' > "$1"
    h="{'descr': '<f4', 'fortran_order': False, 'shape': ($2, $3, $4, $5), }"
    printf '%s' "$h" >> "$1"
    pad=$((118 - ${#h} - 1))
    printf "%${pad}s\n" "" >> "$1"
    head -c $(($2 * $3 * $4 * $5 * 4)) /dev/zero >> "$1"
}
python_free_npy "$T/x.npy" 2 1 8 8
expect 0 "" "forward on the plain model" -- \
    "$G" forward --model "$FX/unet/plain" --in "$T/x.npy" --t 10 --out "$T/y.npy"
[ -s "$T/y.npy" ] && ok || bad "forward wrote y.npy"
expect 2 "has no class embedding" "forward --class on an unconditional model" -- \
    "$G" forward --model "$FX/unet/plain" --in "$T/x.npy" --t 10 --class 1 --out "$T/y2.npy"
python_free_npy "$T/x3.npy" 2 3 8 8
expect 2 "is class-conditioned" "forward without class on a class model" -- \
    "$G" forward --model "$FX/unet/attn_class" --in "$T/x3.npy" --t 10 --out "$T/y2.npy"
expect 2 "not an integer in \[0, 5)" "forward class out of range" -- \
    "$G" forward --model "$FX/unet/attn_class" --in "$T/x3.npy" --t 10 --class 9 --out "$T/y2.npy"
expect 0 "" "forward with a class" -- \
    "$G" forward --model "$FX/unet/attn_class" --in "$T/x3.npy" --t 10 --class 4 --out "$T/y3.npy"
expect 1 "expected \[N, 3, H, W\]" "forward wrong channels" -- \
    "$G" forward --model "$FX/unet/attn_class" --in "$T/x.npy" --t 10 --class 1 --out "$T/y2.npy"
head -c 100 "$T/x.npy" > "$T/trunc.npy"
expect 1 "trunc.npy: truncated" "forward truncated input" -- \
    "$G" forward --model "$FX/unet/plain" --in "$T/trunc.npy" --t 10 --out "$T/y2.npy"
[ ! -e "$T/y2.npy" ] && ok || bad "no output written after failures"
expect 1 "cannot open" "forward missing model" -- \
    "$G" forward --model "$T/nope" --in "$T/x.npy" --t 10 --out "$T/y2.npy"
cp "$FX/unet/plain/config.json" "$T/cfg.json"
expect 0 "wrote" "init" -- "$G" init --config "$T/cfg.json" --seed 5 --out "$T/m"
expect 0 "" "forward on an init model" -- \
    "$G" forward --model "$T/m" --in "$T/x.npy" --t 10 --out "$T/y4.npy"

# sample: a PNG grid; the same seed gives the same bytes, another seed other bytes
expect 0 "wrote" "sample ddim" -- "$G" sample --model "$FX/unet/plain" --n 4 --steps 5 --seed 3 \
    --out "$T/a.png" --npy "$T/a.npy"
expect 0 "wrote" "sample ddim again" -- "$G" sample --model "$FX/unet/plain" --n 4 --steps 5 \
    --seed 3 --out "$T/b.png"
cmp -s "$T/a.png" "$T/b.png" && ok || bad "same seed, same PNG bytes"
expect 0 "wrote" "sample other seed" -- "$G" sample --model "$FX/unet/plain" --n 4 --steps 5 \
    --seed 4 --out "$T/c.png"
cmp -s "$T/a.png" "$T/c.png" && bad "another seed, other bytes" || ok
[ "$(head -c 8 "$T/a.png" | od -An -tx1 | tr -d ' ')" = "89504e470d0a1a0a" ] && ok || bad "PNG signature"
[ -s "$T/a.npy" ] && ok || bad "sample --npy wrote the samples"
for s in ddpm dpm++2m; do
    expect 0 "wrote" "sample $s" -- "$G" sample --model "$FX/unet/plain" --n 2 --steps 4 \
        --sampler $s --out "$T/$s.png"
done
expect 0 "wrote" "sample class model with cfg" -- "$G" sample --model "$FX/unet/attn_class" \
    --n 2 --steps 3 --class 2 --cfg 3 --out "$T/cfg.png"
expect 2 "is not ddpm, ddim or dpm++2m" "sample bad sampler" -- \
    "$G" sample --model "$FX/unet/plain" --sampler euler --out "$T/x.png"
expect 2 "has no class embedding" "sample --class on an unconditional model" -- \
    "$G" sample --model "$FX/unet/plain" --class 1 --out "$T/x.png"
expect 2 "class labels must be integers" "sample class out of range" -- \
    "$G" sample --model "$FX/unet/attn_class" --class 7 --out "$T/x.png"
expect 2 "for ddim only" "sample eta with ddpm" -- \
    "$G" sample --model "$FX/unet/plain" --sampler ddpm --eta 0.5 --out "$T/x.png"
expect 1 "cannot open" "sample missing model" -- "$G" sample --model "$T/nope" --out "$T/x.png"
[ ! -e "$T/x.png" ] && ok || bad "no grid written after failures"
report test_cli
