#!/bin/sh
# test_report.sh - `gmmdiff report` end to end on two tiny trained runs: the HTML page is
# self-contained (inline SVG plots, PNGs as data: URIs that decode to the runs' own files), the
# Markdown has the comparison table and its plots and image copies, eval JSON numbers become
# columns, strings from files are HTML-escaped, the output depends only on the inputs, and bad
# inputs are refused naming the file (and line) with nothing written.
# Usage: test_report.sh GMMDIFF
set -u
G=$1
. "$(dirname "$0")/testlib.sh"

F="--threads 1 --batch 8 --n-data 200 --channels 8,16,16 --progress none --warmup 5 --log-every 5 \
--steps 20 --ckpt-every 20 --sample-every 10"
mkdir -p "$T/exp"
expect 0 "trained" "train r1" -- "$G" train --out "$T/exp/r1" $F --cond class
expect 0 "trained" "train r2" -- "$G" train --out "$T/exp/r2" $F --cond none --seed 1

# an eval result in r1 (scores at the top level and one level down, an array that is left
# out), a second image in r2, and an experiment's notes with characters that need escaping
cat > "$T/exp/r1/eval-trained.json" <<'EOF'
{"run": "r1", "cond": "class", "samples": 48, "steps": 50, "cfg": 2.0, "seed": 0,
 "defect_rate": 0.9375, "exact_accuracy": 0.8125,
 "attribute_accuracy": {"shape": 0.875, "size": 1.0},
 "classifier": {"accuracy": 0.734375, "fd": 12.3456, "precision": 0.61, "recall": 0.58},
 "per_cluster": [1.0, 0.5]}
EOF
cp "$T/exp/r1/samples/step_000010.png" "$T/exp/r2/grid.png"
cat > "$T/exp/results.md" <<'EOF'
Two tiny runs <script>alert(1)</script> & friends.

| run | accuracy |
|---|---|
| r1 | 0.8125 |
EOF

# two run directories
expect 0 "wrote $T/o1/report.html" "report on two runs" -- \
    "$G" report "$T/exp/r1" "$T/exp/r2" --out "$T/o1"
H="$T/o1/report.html"
for pat in '<svg' 'data:image/png;base64,' '>r1<' '>r2<' '0.8125' '0.7344' '12.35' \
    'classifier' 'attribute_<wbr>accuracy.<wbr>shape' 'loss against step' 'grad_norm against step'; do
    grep -q -- "$pat" "$H" && ok || bad "report.html has '$pat'"
done
grep -q 'per_cluster' "$H" && bad "report.html has the per-component array" || ok
# no file besides the page is needed: no src or href other than data: URIs
grep -Eo '(src|href)="[^d][^"]*"' "$H" | grep -q . && bad "report.html refers to another file" || ok
M="$T/o1/report.md"
grep -q '^| run | data | cond | steps |' "$M" && ok || bad "report.md has the table header"
grep -q '^| r1 | shapes | class | 20 | 8 |.*| 0.8125 |' "$M" && ok || bad "report.md has r1's row"
grep -q '^| r2 | shapes | none | 20 | 8 |' "$M" && ok || bad "report.md has r2's row"
grep -q 'eval-trained.classifier.fd' "$M" && ok || bad "report.md has the classifier's columns"
grep -q 'eval-trained: samples = 48, steps = 50' "$M" && ok || bad "report.md lists the eval settings"
for f in loss.svg grad_norm.svg img/r1-step_000020.png img/r2-step_000020.png img/r2-grid.png; do
    [ -s "$T/o1/$f" ] && ok || bad "the report has $f"
    grep -q "($f)" "$M" && ok || bad "report.md refers to $f"
done
head -c 4 "$T/o1/loss.svg" | grep -q '<svg' && ok || bad "loss.svg is an SVG"
same "$T/exp/r1/samples/step_000020.png" "$T/o1/img/r1-step_000020.png" "copied image"
# the first data: URI is r1's newest sample grid, byte for byte
grep -o 'data:image/png;base64,[A-Za-z0-9+/=]*' "$H" | head -n 1 | cut -d, -f2 | base64 -d > "$T/dec.png"
same "$T/exp/r1/samples/step_000020.png" "$T/dec.png" "base64 image in report.html"
grep -o 'data:image/png;base64,[A-Za-z0-9+/=]*' "$H" | sed -n 3p | cut -d, -f2 | base64 -d > "$T/dec3.png"
same "$T/exp/r2/grid.png" "$T/dec3.png" "a run's other PNG in report.html"
[ "$(grep -c 'data:image/png;base64,' "$H")" -eq 3 ] && ok || bad "report.html has three images"

# the experiment directory: its runs, and its notes escaped
expect 0 "wrote" "report on the experiment directory" -- "$G" report "$T/exp/" --out "$T/o2"
grep -q '>r1<' "$T/o2/report.html" && grep -q '>r2<' "$T/o2/report.html" && ok || \
    bad "experiment report has both runs"
grep -q '&lt;script&gt;alert(1)&lt;/script&gt; &amp; friends' "$T/o2/report.html" && ok || \
    bad "results.md text is escaped"
grep -q '<script' "$T/o2/report.html" && bad "results.md's tag reached the page" || ok
grep -q '<td class="t">r1</td><td>0.8125</td>' "$T/o2/report.html" && ok || \
    bad "results.md's pipe table is an HTML table"
grep -q '^| r1 | 0.8125 |' "$T/o2/report.md" && ok || bad "report.md has results.md"
sed 's|o2|o1|g' "$T/o2/report.md" | grep -q 'gmmdiff report: exp' && ok || bad "default title"
# the same inputs give the same bytes
expect 0 "wrote" "report again" -- "$G" report "$T/exp" --out "$T/o3"
same "$T/o2/report.html" "$T/o3/report.html" "report.html is reproducible"
same "$T/o2/report.md" "$T/o3/report.md" "report.md is reproducible"

# names and titles from outside are escaped; a run without metrics has blank cells
mkdir -p "$T/odd" && cp -r "$T/exp/r1" "$T/odd/a<b&c"
mkdir -p "$T/bare/r3" && cp "$T/exp/r1/run.json" "$T/bare/r3/"
expect 0 "wrote" "odd names" -- "$G" report "$T/odd/a<b&c" "$T/bare/r3" --title '<T&T>' --out "$T/o4"
grep -q 'a&lt;b&amp;c' "$T/o4/report.html" && ok || bad "run name escaped"
grep -q 'a<b' "$T/o4/report.html" && bad "raw run name in report.html" || ok
grep -q '<h1>&lt;T&amp;T&gt;</h1>' "$T/o4/report.html" && ok || bad "title escaped"
[ -s "$T/o4/img/a_b_c-step_000020.png" ] && ok || bad "image copy has a safe name"
grep -q '^| r3 | shapes | class |  | 8 |' "$T/o4/report.md" && ok || bad "run without metrics"
expect 0 "wrote" "only a run without metrics" -- "$G" report "$T/bare" --out "$T/o5"
grep -q 'no loss logged' "$T/o5/loss.svg" && ok || bad "empty plot says so"

# two runs of the same name from two experiments are told apart by their parent
mkdir -p "$T/exp2" && cp -r "$T/exp/r1" "$T/exp2/r1"
expect 0 "wrote" "same names" -- "$G" report "$T/exp/r1" "$T/exp2/r1" --out "$T/o6"
grep -q '^| exp/r1 |' "$T/o6/report.md" && grep -q '^| exp2/r1 |' "$T/o6/report.md" && ok || \
    bad "runs of the same name become parent/name"

# bad inputs: an error naming the path, exit 1, nothing written
expect 1 "nowhere: no such directory" "missing run" -- "$G" report "$T/exp/r1" "$T/nowhere" --out "$T/e1"
[ ! -e "$T/e1" ] && ok || bad "missing run: nothing written"
mkdir -p "$T/empty/sub"
expect 1 "empty: not a run (no run.json) and holds no run directories" "not a run" -- \
    "$G" report "$T/empty" --out "$T/e2"
[ ! -e "$T/e2" ] && ok || bad "not a run: nothing written"
mkdir -p "$T/bad" && cp -r "$T/exp/r2" "$T/bad/rm"
n=$(($(wc -l < "$T/bad/rm/metrics.jsonl") + 1))
printf '{"step": 25, "loss": 0.1\n' >> "$T/bad/rm/metrics.jsonl"
expect 1 "rm/metrics.jsonl: line $n: not a JSON object" "corrupt metrics line" -- \
    "$G" report "$T/exp/r1" "$T/bad/rm" --out "$T/e3"
[ ! -e "$T/e3" ] && ok || bad "corrupt metrics: nothing written"
mkdir -p "$T/bad2" && cp -r "$T/exp/r1" "$T/bad2/re" && printf '{"exact_accuracy": 0.5,' > "$T/bad2/re/eval-x.json"
expect 1 "re/eval-x.json: line" "corrupt eval JSON" -- "$G" report "$T/bad2" --out "$T/e4"
[ ! -e "$T/e4" ] && ok || bad "corrupt eval: nothing written"
mkdir -p "$T/bad3/rj" && printf '{"seed": "0", ' > "$T/bad3/rj/run.json"
expect 1 "rj/run.json: not a JSON object" "corrupt run.json" -- "$G" report "$T/bad3/rj" --out "$T/e5"
expect 2 "unknown or incomplete flag '--bogus'" "bad flag" -- "$G" report "$T/exp" --out "$T/e6" --bogus
expect 2 "give one or more RUN directories and --out" "no --out" -- "$G" report "$T/exp"
expect 2 "unknown or incomplete flag '--out'" "--out without a value" -- "$G" report "$T/exp" --out
[ ! -e "$T/e6" ] && ok || bad "bad flag: nothing written"
expect 0 "usage: gmmdiff report RUN" "--help" -- "$G" report --help

report test_report
