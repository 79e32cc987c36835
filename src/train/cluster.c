/* cluster.c - PCA embedding of images, a GMM over it, and the "cluster" attribute (cluster.h). */
#include "gmmdiff/cluster.h"
#include "core/blas.h"
#include "gmmdiff/linalg.h"
#include "gmmdiff/safetensors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIT_SAMPLE 20000 /* items the principal directions are found from */
#define OVERSAMPLE 8     /* extra directions carried by the subspace iteration */
#define ITERATIONS 8

void gd_cluster_free(gd_cluster_model *m) {
    if (!m) return;
    free(m->mean);
    free(m->basis);
    free(m->variance);
    gd_gmm_free(&m->gmm);
    memset(m, 0, sizeof *m);
}

/* orthonormalises the columns of q [rows, p] (modified Gram-Schmidt, twice, in double) */
static void orthonormalise(float *q, int64_t rows, int p) {
    for (int pass = 0; pass < 2; pass++)
        for (int j = 0; j < p; j++) {
            for (int i = 0; i < j; i++) {
                double dot = 0.0;
                for (int64_t r = 0; r < rows; r++) dot += (double)q[r * p + i] * q[r * p + j];
                for (int64_t r = 0; r < rows; r++) q[r * p + j] -= (float)(dot * q[r * p + i]);
            }
            double nn = 0.0;
            for (int64_t r = 0; r < rows; r++) nn += (double)q[r * p + j] * q[r * p + j];
            double inv = nn > 0 ? 1.0 / sqrt(nn) : 0.0;
            for (int64_t r = 0; r < rows; r++) q[r * p + j] = (float)(q[r * p + j] * inv);
        }
}

/* the top m->dims principal directions of the centred rows xc [n, D] into m->basis, m->variance */
static gd_status principal_directions(gd_cluster_model *m, const float *xc, int64_t n,
                                      gd_rng *rng, gd_error *err) {
    const int D = m->in_dim;
    int p = m->dims + OVERSAMPLE;
    if (p > D) p = D;
    if (p > n) p = (int)n;
    if (p < m->dims)
        return gd_error_set(err, GD_ERR_ARG, "clustering: %lld items cannot give %d principal "
                            "directions", (long long)n, m->dims);
    float *q = malloc(sizeof(float) * (size_t)D * p), *z = malloc(sizeof(float) * (size_t)n * p);
    double *g = malloc(sizeof(double) * (size_t)p * p), *v = malloc(sizeof(double) * (size_t)p * p);
    double *w = malloc(sizeof(double) * (size_t)p);
    int *order = malloc(sizeof(int) * (size_t)p);
    gd_status s = GD_OK;
    if (!q || !z || !g || !v || !w || !order) {
        s = gd_error_set(err, GD_ERR_NOMEM, "clustering: out of memory");
        goto done;
    }
    for (size_t i = 0; i < (size_t)D * p; i++) q[i] = (float)gd_rng_normal(rng);
    orthonormalise(q, D, p);
    for (int it = 0; it < ITERATIONS; it++) { /* q <- orth(X^T X q) */
        gd_sgemm(0, 0, (int)n, p, D, 1.0f, xc, D, q, p, 0.0f, z, p);
        gd_sgemm(1, 0, D, p, (int)n, 1.0f, xc, D, z, p, 0.0f, q, p);
        orthonormalise(q, D, p);
    }
    /* Rayleigh-Ritz: the eigenvectors of q^T X^T X q rotate q into principal directions */
    gd_sgemm(0, 0, (int)n, p, D, 1.0f, xc, D, q, p, 0.0f, z, p);
    for (int i = 0; i < p; i++)
        for (int j = 0; j < p; j++) {
            double acc = 0.0;
            for (int64_t r = 0; r < n; r++) acc += (double)z[r * p + i] * z[r * p + j];
            g[i * p + j] = acc;
        }
    gd_sym_eigen(g, p, w, v);
    for (int i = 0; i < p; i++) order[i] = i;
    for (int i = 1; i < p; i++) /* by decreasing eigenvalue; ties keep their order */
        for (int j = i; j > 0 && w[order[j]] > w[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (int r = 0; r < m->dims; r++) {
        int e = order[r];
        float *b = m->basis + (size_t)r * D;
        double big = 0.0;
        for (int k = 0; k < D; k++) {
            double acc = 0.0;
            for (int j = 0; j < p; j++) acc += (double)q[(size_t)k * p + j] * v[j * p + e];
            b[k] = (float)acc;
            if (fabs(acc) > fabs(big)) big = acc;
        }
        if (big < 0) /* a fixed sign: the largest coordinate positive */
            for (int k = 0; k < D; k++) b[k] = -b[k];
        m->variance[r] = w[e] / (double)(n > 1 ? n - 1 : 1);
    }
done:
    free(q);
    free(z);
    free(g);
    free(v);
    free(w);
    free(order);
    return s;
}

void gd_cluster_embed(const gd_cluster_model *m, const float *images, int64_t n, double *out) {
    const int D = m->in_dim;
    enum { CHUNK = 1024 };
    float *xc = malloc(sizeof(float) * (size_t)CHUNK * D);
    float *z = malloc(sizeof(float) * (size_t)CHUNK * m->dims);
    GD_ASSERT(xc && z);
    for (int64_t i0 = 0; i0 < n; i0 += CHUNK) {
        int c = (int)(n - i0 < CHUNK ? n - i0 : CHUNK);
        for (int i = 0; i < c; i++)
            for (int k = 0; k < D; k++)
                xc[(size_t)i * D + k] = images[(size_t)(i0 + i) * D + k] - m->mean[k];
        gd_sgemm(0, 1, c, m->dims, D, 1.0f, xc, D, m->basis, D, 0.0f, z, m->dims);
        for (size_t j = 0; j < (size_t)c * m->dims; j++) out[(size_t)i0 * m->dims + j] = z[j];
    }
    free(xc);
    free(z);
}

gd_status gd_cluster_assign(const gd_cluster_model *m, const float *images, int64_t n,
                            int *labels, gd_error *err) {
    double *e = malloc(sizeof(double) * (size_t)n * m->dims);
    int32_t *l = malloc(sizeof(int32_t) * (size_t)(n > 0 ? n : 1));
    if (!e || !l) {
        free(e);
        free(l);
        return gd_error_set(err, GD_ERR_NOMEM, "clustering: out of memory");
    }
    gd_cluster_embed(m, images, n, e);
    gd_status s = gd_gmm_predict(&m->gmm, e, n, l, err);
    for (int64_t i = 0; !s && i < n; i++) labels[i] = l[i];
    free(e);
    free(l);
    return s;
}

gd_status gd_cluster_fit(gd_cluster_model *m, const gd_dataset *d, int k, int dims,
                         uint64_t seed, gd_error *err) {
    memset(m, 0, sizeof *m);
    const int D = d->c * d->h * d->w;
    if (k < 2 || k > GD_CLUSTER_MAX_K)
        return gd_error_set(err, GD_ERR_ARG, "--clusters must be in [2, %d] (got %d)",
                            GD_CLUSTER_MAX_K, k);
    if (dims < 1 || dims > GD_CLUSTER_MAX_DIMS || dims > D)
        return gd_error_set(err, GD_ERR_ARG, "--cluster-dims must be in [1, %d] (got %d)",
                            D < GD_CLUSTER_MAX_DIMS ? D : GD_CLUSTER_MAX_DIMS, dims);
    if (d->n < 2 * k)
        return gd_error_set(err, GD_ERR_ARG, "clustering: %d items are too few for %d clusters",
                            d->n, k);
    m->k = k;
    m->dims = dims;
    m->in_dim = D;
    m->mean = calloc((size_t)D, sizeof(float));
    m->basis = calloc((size_t)dims * D, sizeof(float));
    m->variance = calloc((size_t)dims, sizeof(double));
    int64_t ns = d->n < FIT_SAMPLE ? d->n : FIT_SAMPLE;
    float *xc = malloc(sizeof(float) * (size_t)ns * D);
    int *perm = malloc(sizeof(int) * (size_t)d->n);
    double *e = malloc(sizeof(double) * (size_t)d->n * dims);
    double *acc = calloc((size_t)D, sizeof(double));
    gd_status s = GD_OK;
    if (!m->mean || !m->basis || !m->variance || !xc || !perm || !e || !acc) {
        s = gd_error_set(err, GD_ERR_NOMEM, "clustering: out of memory");
        goto done;
    }
    gd_rng rng;
    gd_rng_seed(&rng, gd_mix64(seed ^ 0x636c75737465ULL)); /* "cluste" */
    gd_rng_permutation(&rng, perm, d->n);
    for (int64_t i = 0; i < ns; i++) {
        const float *img = d->images + (size_t)perm[i] * D;
        for (int j = 0; j < D; j++) {
            if (!isfinite(img[j])) {
                s = gd_error_set(err, GD_ERR_NUMERIC, "clustering: item %d has a non-finite pixel",
                                 perm[i]);
                goto done;
            }
            acc[j] += img[j];
        }
    }
    for (int j = 0; j < D; j++) m->mean[j] = (float)(acc[j] / (double)ns);
    for (int64_t i = 0; i < ns; i++)
        for (int j = 0; j < D; j++)
            xc[(size_t)i * D + j] = d->images[(size_t)perm[i] * D + j] - m->mean[j];
    if ((s = principal_directions(m, xc, ns, &rng, err))) goto done;
    if (!(m->variance[0] > 0)) {
        s = gd_error_set(err, GD_ERR_ARG, "clustering: every image is the same; there is "
                         "nothing to cluster");
        goto done;
    }
    gd_cluster_embed(m, d->images, d->n, e);
    gd_gmm_options o;
    gd_gmm_options_default(&o);
    o.k = k;
    o.cov = GD_GMM_COV_DIAG;
    o.n_init = 3;
    o.max_iter = 200;
    o.seed = gd_mix64(seed ^ 0x676d6dULL); /* "gmm" */
    s = gd_gmm_fit(&m->gmm, e, d->n, dims, &o, err);
done:
    free(xc);
    free(perm);
    free(e);
    free(acc);
    if (s) gd_cluster_free(m);
    return s;
}

gd_status gd_cluster_relabel(gd_dataset *d, const gd_cluster_model *m, gd_error *err) {
    if (m->in_dim != d->c * d->h * d->w)
        return gd_error_set(err, GD_ERR_SHAPE, "clustering: the model embeds images of %d "
                            "values, the data's have %d", m->in_dim, d->c * d->h * d->w);
    int *lab = malloc(sizeof(int) * (size_t)d->n);
    char (*names)[GD_DATA_NAME_MAX] = calloc((size_t)m->k, GD_DATA_NAME_MAX);
    gd_status s = GD_OK;
    if (!lab || !names) s = gd_error_set(err, GD_ERR_NOMEM, "clustering: out of memory");
    if (!s) s = gd_cluster_assign(m, d->images, d->n, lab, err);
    for (int j = 0; !s && j < m->k; j++) snprintf(names[j], GD_DATA_NAME_MAX, "c%d", j);
    if (!s) s = gd_dataset_single_attribute(d, "cluster", m->k, names, lab, err);
    free(lab);
    free(names);
    return s;
}

gd_status gd_cluster_save(const gd_cluster_model *m, const char *dir, gd_error *err) {
    char path[4200];
    float *var = malloc(sizeof(float) * (size_t)m->dims);
    if (!var) return gd_error_set(err, GD_ERR_NOMEM, "clustering: out of memory");
    for (int i = 0; i < m->dims; i++) var[i] = (float)m->variance[i];
    int64_t smean[1] = {m->in_dim}, sbasis[2] = {m->dims, m->in_dim}, svar[1] = {m->dims};
    gd_st_entry e[3] = {{"mean", m->mean, 1, smean}, {"basis", m->basis, 2, sbasis},
                        {"variance", var, 1, svar}};
    snprintf(path, sizeof path, "%s/cluster.safetensors", dir);
    gd_status s = gd_st_write(path, e, 3, err);
    free(var);
    if (s) return s;
    snprintf(path, sizeof path, "%s/cluster_gmm.json", dir);
    return gd_gmm_save(&m->gmm, path, err);
}

gd_status gd_cluster_load(gd_cluster_model *m, const char *dir, gd_error *err) {
    memset(m, 0, sizeof *m);
    char path[4200];
    snprintf(path, sizeof path, "%s/cluster_gmm.json", dir);
    gd_status s = gd_gmm_load(&m->gmm, path, err);
    if (s) return s;
    snprintf(path, sizeof path, "%s/cluster.safetensors", dir);
    gd_safetensors st = {0};
    if ((s = gd_st_open(&st, path, err))) goto fail;
    const gd_st_tensor *b = gd_st_find(&st, "basis");
    if (!b || b->ndim != 2 || b->shape[0] != m->gmm.d || b->shape[1] < 1 ||
        b->shape[1] > (1 << 24) || m->gmm.k < 2 || m->gmm.k > GD_CLUSTER_MAX_K) {
        s = gd_error_set(err, GD_ERR_SHAPE, "%s: 'basis' must be [%d, pixels] for the GMM of "
                         "%d dimensions and 2 to %d components beside it", path, m->gmm.d,
                         m->gmm.d, GD_CLUSTER_MAX_K);
        goto fail;
    }
    m->k = m->gmm.k;
    m->dims = m->gmm.d;
    m->in_dim = (int)b->shape[1];
    m->mean = malloc(sizeof(float) * (size_t)m->in_dim);
    m->basis = malloc(sizeof(float) * (size_t)m->dims * m->in_dim);
    m->variance = malloc(sizeof(double) * (size_t)m->dims);
    float *var = malloc(sizeof(float) * (size_t)m->dims);
    if (!m->mean || !m->basis || !m->variance || !var) {
        free(var);
        s = gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    int64_t smean[1] = {m->in_dim}, sbasis[2] = {m->dims, m->in_dim}, svar[1] = {m->dims};
    if (!(s = gd_st_read_f32(&st, "mean", m->mean, 1, smean, err)) &&
        !(s = gd_st_read_f32(&st, "basis", m->basis, 2, sbasis, err)) &&
        !(s = gd_st_read_f32(&st, "variance", var, 1, svar, err)))
        for (int i = 0; i < m->dims; i++) m->variance[i] = var[i];
    free(var);
    if (s) goto fail;
    gd_st_close(&st);
    return GD_OK;
fail:
    gd_st_close(&st);
    gd_cluster_free(m);
    return s;
}
