#!/usr/bin/python3
"""gmm_bench_sklearn.py - the scikit-learn side of bench/gmm_bench.sh: GaussianMixture EM from a
given initialisation (weights_init, means_init, precisions_init read from a gmmdiff model file),
a fixed number of iterations (tol 0), timed per iteration. Prints the same lines as
`gmmdiff bench gmm`: ms_per_iter (median over iterations 2..I, each from the end of one M-step
to the end of the next: E-step, M-step and lower bound, as in sklearn's fit loop), total_ms (the
whole fit() call, initialisation and sklearn's final E-step included) and loglik (score(X)).
Usage: gmm_bench_sklearn.py --data X.npy --init INIT.json --iters I [--reg-covar R] [--threads T]
"""
import argparse
import json
import os
import statistics
import sys
import time
import warnings

ap = argparse.ArgumentParser()
ap.add_argument("--data", required=True)
ap.add_argument("--init", required=True)
ap.add_argument("--iters", type=int, default=20)
ap.add_argument("--reg-covar", type=float, default=1e-6)
ap.add_argument("--threads", type=int, default=0)
args = ap.parse_args()
if args.threads > 0:  # before numpy loads its BLAS
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)

import numpy as np  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.mixture import GaussianMixture  # noqa: E402

STAMPS = []


class TimedGaussianMixture(GaussianMixture):
    """GaussianMixture stamping the end of each M-step (one per EM iteration)."""

    def _m_step(self, X, log_resp):
        super()._m_step(X, log_resp)
        STAMPS.append(time.perf_counter())


x = np.load(args.data).astype(np.float64)  # float32 on disk: both tools see the same values
with open(args.init) as f:
    init = json.load(f)
cov = init["covariance_type"]
weights = np.asarray(init["weights"], dtype=np.float64)
means = np.asarray(init["means"], dtype=np.float64)
covs = np.asarray(init["covariances"], dtype=np.float64)
if cov == "full":
    precisions = np.linalg.inv(covs)
    precisions = 0.5 * (precisions + np.transpose(precisions, (0, 2, 1)))
elif cov == "tied":
    precisions = np.linalg.inv(covs)
    precisions = 0.5 * (precisions + precisions.T)
else:
    precisions = 1.0 / covs

gm = TimedGaussianMixture(n_components=len(weights), covariance_type=cov, tol=0.0,
                          reg_covar=args.reg_covar, max_iter=args.iters, n_init=1,
                          init_params="random_from_data", weights_init=weights,
                          means_init=means, precisions_init=precisions, random_state=0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    t0 = time.perf_counter()
    gm.fit(x)
    total = time.perf_counter() - t0
if len(STAMPS) != args.iters:
    sys.exit(f"gmm_bench_sklearn: {len(STAMPS)} M-steps, expected {args.iters}")
dt = [1e3 * (b - a) for a, b in zip(STAMPS, STAMPS[1:])]
try:
    from threadpoolctl import threadpool_info
    blas = ",".join(f"{i.get('internal_api')}:{i.get('architecture')}:{i.get('num_threads')}"
                    for i in threadpool_info() if i.get("user_api") == "blas")
except ImportError:
    blas = "?"
import sklearn  # noqa: E402
print(f"# sklearn {sklearn.__version__} numpy {np.__version__} EM n={x.shape[0]} d={x.shape[1]} "
      f"k={len(weights)} cov={cov} iters={args.iters} threads={args.threads or 'default'} "
      f"reg_covar={args.reg_covar:g} blas={blas}")
print(f"ms_per_iter={statistics.median(dt):.4f}")
print(f"total_ms={1e3 * total:.3f}")
print(f"loglik={gm.score(x):.17g}")
print(f"lower_bound={gm.lower_bound_:.17g}")
