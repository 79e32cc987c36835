/* quality.c - Frechet distance and k-NN precision/recall (quality.h). */
#include "gmmdiff/quality.h"
#include "gmmdiff/linalg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* mean [d] and unbiased covariance [d, d] of x [n, d] */
static void moments(const float *x, int64_t n, int d, double *mu, double *cov) {
    memset(mu, 0, sizeof(double) * d);
    memset(cov, 0, sizeof(double) * (size_t)d * d);
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < d; k++) mu[k] += x[i * d + k];
    for (int k = 0; k < d; k++) mu[k] /= (double)n;
    double *c = malloc(sizeof(double) * d);
    GD_ASSERT(c);
    for (int64_t i = 0; i < n; i++) {
        for (int k = 0; k < d; k++) c[k] = x[i * d + k] - mu[k];
        for (int a = 0; a < d; a++)
            for (int b = a; b < d; b++) cov[a * d + b] += c[a] * c[b];
    }
    for (int a = 0; a < d; a++)
        for (int b = a; b < d; b++) {
            cov[a * d + b] /= (double)(n - 1);
            cov[b * d + a] = cov[a * d + b];
        }
    free(c);
}

static gd_status check(const float *x, int64_t n, int d, const char *what, gd_error *err) {
    for (int64_t i = 0; i < n * d; i++)
        if (!isfinite(x[i]))
            return gd_error_set(err, GD_ERR_NUMERIC, "%s: feature %lld of item %lld is not "
                                "finite", what, (long long)(i % d), (long long)(i / d));
    return GD_OK;
}

gd_status gd_frechet_distance(const float *a, int64_t na, const float *b, int64_t nb, int d,
                              double *fd, gd_error *err) {
    if (na < 2 || nb < 2 || d < 1 || d > GD_QUALITY_MAX_DIM)
        return gd_error_set(err, GD_ERR_ARG, "Frechet distance: needs at least 2 items a side "
                            "and 1 to %d features (got %lld, %lld, %d)", GD_QUALITY_MAX_DIM,
                            (long long)na, (long long)nb, d);
    gd_status s;
    if ((s = check(a, na, d, "Frechet distance, first set", err)) ||
        (s = check(b, nb, d, "Frechet distance, second set", err)))
        return s;
    const size_t dd = (size_t)d * d;
    double *mua = malloc(sizeof(double) * d), *mub = malloc(sizeof(double) * d);
    double *ca = malloc(sizeof(double) * dd), *cb = malloc(sizeof(double) * dd);
    double *v = malloc(sizeof(double) * dd), *w = malloc(sizeof(double) * d);
    double *sa = malloc(sizeof(double) * dd), *t = malloc(sizeof(double) * dd);
    if (!mua || !mub || !ca || !cb || !v || !w || !sa || !t) {
        s = gd_error_set(err, GD_ERR_NOMEM, "Frechet distance: out of memory");
        goto done;
    }
    moments(a, na, d, mua, ca);
    moments(b, nb, d, mub, cb);
    double dist = 0, tr = 0;
    for (int k = 0; k < d; k++) {
        dist += (mua[k] - mub[k]) * (mua[k] - mub[k]);
        tr += ca[k * d + k] + cb[k * d + k];
    }
    /* sa = C_a^1/2 = V diag(sqrt(max(w, 0))) V^T (ca is destroyed) */
    memcpy(t, ca, sizeof(double) * dd);
    gd_sym_eigen(t, d, w, v);
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            double acc = 0;
            for (int k = 0; k < d; k++) acc += v[i * d + k] * sqrt(w[k] > 0 ? w[k] : 0) * v[j * d + k];
            sa[i * d + j] = acc;
        }
    /* t = sa cb sa, symmetric PSD; tr of its square root = sum of sqrt of its eigenvalues */
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            double acc = 0;
            for (int k = 0; k < d; k++) acc += sa[i * d + k] * cb[k * d + j];
            ca[i * d + j] = acc; /* sa cb */
        }
    for (int i = 0; i < d; i++)
        for (int j = i; j < d; j++) {
            double acc = 0;
            for (int k = 0; k < d; k++) acc += ca[i * d + k] * sa[k * d + j];
            t[i * d + j] = t[j * d + i] = acc;
        }
    gd_sym_eigen(t, d, w, v);
    double root = 0;
    for (int k = 0; k < d; k++) root += sqrt(w[k] > 0 ? w[k] : 0);
    *fd = dist + tr - 2.0 * root;
    if (*fd < 0) *fd = 0; /* rounding when the sets coincide */
done:
    free(mua);
    free(mub);
    free(ca);
    free(cb);
    free(v);
    free(w);
    free(sa);
    free(t);
    return s;
}

static double dist2(const float *x, const float *y, int d) {
    double s = 0;
    for (int k = 0; k < d; k++) s += ((double)x[k] - y[k]) * ((double)x[k] - y[k]);
    return s;
}

/* radius2 [n]: each point's squared distance to its k-th nearest other point of x */
static gd_status knn_radii(const float *x, int64_t n, int d, int k, double *radius2,
                           gd_error *err) {
    double *best = malloc(sizeof(double) * (size_t)k);
    if (!best) return gd_error_set(err, GD_ERR_NOMEM, "precision/recall: out of memory");
    for (int64_t i = 0; i < n; i++) {
        int m = 0; /* the k smallest distances so far, ascending */
        for (int64_t j = 0; j < n; j++) {
            if (j == i) continue;
            double q = dist2(x + i * d, x + j * d, d);
            if (m == k && q >= best[k - 1]) continue;
            int p = m < k ? m++ : k - 1;
            while (p > 0 && best[p - 1] > q) {
                best[p] = best[p - 1];
                p--;
            }
            best[p] = q;
        }
        radius2[i] = best[k - 1];
    }
    free(best);
    return GD_OK;
}

/* the fraction of the points q [nq, d] inside at least one ball (centres c, radii2) */
static double covered(const float *c, const double *radius2, int64_t nc, const float *q,
                      int64_t nq, int d) {
    int64_t in = 0;
    for (int64_t i = 0; i < nq; i++)
        for (int64_t j = 0; j < nc; j++)
            if (dist2(q + i * d, c + j * d, d) <= radius2[j]) {
                in++;
                break;
            }
    return (double)in / (double)nq;
}

gd_status gd_knn_precision_recall(const float *real, int64_t nr, const float *fake, int64_t nf,
                                  int d, int k, double *precision, double *recall,
                                  gd_error *err) {
    if (k < 1 || k >= nr || k >= nf || d < 1)
        return gd_error_set(err, GD_ERR_ARG, "precision/recall: k = %d needs more than k items "
                            "a side (%lld real, %lld generated) and d >= 1", k, (long long)nr,
                            (long long)nf);
    gd_status s;
    if ((s = check(real, nr, d, "precision/recall, real set", err)) ||
        (s = check(fake, nf, d, "precision/recall, generated set", err)))
        return s;
    double *rr = malloc(sizeof(double) * (size_t)nr), *rf = malloc(sizeof(double) * (size_t)nf);
    if (!rr || !rf) {
        free(rr);
        free(rf);
        return gd_error_set(err, GD_ERR_NOMEM, "precision/recall: out of memory");
    }
    if (!(s = knn_radii(real, nr, d, k, rr, err)) && !(s = knn_radii(fake, nf, d, k, rf, err))) {
        *precision = covered(real, rr, nr, fake, nf, d);
        *recall = covered(fake, rf, nf, real, nr, d);
    }
    free(rr);
    free(rf);
    return s;
}
