#!/bin/sh
# test_train.sh - `gmmdiff train` end to end on a tiny model: a run directory that describes
# itself; 200 steps equal 100 + resume 100 byte for byte; SIGKILL at random moments never leaves
# a checkpoint that does not load, and resuming reaches the uninterrupted run's weights; a NaN
# loss stops cleanly keeping the last checkpoint; bad flags are refused; a trained run samples.
# Usage: test_train.sh GMMDIFF
set -u
G=$1
. "$(dirname "$0")/testlib.sh"

F="--threads 1 --batch 8 --n-data 400 --channels 8,16,16 --progress none --sample-every 0 --warmup 20 --log-every 10"

# a whole run, and the same run stopped at 100 and resumed
expect 0 "trained" "train 200 steps" -- "$G" train --out "$T/a" $F --steps 200 --ckpt-every 50
for f in run.json model/config.json model/diffusion_pytorch_model.safetensors \
    model/scheduler_config.json state.safetensors metrics.jsonl; do
    [ -s "$T/a/$f" ] && ok || bad "run directory has $f"
done
ls "$T"/a/tb/events.out.tfevents.* >/dev/null 2>&1 && ok || bad "run directory has a TensorBoard event file"
[ "$(wc -l < "$T/a/metrics.jsonl")" -eq 20 ] && ok || bad "metrics.jsonl has one line per 10 steps"
expect 0 "at step 100" "train to 100 of 200" -- "$G" train --out "$T/b" $F --steps 200 --stop-at 100 --ckpt-every 50
expect 0 "trained" "resume to 200" -- "$G" train --resume "$T/b" --threads 1 --progress none --sample-every 0
same "$T/a/state.safetensors" "$T/b/state.safetensors" "200 steps vs 100 + resume 100 (state)"
same "$T/a/model/diffusion_pytorch_model.safetensors" "$T/b/model/diffusion_pytorch_model.safetensors" \
    "200 steps vs 100 + resume 100 (EMA model)"
same "$T/a/metrics.jsonl" "$T/a/metrics.jsonl" "metrics"
[ "$(wc -l < "$T/b/metrics.jsonl")" -eq 20 ] && ok || bad "resumed metrics.jsonl has no duplicate lines"

# SIGKILL at several moments: the last checkpoint always loads, and resuming from it ends with
# exactly the uninterrupted run's weights
for delay in 0.4 1.1 1.9 2.8; do
    rm -rf "$T/k"
    "$G" train --out "$T/k" $F --steps 200 --ckpt-every 7 >/dev/null 2>&1 &
    pid=$!
    sleep $delay
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    if [ ! -e "$T/k/run.json" ]; then ok; continue; fi # killed before it began
    expect 0 "trained" "resume after SIGKILL at ${delay}s" -- \
        "$G" train --resume "$T/k" --threads 1 --progress none --sample-every 0
    same "$T/a/state.safetensors" "$T/k/state.safetensors" "SIGKILL at ${delay}s, resumed"
done

# a NaN loss stops the run with a message and keeps the last checkpoint
expect 1 "loss is nan.*last checkpoint (step 20) is kept" "NaN loss" -- \
    env GMMDIFF_FAULT_NAN_STEP=27 "$G" train --out "$T/n" $F --steps 50 --ckpt-every 10
expect 0 "trained" "resume after the NaN stop" -- "$G" train --resume "$T/n" --threads 1 --progress none --sample-every 0

# bad flags and bad runs
expect 2 "unknown or incomplete flag '--bogus'" "bad flag" -- "$G" train --out "$T/x" --bogus
expect 2 "is not none, class, feature or cluster" "bad --cond" -- "$G" train --out "$T/x" --cond pixels
expect 2 "is not a number" "bad --lr" -- "$G" train --out "$T/x" --lr fast
expect 2 "not an integer" "bad --steps" -- "$G" train --out "$T/x" --steps -5
expect 2 "give --out" "no --out" -- "$G" train --steps 5
expect 1 "already holds a run" "existing run" -- "$G" train --out "$T/a" $F --steps 5
expect 1 "no run to resume" "resume nothing" -- "$G" train --resume "$T/nothing"
expect 2 "only --steps" "resume with other flags" -- "$G" train --resume "$T/a" --lr 0.1
expect 2 "is not a list" "bad --channels" -- "$G" train --out "$T/x" --channels 8,,16
expect 1 "is not shapes, fashion-mnist, celeba or" "unknown data" -- "$G" train --out "$T/x2" --data nowhere --steps 5
printf '{"seed": "0", "steps": 5' > "$T/badrun.json"
mkdir -p "$T/br" && cp "$T/badrun.json" "$T/br/run.json"
expect 1 "br/run.json: not a JSON object" "corrupt run.json" -- "$G" train --resume "$T/br"
head -c 1000 "$T/a/state.safetensors" > "$T/trunc" && mkdir -p "$T/c" && cp -r "$T/a/run.json" "$T/a/model" "$T/c/" \
    && cp "$T/trunc" "$T/c/state.safetensors"
expect 1 "state.safetensors" "truncated state" -- "$G" train --resume "$T/c" --steps 300

# the trained run samples with its classes and guidance
expect 0 "wrote" "sample a trained run" -- "$G" sample --model "$T/a/model" --n 4 --steps 5 \
    --class 3 --cfg 2 --null-class 48 --out "$T/s.png"

# feature conditioning: resumes bit-exactly (means, their moments and EMA included), samples
# any combination of features, and the judge scores its held-out combinations
expect 0 "trained" "feature: train 60 steps" -- "$G" train --out "$T/fa" $F --cond feature --steps 60 --ckpt-every 30
[ -s "$T/fa/model/condition.json" ] && [ -s "$T/fa/model/condition.safetensors" ] && ok || \
    bad "feature run has model/condition.json and condition.safetensors"
expect 0 "at step 30" "feature: train to 30 of 60" -- "$G" train --out "$T/fb" $F --cond feature --steps 60 \
    --stop-at 30 --ckpt-every 30
expect 0 "trained" "feature: resume to 60" -- "$G" train --resume "$T/fb" --threads 1 --progress none --sample-every 0
same "$T/fa/state.safetensors" "$T/fb/state.safetensors" "feature: 60 steps vs 30 + resume 30 (state)"
same "$T/fa/model/condition.safetensors" "$T/fb/model/condition.safetensors" "feature: condition means"
expect 0 "wrote" "feature: sample named features" -- "$G" sample --model "$T/fa/model" --n 4 --steps 5 \
    --features "shape=triangle,position=top_left" --cfg 2 --out "$T/fs.png" --threads 1
expect 2 "'hexagon' is not a value of 'shape'" "feature: unknown value" -- "$G" sample --model "$T/fa/model" \
    --n 4 --steps 5 --features "shape=hexagon" --out "$T/fs.png"
expect 2 "needs a feature-conditioned model" "features on a class model" -- "$G" sample --model "$T/a/model" \
    --n 4 --steps 5 --features "shape=circle" --out "$T/fs.png"
expect 0 '"combinations":"held-out","samples":6' "eval held-out combinations of a feature run" -- \
    "$G" eval --run "$T/fa" --heldout --per-class 1 --steps 3 --threads 1 --out "$T/fe.json"
[ -s "$T/fe.json" ] && ok || bad "eval --out writes the JSON"
expect 1 "cannot name the held-out" "eval held-out of a class run" -- "$G" eval --run "$T/a" --heldout \
    --per-class 1 --steps 3 --threads 1
expect 0 '"combinations":"trained","samples":42' "eval a class run" -- "$G" eval --run "$T/a" --per-class 1 \
    --steps 3 --threads 1

# class components (--cond-sigma > 0): one component per class, named by its values; the judge
# scores them; held-out combinations cannot be named
expect 0 "trained" "class components: train" -- "$G" train --out "$T/cg" $F --cond class --cond-sigma 0.1 \
    --steps 20 --ckpt-every 20
grep -q '"circle+small+top_left+dim"' "$T/cg/model/condition.json" && ok || bad "class components named by values"
grep -q '"cond_sigma": 0.1' "$T/cg/run.json" && ok || bad "class components: run.json keeps sigma"
expect 0 "wrote" "class components: sample a named class" -- "$G" sample --model "$T/cg/model" --n 2 \
    --steps 3 --features "class=square+large+bottom_right+bright" --out "$T/cgs.png" --threads 1
expect 0 '"combinations":"trained","samples":42' "class components: eval" -- "$G" eval --run "$T/cg" \
    --per-class 1 --steps 3 --threads 1
expect 1 "cannot name the held-out" "class components: no held-out" -- "$G" eval --run "$T/cg" --heldout \
    --per-class 1 --steps 3 --threads 1

# cluster conditioning: no labels; resumes bit-exactly (the clusters read back, not refitted);
# samples a named cluster; eval puts samples back into clusters
C="--cond cluster --clusters 4 --cluster-dims 8 --steps 40 --ckpt-every 20"
expect 0 "trained" "cluster: train 40 steps" -- "$G" train --out "$T/ca" $F $C
for f in cluster.safetensors cluster_gmm.json model/condition.json; do
    [ -s "$T/ca/$f" ] && ok || bad "cluster run has $f"
done
grep -q '"name": "cluster"' "$T/ca/model/condition.json" && ok || bad "cluster run conditions on 'cluster'"
expect 0 "at step 20" "cluster: train to 20 of 40" -- "$G" train --out "$T/cb" $F $C --stop-at 20
expect 0 "trained" "cluster: resume to 40" -- "$G" train --resume "$T/cb" --threads 1 --progress none --sample-every 0
same "$T/ca/state.safetensors" "$T/cb/state.safetensors" "cluster: 40 steps vs 20 + resume 20 (state)"
same "$T/ca/cluster.safetensors" "$T/cb/cluster.safetensors" "cluster: same seed, same embedding"
expect 0 "wrote" "cluster: sample a named cluster" -- "$G" sample --model "$T/ca/model" --n 2 --steps 3 \
    --features "cluster=c2" --out "$T/cs.png" --threads 1
expect 0 '"clusters":4,"samples":8,"cluster_accuracy":' "cluster: eval" -- "$G" eval --run "$T/ca" \
    --per-class 2 --steps 3 --threads 1 --out "$T/ce.json"
grep -q '"real_purity":{"shape":{"purity":' "$T/ce.json" && ok || bad "cluster eval: purity of the real data's clusters"
expect 0 "\"run\":\"$T/ca\",.*\"clusters\":4,\"samples\":4," "eval --model RUN/model names the run" -- \
    "$G" eval --model "$T/ca/model/" --per-class 1 --steps 3 --threads 1
rm "$T/cb/cluster_gmm.json"
expect 1 "cb/cluster_gmm.json" "cluster: resume without its GMM" -- "$G" train --resume "$T/cb" --steps 60
expect 2 "--clusters" "cluster: one cluster" -- "$G" train --out "$T/x3" $F --cond cluster --clusters 1
expect 1 "too few for 40 clusters" "cluster: more clusters than data allow" -- "$G" train --out "$T/x4" \
    --threads 1 --n-data 40 --cond cluster --clusters 40 --steps 2

# controllability of continuous features: Fashion-MNIST's ink, mean intensity, width, height
if [ -d /usr/share/datasets/fashion-mnist ]; then
    expect 0 "trained" "fashion feature: train" -- "$G" train --out "$T/fm" --data fashion-mnist \
        --limit 300 --cond feature --threads 1 --batch 8 --channels 8,16,16 --progress none \
        --sample-every 0 --steps 10
    expect 0 '"controllability_error":' "fashion feature: controllability eval" -- "$G" eval \
        --run "$T/fm" --per-class 1 --pool 4 --steps 3 --threads 1 --out "$T/ctl.json"
    # on the real test images, the own component's mean is nearer than any component's
    awk 'BEGIN { RS = "," } /"controllability_error_real"/ { split($0, a, ":"); f = a[2] }
         /"controllability_error_real_uncontrolled"/ { split($0, a, ":"); u = a[2] }
         END { exit !(f > 0 && u > f) }' "$T/ctl.json" && ok || bad "real floor below real uncontrolled: $(cat "$T/ctl.json")"
    # a label classifier trained on the real images scores the feature run's samples per label
    expect 0 "accuracy on 300 evaluation items" "fashion classifier train" -- "$G" classifier \
        train --out "$T/fclf" --data fashion-mnist --limit 300 --steps 10 --batch 16 --threads 1
    expect 0 '"scored":{.*"classes":10,"accuracy":{"label":.*"fd":.*"real_items":20,"fd_real":' \
        "fashion feature: scored by a classifier" -- "$G" eval --run "$T/fm" --per-class 1 \
        --pool 0 --steps 3 --threads 1 --score-classifier "$T/fclf" --score-per-class 2
else
    bad "dataset-fashion-mnist is not installed (make deps installs it)"
fi

# a classifier trained on the same data scores the run's class-conditional samples
expect 0 "accuracy on 400 evaluation items" "classifier train" -- "$G" classifier train --out "$T/clf" \
    --n-data 400 --steps 30 --batch 16 --threads 1
expect 0 '"exact":.*"fd":.*"real_items":42' "classifier eval of a run's samples" -- "$G" classifier eval --model "$T/clf" \
    --run "$T/a" --per-class 1 --steps 3 --threads 1 --grid "$T/cg.png"
[ -s "$T/cg.png" ] && ok || bad "classifier eval grid written"
expect 0 "accuracy on 100 evaluation items" "classifier eval on data" -- "$G" classifier eval \
    --model "$T/clf" --data shapes --n-data 400 --n 100 --threads 1
expect 0 '"exact_accuracy":.*"scored":{.*"samples":42,.*"fd":.*"precision_real":' \
    "eval --score-classifier of a feature run" -- "$G" eval --run "$T/fa" --per-class 1 --steps 3 \
    --threads 1 --score-classifier "$T/clf" --score-per-class 1
expect 2 "no classes for --score-classifier" "eval --score-classifier of a cluster run" -- "$G" \
    eval --run "$T/ca" --score-classifier "$T/clf"
expect 1 "nowhere/config.json" "eval --score-classifier: missing classifier" -- "$G" eval \
    --run "$T/fa" --score-classifier "$T/nowhere"

# the feature-consistency term: a negligible weight changes nothing (the same EMA model as the
# plain feature run); a real one resumes bit-exactly and logs aux_loss; bad flags are refused
expect 0 "trained" "consistency: weight 1e-30" -- "$G" train --out "$T/ax0" $F --cond feature --steps 60 \
    --ckpt-every 30 --aux-weight 1e-30 --aux-classifier "$T/clf"
same "$T/fa/model/diffusion_pytorch_model.safetensors" "$T/ax0/model/diffusion_pytorch_model.safetensors" \
    "consistency: weight 1e-30 equals no term"
expect 0 "trained" "consistency: NGMG, 40 steps" -- "$G" train --out "$T/ax1" $F --cond feature --steps 40 \
    --ckpt-every 20 --aux-weight 5 --aux-classifier "$T/clf" --aux-loss ngmg
expect 0 "at step 20" "consistency: to 20 of 40" -- "$G" train --out "$T/ax2" $F --cond feature --steps 40 \
    --ckpt-every 20 --aux-weight 5 --aux-classifier "$T/clf" --aux-loss ngmg --stop-at 20
expect 0 "trained" "consistency: resume to 40" -- "$G" train --resume "$T/ax2" --threads 1 --progress none \
    --sample-every 0
same "$T/ax1/state.safetensors" "$T/ax2/state.safetensors" "consistency: 40 vs 20 + resume 20 (state)"
grep -q '"aux_loss"' "$T/ax1/metrics.jsonl" && ok || bad "consistency: metrics log aux_loss"
expect 2 "needs --aux-classifier" "consistency without a classifier" -- "$G" train --out "$T/x5" $F \
    --aux-weight 1
expect 2 "'hinge' is not bce or ngmg" "consistency bad --aux-loss" -- "$G" train --out "$T/x5" $F \
    --aux-weight 1 --aux-classifier "$T/clf" --aux-loss hinge
expect 1 "nowhere/config.json" "consistency: missing classifier" -- "$G" train --out "$T/x6" $F \
    --aux-weight 1 --aux-classifier "$T/nowhere" --steps 2

# classifier guidance by a time-conditioned NGMG classifier, in eval and in sample
expect 0 "accuracy on 400 evaluation items" "classifier train --noisy --loss ngmg" -- "$G" classifier \
    train --out "$T/nclf" --n-data 400 --steps 20 --batch 16 --threads 1 --noisy --loss ngmg \
    --ngmg-widths 3 --log "$T/nclf.json"
grep -q '"loss": "ngmg"' "$T/nclf/config.json" && ok || bad "NGMG classifier config records its loss"
# the record: 20 losses (potentials in [-1, 0]), 20 gradient norms, clean and noisy accuracy
awk 'BEGIN { RS = "]" } /"loss":\[/ { sub(/.*"loss":\[/, ""); n = split($0, a, ","); ok = n == 20
     for (i = 1; i <= n; i++) ok = ok && a[i] + 0 >= -1 && a[i] + 0 < 0 } END { exit !ok }' \
    "$T/nclf.json" && ok || bad "classifier --log: 20 NGMG losses in [-1, 0): $(head -c 300 "$T/nclf.json")"
grep -q '"grad_norm":\[' "$T/nclf.json" && grep -q '"accuracy_noisy_t300":{' "$T/nclf.json" && ok || \
    bad "classifier --log has gradient norms and noisy accuracy"
expect 0 '"classifier_scale":3' "eval with classifier guidance" -- "$G" eval --run "$T/fa" \
    --per-class 1 --steps 3 --threads 1 --classifier "$T/nclf" --classifier-scale 3
expect 0 "wrote" "sample with classifier guidance" -- "$G" sample --model "$T/fa/model" --n 2 --steps 3 \
    --features "shape=circle" --classifier "$T/nclf" --classifier-scale 2 --threads 1 \
    --guide "shape=circle,size=large,position=top_left,intensity=bright" --out "$T/gs.png"
expect 2 "'size' has none" "guidance needs every attribute" -- "$G" sample --model "$T/fa/model" --n 2 \
    --steps 3 --classifier "$T/nclf" --guide "shape=circle" --out "$T/gs.png"
expect 2 "go together" "--classifier without --guide" -- "$G" sample --model "$T/fa/model" --n 2 \
    --steps 3 --classifier "$T/nclf" --out "$T/gs.png"
report test_train
