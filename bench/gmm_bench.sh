#!/bin/sh
# gmm_bench.sh - EM iterations of gmmdiff's Gaussian mixtures against scikit-learn's
# GaussianMixture on the same data (a fixed-seed mixture of K Gaussians with random full
# covariances, N points in D dimensions, float32 .npy) from the same initial weights, means and
# covariances (K random data points, the data's covariance, uniform weights), ITERS iterations
# with tol 0, reg_covar 1e-6, for full and diagonal covariances; the two run alternately ROUNDS
# times with the same thread count. Prints each side's median ms per iteration and the ratio
# sklearn / gmmdiff (above 1 means gmmdiff is faster), and both final mean log-likelihoods per
# point and their difference.
# Usage: bench/gmm_bench.sh [build-dir]   (env: THREADS, ROUNDS, ITERS, N, D, K, COVS)
set -eu
BUILD=${1:-build}
THREADS=${THREADS:-$(nproc)}
ROUNDS=${ROUNDS:-3}
ITERS=${ITERS:-20}
N=${N:-100000}
D=${D:-16}
K=${K:-10}
COVS=${COVS:-"full diag"}
PY=/usr/bin/python3
if [ ! -x "$BUILD/gmmdiff" ]; then
    echo "gmm_bench.sh: $BUILD/gmmdiff not found; run make build first" >&2
    exit 1
fi
if ! $PY -c "import sklearn, numpy" 2>/dev/null; then
    sh tools/install-deps.sh python3-sklearn python3-numpy
fi
. bench/blas_coretype.sh
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
$PY - "$out" "$N" "$D" "$K" "$COVS" <<'PYEOF'
import json, sys
import numpy as np
out, n, d, k, covs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
rng = np.random.default_rng(20240611)
centres = rng.normal(0, 2.0, (k, d))
a = rng.normal(0, 1, (k, d, d)) / np.sqrt(d)
true_cov = a @ np.transpose(a, (0, 2, 1)) + 0.3 * np.eye(d)
w = rng.dirichlet(np.full(k, 5.0))
z = rng.choice(k, size=n, p=w)
x = np.empty((n, d))
for c in range(k):
    idx = np.flatnonzero(z == c)
    x[idx] = rng.multivariate_normal(centres[c], true_cov[c], size=len(idx))
x = x.astype(np.float32)
np.save(f"{out}/x.npy", x)
xd = x.astype(np.float64)
means = xd[rng.choice(n, size=k, replace=False)]
cov = np.cov(xd, rowvar=False)
cov = 0.5 * (cov + cov.T)
for name in covs.split():
    if name == "full":
        c = np.repeat(cov[None], k, axis=0)
    elif name == "tied":
        c = cov
    elif name == "diag":
        c = np.repeat(np.diag(cov)[None], k, axis=0)
    else:
        c = np.full(k, np.trace(cov) / d)
    model = {"format": "gmmdiff-gmm", "version": 1, "covariance_type": name,
             "n_components": k, "n_features": d, "weights": [1.0 / k] * k,
             "means": means.tolist(), "covariances": c.tolist(), "converged": False,
             "n_iter": 0, "lower_bound": 0.0, "reg_covar": 1e-6}
    with open(f"{out}/init_{name}.json", "w") as f:
        json.dump(model, f)
PYEOF
for cov in $COVS; do
    i=1
    while [ "$i" -le "$ROUNDS" ]; do
        "$BUILD/gmmdiff" bench gmm --data "$out/x.npy" --init "$out/init_$cov.json" \
            --iters "$ITERS" --threads "$THREADS" > "$out/gd.$cov.$i"
        $PY bench/gmm_bench_sklearn.py --data "$out/x.npy" --init "$out/init_$cov.json" \
            --iters "$ITERS" --threads "$THREADS" > "$out/sk.$cov.$i"
        i=$((i + 1))
    done
done
for cov in $COVS; do
    head -n 1 "$out/gd.$cov.1"
    head -n 1 "$out/sk.$cov.1"
done
$PY - "$out" "$ROUNDS" "$COVS" "$N" "$D" "$K" <<'PYEOF'
import statistics, sys
d, rounds, covs = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
n, dim, k = sys.argv[4:7]
def load(side, cov):
    runs = []
    for i in range(1, rounds + 1):
        rows = {}
        for line in open(f"{d}/{side}.{cov}.{i}"):
            if not line.startswith("#"):
                key, v = line.strip().split("=", 1)
                rows[key] = float(v)
        runs.append(rows)
    return runs
print(f"{'n':>7} {'d':>3} {'K':>3} {'cov':>5} {'gmmdiff ms/it':>13} {'sklearn ms/it':>13} "
      f"{'ratio':>6} {'gmmdiff loglik':>18} {'sklearn loglik':>18} {'difference':>10}")
for cov in covs:
    gd, sk = load("gd", cov), load("sk", cov)
    g = statistics.median(r["ms_per_iter"] for r in gd)
    s = statistics.median(r["ms_per_iter"] for r in sk)
    gl, sl = gd[0]["loglik"], sk[0]["loglik"]
    print(f"{n:>7} {dim:>3} {k:>3} {cov:>5} {g:>13.2f} {s:>13.2f} {s / g:>6.2f} "
          f"{gl:>18.10f} {sl:>18.10f} {gl - sl:>10.1e}")
    each = lambda runs: " ".join("%.2f" % r["ms_per_iter"] for r in runs)
    print(f"{'':>19} rounds: gmmdiff {each(gd)}; sklearn {each(sk)}")
print("ratio = sklearn ms per iteration / gmmdiff ms per iteration (above 1: gmmdiff faster)")
PYEOF
