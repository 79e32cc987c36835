/* gmm_kmeans.c - the k-means that initialises EM, as sklearn's KMeans(n_clusters=k, n_init=1)
 * does for GaussianMixture(init_params='kmeans'): greedy k-means++ seeding, then Lloyd's
 * iterations until the labels stop changing or the centers move less than tol. Distances are
 * sums of squared differences (not sklearn's |x|^2 - 2 x.c + |c|^2), parallel over points;
 * every sum runs in a fixed order, so the result does not depend on the thread count. */
#include "gmm/gmm_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GD_KMEANS_MAX_ITER 300
#define GD_KMEANS_TOL 1e-4

static double sqdist(const double *a, const double *b, int d) {
    double s = 0;
    for (int j = 0; j < d; j++) {
        double t = a[j] - b[j];
        s += t * t;
    }
    return s;
}

/* out[i] = min(cur[i], |x_i - c|^2) (cur NULL: no minimum); returns nothing, sums are serial */
static void dist_to(const double *x, int64_t n, int d, const double *c, const double *cur,
                    double *out) {
    #pragma omp parallel for schedule(static) if ((double)n * d > GD_GMM_PAR_WORK)
    for (int64_t i = 0; i < n; i++) {
        double v = sqdist(x + i * d, c, d);
        out[i] = cur && cur[i] < v ? cur[i] : v;
    }
}

static double sum_of(const double *v, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += v[i];
    return s;
}

/* greedy k-means++ (sklearn's _kmeans_plusplus): centers [k, d]; scratch closest [n],
 * cand [trials, n], cum [n] */
static void seed_plusplus(const double *x, int64_t n, int d, int k, gd_rng *rng, double *centers,
                          double *closest, double *cand, double *cum) {
    int trials = 2 + (int)log((double)k);
    int64_t first = (int64_t)gd_rng_below(rng, (uint64_t)n);
    memcpy(centers, x + first * d, sizeof(double) * d);
    dist_to(x, n, d, centers, NULL, closest);
    double pot = sum_of(closest, n);
    for (int c = 1; c < k; c++) {
        double acc = 0;
        for (int64_t i = 0; i < n; i++) cum[i] = acc += closest[i];
        int best = -1;
        int64_t best_id = 0;
        double best_pot = 0;
        for (int t = 0; t < trials; t++) {
            double r = gd_rng_uniform(rng) * pot;
            int64_t lo = 0, hi = n; /* first i with cum[i] >= r (numpy searchsorted, left) */
            while (lo < hi) {
                int64_t mid = lo + (hi - lo) / 2;
                if (cum[mid] < r) lo = mid + 1;
                else hi = mid;
            }
            int64_t id = lo < n ? lo : n - 1;
            double *dt = cand + (size_t)t * n;
            dist_to(x, n, d, x + id * d, closest, dt);
            double p = sum_of(dt, n);
            if (best < 0 || p < best_pot) {
                best = t;
                best_pot = p;
                best_id = id;
            }
        }
        memcpy(closest, cand + (size_t)best * n, sizeof(double) * n);
        pot = best_pot;
        memcpy(centers + (size_t)c * d, x + best_id * d, sizeof(double) * d);
    }
}

/* labels [n] and dist [n] (squared distance to the assigned center), ties to the lower index */
static void assign(const double *x, int64_t n, int d, int k, const double *centers,
                   int32_t *labels, double *dist) {
    #pragma omp parallel for schedule(static) if ((double)n * k * d > GD_GMM_PAR_WORK)
    for (int64_t i = 0; i < n; i++) {
        double bd = INFINITY;
        int32_t bl = 0;
        for (int c = 0; c < k; c++) {
            double v = sqdist(x + i * d, centers + (size_t)c * d, d);
            if (v < bd) {
                bd = v;
                bl = c;
            }
        }
        labels[i] = bl;
        dist[i] = bd;
    }
}

/* new centers from labels; an empty cluster takes the point farthest from its center (sklearn's
 * _relocate_empty_clusters_dense: the point keeps its label, the sums move) */
static void update(const double *x, int64_t n, int d, int k, const int32_t *labels,
                   const double *dist, const double *old, double *cen, double *w, int64_t *taken) {
    memset(cen, 0, sizeof(double) * k * d);
    memset(w, 0, sizeof(double) * k);
    for (int64_t i = 0; i < n; i++) {
        double *c = cen + (size_t)labels[i] * d;
        for (int j = 0; j < d; j++) c[j] += x[i * d + j];
        w[labels[i]] += 1;
    }
    int ntaken = 0;
    for (int e = 0; e < k; e++) {
        if (w[e] != 0) continue;
        int64_t far = -1; /* the farthest point not yet moved (ties: the lower index) */
        for (int64_t i = 0; i < n; i++) {
            int used = 0;
            for (int t = 0; t < ntaken && !used; t++) used = taken[t] == i;
            if (!used && (far < 0 || dist[i] > dist[far])) far = i;
        }
        if (far < 0) break;
        taken[ntaken++] = far;
        int32_t from = labels[far];
        for (int j = 0; j < d; j++) {
            cen[(size_t)from * d + j] -= x[far * d + j];
            cen[(size_t)e * d + j] = x[far * d + j];
        }
        w[e] = 1;
        w[from] -= 1;
    }
    for (int c = 0; c < k; c++)
        for (int j = 0; j < d; j++)
            cen[(size_t)c * d + j] = w[c] > 0 ? cen[(size_t)c * d + j] / w[c]
                                              : old[(size_t)c * d + j];
}

gd_status gd_gmm_kmeans(const double *x, int64_t n, int d, int k, gd_rng *rng, int32_t *labels,
                        gd_error *err) {
    int trials = 2 + (int)log((double)k);
    double *centers = malloc(sizeof(double) * k * d), *next = malloc(sizeof(double) * k * d);
    double *w = malloc(sizeof(double) * k);
    double *scratch = malloc(sizeof(double) * (size_t)n * (trials + 2));
    int32_t *old = malloc(sizeof(int32_t) * (size_t)n);
    int64_t *taken = malloc(sizeof(int64_t) * k);
    gd_status s = GD_OK;
    if (!centers || !next || !w || !scratch || !old || !taken) {
        s = gd_error_set(err, GD_ERR_NOMEM, "out of memory for k-means of %lld points",
                         (long long)n);
        goto done;
    }
    double *dist = scratch, *cum = scratch + n, *cand = scratch + 2 * n;
    seed_plusplus(x, n, d, k, rng, centers, dist, cand, cum);

    /* tol scaled by the mean variance of the features, as sklearn's _tolerance */
    double tol = 0;
    for (int j = 0; j < d; j++) {
        double mean = 0, var = 0;
        for (int64_t i = 0; i < n; i++) mean += x[i * d + j];
        mean /= (double)n;
        for (int64_t i = 0; i < n; i++) var += (x[i * d + j] - mean) * (x[i * d + j] - mean);
        tol += var / (double)n;
    }
    tol = tol / d * GD_KMEANS_TOL;

    for (int64_t i = 0; i < n; i++) old[i] = -1;
    int strict = 0;
    for (int it = 0; it < GD_KMEANS_MAX_ITER; it++) {
        assign(x, n, d, k, centers, labels, dist);
        update(x, n, d, k, labels, dist, centers, next, w, taken);
        double shift = 0;
        for (size_t i = 0; i < (size_t)k * d; i++)
            shift += (next[i] - centers[i]) * (next[i] - centers[i]);
        double *t = centers;
        centers = next;
        next = t;
        if (!memcmp(labels, old, sizeof(int32_t) * (size_t)n)) {
            strict = 1;
            break;
        }
        if (shift <= tol) break;
        memcpy(old, labels, sizeof(int32_t) * (size_t)n);
    }
    if (!strict) assign(x, n, d, k, centers, labels, dist);
done:
    free(centers), free(next), free(w), free(scratch), free(old), free(taken);
    return s;
}
