#!/usr/bin/env python3
"""make_gmm_fixtures.py - scikit-learn GaussianMixture fits that tests/test_gmm.c compares
gmmdiff's EM with (include/gmmdiff/gmm.h, docs/GMM.md).

    /usr/bin/python3 tools/ref/make_gmm_fixtures.py tests/fixtures/gmm

For each data set NAME writes NAME.safetensors holding
  X          F32 [n, d]  the data (float32 values; sklearn fits their exact float64 copies)
  Xtest      F32 [m, d]  held-out points scored by each fitted model
  resp0      F32 [n, k]  the responsibilities both tools initialise from (or labels0 I32 [n],
                         one-hot); sklearn's _initialize(X, resp) is called with them
and, for each covariance type C in full, tied, diag, spherical:
  C.weights, C.means, C.covariances   F64, sklearn's fitted parameters from resp0
  C.test_logp F64 [m], C.test_labels I32 [m]   score_samples / predict of Xtest
with metadata (strings): n_components, tol, reg_covar, max_iter; C.score (mean log-likelihood
of X), C.lower_bound, C.n_iter, C.converged, C.bic, C.aic; kpp.seed, kpp.n_init and
kpp.C.score (sklearn's own init_params='kmeans' fit, n_init restarts, random_state=seed).
Needs numpy and scikit-learn (Debian's python3-sklearn); versions in README.md beside this file.
"""
import json
import os
import struct
import sys

import numpy as np
import sklearn
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture

COV_TYPES = ["full", "tied", "diag", "spherical"]
TOL = 1e-5
MAX_ITER = 500
REG = 1e-6


def save_safetensors(path, tensors, meta):
    dt = {np.dtype("<f4"): "F32", np.dtype("<f8"): "F64", np.dtype("<i4"): "I32"}
    header, blobs, off = {"__metadata__": meta}, [], 0
    for name, a in tensors.items():
        a = np.ascontiguousarray(a)
        header[name] = {"dtype": dt[a.dtype], "shape": list(a.shape),
                        "data_offsets": [off, off + a.nbytes]}
        blobs.append(a.tobytes())
        off += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def blobs(rng, centers, scales, n):
    """n points around the centers, each with its own (matrix or scalar) scale"""
    k, d = centers.shape
    lab = rng.randint(0, k, size=n)
    z = rng.randn(n, d)
    out = np.empty((n, d))
    for i in range(n):
        s = scales[lab[i]]
        out[i] = centers[lab[i]] + (z[i] @ s if np.ndim(s) == 2 else z[i] * s)
    return out


def datasets():
    rng = np.random.RandomState(20240611)
    sets = []
    # well separated, 2-D
    c = np.array([[0.0, 0.0], [8.0, 1.0], [3.0, 9.0]])
    sets.append(("separated", blobs(rng, c, [1.0, 0.7, 1.3], 300), 3, "labels", 0, 1))
    # overlapping, 3-D, unequal spreads
    c = rng.randn(4, 3) * 1.2
    sets.append(("overlap", blobs(rng, c, [1.0, 0.6, 1.5, 0.9], 400), 4, "random", 1, 3))
    # anisotropic: sheared blobs (the scikit-learn clustering example's transformation)
    c = np.array([[0.0, 0.0], [5.0, 5.0], [-4.0, 6.0]])
    sh = [np.array([[0.6, -0.6], [-0.4, 0.8]]) * 2, np.array([[1.5, 0.9], [0.0, 0.3]]),
          np.array([[0.2, 0.0], [0.5, 2.0]])]
    sets.append(("anisotropic", blobs(rng, c, sh, 360), 3, "from_data", 2, 2))
    # duplicates: 40% of the points are exact copies of 12 points
    c = rng.randn(5, 4) * 3
    x = blobs(rng, c, [1.0] * 5, 250)
    dup = rng.randint(0, 12, size=100)
    x[rng.choice(250, size=100, replace=False)] = x[dup]
    sets.append(("duplicates", x, 5, "labels", 3, 6))
    # 16-D, 6 components with random covariances
    c = rng.randn(6, 16) * 2.5
    sc = [np.eye(16) * 0.5 + rng.randn(16, 16) * 0.15 for _ in range(6)]
    sets.append(("wide16", blobs(rng, c, sc, 500), 6, "random", 4, 3))
    # many components: 20 blobs on a grid in 2-D
    g = np.array([[i * 4.0, j * 4.0] for i in range(5) for j in range(4)])
    sets.append(("many20", blobs(rng, g, list(rng.uniform(0.4, 1.0, 20)), 1000), 20, "labels",
                 5, 8))
    # 64-D, 2 components of about 200 points (so that full covariances have full rank)
    c = rng.randn(2, 64) * 1.5
    sets.append(("high64", blobs(rng, c, [1.0, 0.8], 400), 2, "labels", 6, 2))
    return sets


def init_resp(style, x, k, seed):
    rng = np.random.RandomState(1000 + seed)
    n = x.shape[0]
    if style == "labels":  # a k-means partition, one-hot
        lab = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(x).labels_.astype(np.int32)
        return None, lab
    if style == "random":  # random responsibilities, stored as float32 (not normalised again)
        r = rng.uniform(size=(n, k))
        return (r / r.sum(1, keepdims=True)).astype(np.float32), None
    r = np.zeros((n, k), np.float32)  # random_from_data: one point per component
    r[rng.choice(n, size=k, replace=False), np.arange(k)] = 1
    return r, None


def fit_from(x, k, cov, resp):
    gm = GaussianMixture(n_components=k, covariance_type=cov, tol=TOL, reg_covar=REG,
                         max_iter=MAX_ITER, n_init=1)
    gm._initialize_parameters = lambda X, random_state: gm._initialize(X, resp)
    gm.fit(x)
    return gm


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/gmm"
    os.makedirs(out, exist_ok=True)
    for name, x, k, style, seed, n_init in datasets():
        x32 = x.astype(np.float32)
        xd = x32.astype(np.float64)
        xt32 = (xd[np.random.RandomState(seed).choice(len(xd), 60)] +
                np.random.RandomState(seed + 7).randn(60, xd.shape[1]) * 0.5).astype(np.float32)
        xt = xt32.astype(np.float64)
        r32, lab = init_resp(style, xd, k, seed)
        resp = r32.astype(np.float64) if r32 is not None else np.eye(k)[lab]
        t = {"X": x32, "Xtest": xt32}
        if r32 is not None:
            t["resp0"] = r32
        else:
            t["labels0"] = lab
        meta = {"n_components": str(k), "tol": repr(TOL), "reg_covar": repr(REG),
                "max_iter": str(MAX_ITER), "kpp.seed": str(seed), "kpp.n_init": str(n_init),
                "init_style": style}
        for cov in COV_TYPES:
            gm = fit_from(xd, k, cov, resp)
            t[cov + ".weights"] = gm.weights_.astype("<f8")
            t[cov + ".means"] = gm.means_.astype("<f8")
            t[cov + ".covariances"] = np.asarray(gm.covariances_, "<f8")
            t[cov + ".test_logp"] = gm.score_samples(xt).astype("<f8")
            t[cov + ".test_labels"] = gm.predict(xt).astype("<i4")
            meta[cov + ".score"] = repr(float(gm.score(xd)))
            meta[cov + ".lower_bound"] = repr(float(gm.lower_bound_))
            meta[cov + ".n_iter"] = str(gm.n_iter_)
            meta[cov + ".converged"] = str(int(gm.converged_))
            meta[cov + ".bic"] = repr(float(gm.bic(xd)))
            meta[cov + ".aic"] = repr(float(gm.aic(xd)))
            kp = GaussianMixture(n_components=k, covariance_type=cov, tol=TOL, reg_covar=REG,
                                 max_iter=MAX_ITER, n_init=n_init, init_params="kmeans",
                                 random_state=seed).fit(xd)
            meta["kpp." + cov + ".score"] = repr(float(kp.score(xd)))
            print("%-12s n=%4d d=%2d k=%2d %-9s from-init score %.6f (%d iters)  kmeans x%d "
                  "score %.6f" % (name, xd.shape[0], xd.shape[1], k, cov, gm.score(xd),
                                  gm.n_iter_, n_init, kp.score(xd)))
        save_safetensors(os.path.join(out, name + ".safetensors"), t, meta)
    print("sklearn", sklearn.__version__, "numpy", np.__version__)


if __name__ == "__main__":
    main()
