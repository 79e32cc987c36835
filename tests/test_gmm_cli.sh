#!/bin/sh
# test_gmm_cli.sh - `gmmdiff gmm`: help, bad flags and values, bad CSV files named with their
# line and problem, corrupt models, and a fit / score / predict / sample round trip.
# Usage: test_gmm_cli.sh GMMDIFF
set -u
G=$1
. "$(dirname "$0")/testlib.sh"

# two clusters in 2-D, 300 points (a fixed linear congruential generator, no awk rand)
awk 'BEGIN { s = 12345
  for (i = 0; i < 300; i++) {
    for (j = 0; j < 4; j++) { s = (s * 1103515245 + 12345) % 2147483648; u[j] = s / 2147483648 }
    c = i % 3 == 0 ? 6 : 0
    printf "%.6f, %.6f\n", c + u[0] + u[1] - 1, c + u[2] + u[3] - 1 } }' > "$T/x.csv"

expect 0 "usage: gmmdiff gmm" "gmm --help" -- "$G" gmm --help
expect 0 "--reg-covar" "gmm fit --help lists flags" -- "$G" gmm fit --help
expect 2 "usage: gmmdiff gmm" "gmm without a command" -- "$G" gmm
expect 2 "unknown command 'frob'" "gmm unknown command" -- "$G" gmm frob
expect 0 "gmm " "top-level help lists gmm" -- "$G" help
"$G" help | grep -q "not yet available:.*gmm" && bad "gmm still listed as not available" || ok
expect 2 "unknown or incomplete flag '--bogus'" "unknown flag" -- \
    "$G" gmm fit --in "$T/x.csv" --k 2 --out "$T/m.json" --bogus
expect 2 "unknown or incomplete flag '--proba'" "flag of another command" -- \
    "$G" gmm fit --in "$T/x.csv" --k 2 --out "$T/m.json" --proba
expect 2 "not an integer" "bad --k" -- "$G" gmm fit --in "$T/x.csv" --k two --out "$T/m.json"
expect 2 "not an integer" "--k 0" -- "$G" gmm fit --in "$T/x.csv" --k 0 --out "$T/m.json"
expect 2 "not a number" "bad --tol" -- "$G" gmm fit --in "$T/x.csv" --k 2 --tol -1 --out "$T/m.json"
expect 2 "not full, tied, diag or spherical" "bad --cov" -- \
    "$G" gmm fit --in "$T/x.csv" --k 2 --cov round --out "$T/m.json"
expect 2 "not kmeans++, random or random_from_data" "bad --init" -- \
    "$G" gmm fit --in "$T/x.csv" --k 2 --init best --out "$T/m.json"
expect 2 "required" "fit without --out" -- "$G" gmm fit --in "$T/x.csv" --k 2
expect 2 "required" "sample without --n" -- "$G" gmm sample --model "$T/m.json" --out "$T/s.csv"

# bad CSV files: exit 1, the file, the line and the problem
printf '1, 2\n3, 4\n5\n' > "$T/ragged.csv"
expect 1 "ragged.csv: line 3 has 1 field, expected 2" "ragged CSV" -- \
    "$G" gmm fit --in "$T/ragged.csv" --k 1 --out "$T/r.json"
printf '1,2\n3,abc\n' > "$T/word.csv"
expect 1 "word.csv: line 2, field 2: 'abc' is not a number" "non-number in CSV" -- \
    "$G" gmm fit --in "$T/word.csv" --k 1 --out "$T/r.json"
printf 'x,y\n1,2\n' > "$T/header.csv"
expect 1 "header.csv: line 1, field 1: 'x' is not a number" "header row" -- \
    "$G" gmm fit --in "$T/header.csv" --k 1 --out "$T/r.json"
printf '1,2\n3,NaN\n' > "$T/nan.csv"
expect 1 "nan.csv: line 2, field 2: 'NaN' is not a finite number" "NaN in CSV" -- \
    "$G" gmm fit --in "$T/nan.csv" --k 1 --out "$T/r.json"
printf '1,2\n\n3,inf\n' > "$T/inf.csv"
expect 1 "inf.csv: line 3, field 2: 'inf' is not a finite number" "Inf in CSV (blank line skipped)" -- \
    "$G" gmm fit --in "$T/inf.csv" --k 1 --out "$T/r.json"
printf '1,,2\n' > "$T/hole.csv"
expect 1 "hole.csv: line 1, field 2 is empty" "empty field" -- \
    "$G" gmm fit --in "$T/hole.csv" --k 1 --out "$T/r.json"
: > "$T/empty.csv"
expect 1 "empty.csv: empty" "empty CSV" -- "$G" gmm fit --in "$T/empty.csv" --k 1 --out "$T/r.json"
expect 1 "missing.csv: cannot open" "missing CSV" -- \
    "$G" gmm fit --in "$T/missing.csv" --k 1 --out "$T/r.json"
printf '1,1\n1,1\n1,1\n' > "$T/same.csv"
expect 1 "identical" "identical points" -- "$G" gmm fit --in "$T/same.csv" --k 1 --out "$T/r.json"
expect 1 "at least" "n < k" -- "$G" gmm fit --in "$T/same.csv" --k 5 --out "$T/r.json"
[ ! -e "$T/r.json" ] && ok || bad "no model written after failures"

# the round trip
expect 0 "converged yes" "fit" -- "$G" gmm fit --in "$T/x.csv" --k 2 --seed 1 --out "$T/m.json"
expect 0 "average log-likelihood" "fit prints the log-likelihood" -- \
    "$G" gmm fit --in "$T/x.csv" --k 2 --cov diag --n-init 2 --tol 1e-6 --max-iter 200 \
    --reg-covar 1e-5 --init random_from_data --seed 3 --out "$T/d.json"
grep -q '"format": "gmmdiff-gmm"' "$T/m.json" && ok || bad "model JSON has its format key"
fit_ll=$("$G" gmm fit --in "$T/x.csv" --k 2 --seed 1 --out "$T/m2.json" |
    sed -n 's/.*average log-likelihood \([^,]*\),.*/\1/p')
score=$("$G" gmm score --model "$T/m.json" --in "$T/x.csv")
[ -n "$fit_ll" ] && [ "$score" = "$fit_ll" ] && ok || bad "score '$score' equals the fit's '$fit_ll'"
cmp -s "$T/m.json" "$T/m2.json" && ok || bad "the same seed writes the same model"
"$G" gmm predict --model "$T/m.json" --in "$T/x.csv" > "$T/labels.txt"
[ "$(wc -l < "$T/labels.txt")" -eq 300 ] && ok || bad "predict prints 300 labels"
n0=$(grep -c '^0$' "$T/labels.txt")
n1=$(grep -c '^1$' "$T/labels.txt")
{ [ "$n0" -eq 100 ] && [ "$n1" -eq 200 ]; } || { [ "$n0" -eq 200 ] && [ "$n1" -eq 100 ]; } && ok ||
    bad "predict splits 100/200 (got $n0/$n1)"
expect 0 "wrote probabilities of 300 points" "predict --proba --out" -- \
    "$G" gmm predict --model "$T/m.json" --in "$T/x.csv" --proba --out "$T/p.csv"
awk -F, '{ s = $1 + $2; if (s < 0.999999 || s > 1.000001 || NF != 2) bad = 1 } END { exit bad }' \
    "$T/p.csv" && ok || bad "probability rows have 2 entries summing to 1"
expect 0 "wrote 500 samples of 2 features" "sample to CSV" -- \
    "$G" gmm sample --model "$T/m.json" --n 500 --seed 7 --out "$T/s.csv"
[ "$(wc -l < "$T/s.csv")" -eq 500 ] && ok || bad "500 sample rows"
"$G" gmm sample --model "$T/m.json" --n 500 --seed 7 --out "$T/s2.csv" > /dev/null
cmp -s "$T/s.csv" "$T/s2.csv" && ok || bad "same seed, same samples"
expect 0 "wrote 400 samples" "sample to .npy" -- \
    "$G" gmm sample --model "$T/m.json" --n 400 --out "$T/s.npy"
expect 0 "wrote labels of 400 points" "predict on .npy samples" -- \
    "$G" gmm predict --model "$T/m.json" --in "$T/s.npy" --out "$T/l.npy"
sscore=$("$G" gmm score --model "$T/m.json" --in "$T/s.csv")
awk -v a="$sscore" -v b="$score" 'BEGIN { d = a - b; exit !(d < 0.3 && d > -0.3) }' && ok ||
    bad "samples score like the data ($sscore vs $score)"
printf '1,2,3\n' > "$T/wide.csv"
expect 1 "has 3 features per point; the model has 2" "score with the wrong width" -- \
    "$G" gmm score --model "$T/m.json" --in "$T/wide.csv"
sed 's/"n_features": 2/"n_features": 3/' "$T/m.json" > "$T/bad.json"
expect 1 "bad.json: 'means\[0\]' must be an array of 3" "model with wrong sizes" -- \
    "$G" gmm score --model "$T/bad.json" --in "$T/x.csv"
sed 's/"version": 1/"version": 9/' "$T/m.json" > "$T/v9.json"
expect 1 "v9.json: format version 9" "model of a newer version" -- \
    "$G" gmm predict --model "$T/v9.json" --in "$T/x.csv"
printf '{"format": "gmmdiff-gmm",' > "$T/cut.json"
expect 1 "cut.json: line" "truncated model" -- "$G" gmm sample --model "$T/cut.json" --n 3 --out "$T/z.csv"
expect 1 "nope.json: cannot read" "missing model" -- "$G" gmm score --model "$T/nope.json" --in "$T/x.csv"

report test_gmm_cli
