/* test_cluster.c - `--cond cluster`: the PCA embedding (known spectrum, eigen-pair residuals
 * against the sample covariance, orthonormal rows), the GMM's partition of well separated
 * groups of images, relabelling, the files' round trip, determinism and bad input. */
#include "gmmdiff/cluster.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { SIDE = 8, D = SIDE * SIDE, N = 3000, R = 5 };

/* images = centre + sum_j a_j s_j u_j + noise: u_j orthonormal directions, a_j ~ N(0, 1),
 * s = 5, 4, 3, 2, 1; noise 0.01 per pixel. u (optional) receives the directions [R, D]. */
static void make_spectrum(gd_dataset *d, double *u) {
    gd_error err;
    GD_ASSERT(gd_dataset_alloc(d, N, 1, SIDE, SIDE, 1, &err) == GD_OK);
    snprintf(d->attrs[0].name, GD_DATA_NAME_MAX, "x");
    d->attrs[0].kind = GD_ATTR_CONTINUOUS;
    gd_rng r;
    gd_rng_seed(&r, 11);
    double dir[R][D];
    for (int j = 0; j < R; j++) { /* Gram-Schmidt of random vectors */
        for (int k = 0; k < D; k++) dir[j][k] = gd_rng_normal(&r);
        for (int i = 0; i < j; i++) {
            double dot = 0;
            for (int k = 0; k < D; k++) dot += dir[i][k] * dir[j][k];
            for (int k = 0; k < D; k++) dir[j][k] -= dot * dir[i][k];
        }
        double nn = 0;
        for (int k = 0; k < D; k++) nn += dir[j][k] * dir[j][k];
        for (int k = 0; k < D; k++) dir[j][k] /= sqrt(nn);
    }
    if (u) memcpy(u, dir, sizeof dir);
    for (int i = 0; i < N; i++)
        for (int k = 0; k < D; k++) {
            double v = 0.1 * sin(k) + 0.01 * gd_rng_normal(&r);
            d->images[(size_t)i * D + k] = (float)v;
        }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < R; j++) {
            double a = gd_rng_normal(&r) * (R - j);
            for (int k = 0; k < D; k++) d->images[(size_t)i * D + k] += (float)(a * dir[j][k]);
        }
}

/* four groups: each image one of four prototypes plus noise 0.2; cls = the group */
static void make_groups(gd_dataset *d) {
    gd_error err;
    GD_ASSERT(gd_dataset_alloc(d, 800, 1, SIDE, SIDE, 1, &err) == GD_OK);
    snprintf(d->attrs[0].name, GD_DATA_NAME_MAX, "g");
    d->attrs[0].kind = GD_ATTR_CATEGORICAL;
    d->attrs[0].n_values = 4;
    gd_rng r;
    gd_rng_seed(&r, 5);
    for (int i = 0; i < d->n; i++) {
        int g = i % 4;
        d->cls[i] = g;
        d->labels[i] = g;
        for (int k = 0; k < D; k++) {
            int y = k / SIDE, x = k % SIDE; /* a bright quadrant per group */
            int q = (y >= SIDE / 2) * 2 + (x >= SIDE / 2);
            d->images[(size_t)i * D + k] = (float)((q == g ? 0.8 : -0.8) + 0.2 * gd_rng_normal(&r));
        }
    }
    d->n_classes = 4;
}

int main(void) {
    gd_error err = {0};
    gd_dataset d = {0};
    double u[R * D];
    make_spectrum(&d, u);
    gd_cluster_model m = {0};
    TEST_COND("fit the spectrum", gd_cluster_fit(&m, &d, 3, R, 1, &err) == GD_OK);

    /* the sample covariance, in double */
    double *mean = calloc(D, sizeof(double)), *cov = calloc((size_t)D * D, sizeof(double));
    for (int i = 0; i < N; i++)
        for (int k = 0; k < D; k++) mean[k] += d.images[(size_t)i * D + k] / (double)N;
    for (int i = 0; i < N; i++)
        for (int a = 0; a < D; a++) {
            double xa = d.images[(size_t)i * D + a] - mean[a];
            for (int b = 0; b < D; b++)
                cov[a * D + b] += xa * (d.images[(size_t)i * D + b] - mean[b]) / (N - 1);
        }
    double worst_res = 0, worst_orth = 0, worst_align = 1, worst_var = 0;
    for (int r = 0; r < R; r++) {
        const float *b = m.basis + (size_t)r * D;
        double cb[D], lam = 0;
        for (int a = 0; a < D; a++) {
            cb[a] = 0;
            for (int k = 0; k < D; k++) cb[a] += cov[a * D + k] * b[k];
            lam += b[a] * cb[a];
        }
        double res = 0;
        for (int a = 0; a < D; a++) res += (cb[a] - lam * b[a]) * (cb[a] - lam * b[a]);
        res = sqrt(res) / lam;
        if (res > worst_res) worst_res = res;
        double rv = fabs(m.variance[r] - lam) / lam;
        if (rv > worst_var) worst_var = rv;
        for (int q = 0; q <= r; q++) {
            double dot = 0;
            for (int k = 0; k < D; k++) dot += (double)b[k] * m.basis[(size_t)q * D + k];
            double e = fabs(dot - (q == r));
            if (e > worst_orth) worst_orth = e;
        }
        double al = 0;
        for (int k = 0; k < D; k++) al += b[k] * u[r * D + k];
        if (fabs(al) < worst_align) worst_align = fabs(al);
        printf("row %d: variance %.4f, alignment %.6f\n", r, m.variance[r], fabs(al));
    }
    printf("eigen-pair residual |Cb - lb|/l %.2e, variance vs b'Cb %.2e, orthonormality %.2e, "
           "alignment with the planted directions %.6f\n", worst_res, worst_var, worst_orth,
           worst_align);
    TEST_COND("each basis row is an eigenvector of the sample covariance", worst_res < 1e-3);
    TEST_COND("variance is the Rayleigh quotient", worst_var < 1e-4);
    TEST_COND("rows orthonormal", worst_orth < 1e-5);
    /* the sample's eigenvectors are the planted ones only up to sampling: a sample correlation
     * of ~1/sqrt(N) between a_i and a_j turns them by ~corr s_i s_j / (s_i^2 - s_j^2), about
     * 0.04 rad for s = 5 and 4; the strict check is the eigen-pair residual above */
    TEST_COND("rows are the planted directions, in order", worst_align > 0.99);
    for (int r = 0; r < R; r++)
        TEST_COND("variance near the planted s^2", fabs(m.variance[r] / ((R - r) * (R - r)) - 1) < 0.1);
    double mean_err = 0;
    for (int k = 0; k < D; k++) mean_err = fmax(mean_err, fabs(m.mean[k] - mean[k]));
    TEST_COND("mean is the pixel mean", mean_err < 1e-5);
    gd_cluster_model m2 = {0};
    TEST_COND("refit", gd_cluster_fit(&m2, &d, 3, R, 1, &err) == GD_OK);
    TEST_COND("same seed, same basis", !memcmp(m.basis, m2.basis, sizeof(float) * R * D));
    gd_cluster_free(&m2);
    gd_cluster_free(&m);
    free(mean);
    free(cov);
    gd_dataset_free(&d);

    /* clusters of separated groups */
    make_groups(&d);
    TEST_COND("fit the groups", gd_cluster_fit(&m, &d, 4, 4, 3, &err) == GD_OK);
    int *lab = malloc(sizeof(int) * d.n), map[4] = {-1, -1, -1, -1}, pure = 1;
    TEST_COND("assign", gd_cluster_assign(&m, d.images, d.n, lab, &err) == GD_OK);
    for (int i = 0; i < d.n; i++) {
        if (map[d.cls[i]] < 0) map[d.cls[i]] = lab[i];
        pure &= map[d.cls[i]] == lab[i];
    }
    TEST_COND("each group is one cluster", pure);
    TEST_COND("the four clusters differ", map[0] != map[1] && map[0] != map[2] &&
              map[0] != map[3] && map[1] != map[2] && map[1] != map[3] && map[2] != map[3]);
    char dir[] = "/tmp/gd_cluster_XXXXXX";
    GD_ASSERT(mkdtemp(dir));
    TEST_COND("save", gd_cluster_save(&m, dir, &err) == GD_OK);
    gd_cluster_model l = {0};
    TEST_COND("load", gd_cluster_load(&l, dir, &err) == GD_OK);
    int *lab2 = malloc(sizeof(int) * d.n);
    TEST_COND("assign after load", gd_cluster_assign(&l, d.images, d.n, lab2, &err) == GD_OK &&
              !memcmp(lab, lab2, sizeof(int) * d.n));
    TEST_COND("loaded shapes", l.k == 4 && l.dims == 4 && l.in_dim == D);
    gd_cluster_free(&l);
    TEST_COND("relabel", gd_cluster_relabel(&d, &m, &err) == GD_OK);
    int same = 1;
    for (int i = 0; i < d.n; i++) same &= d.labels[i] == lab[i] && d.cls[i] == lab[i];
    TEST_COND("relabelled: one attribute 'cluster', values c0..c3, classes the clusters",
              same && d.n_attrs == 1 && !strcmp(d.attrs[0].name, "cluster") &&
              d.attrs[0].n_values == 4 && !strcmp(d.attrs[0].values[3], "c3") && d.n_classes == 4 &&
              isnan(d.cont[0]));

    /* a corrupt file beside the GMM: a basis of the wrong shape */
    char path[200];
    snprintf(path, sizeof path, "%s/cluster.safetensors", dir);
    FILE *f = fopen(path, "r+b");
    GD_ASSERT(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    GD_ASSERT(truncate(path, size / 2) == 0);
    TEST_COND("truncated cluster.safetensors refused", gd_cluster_load(&l, dir, &err) != GD_OK &&
              strstr(err.msg, "cluster.safetensors"));
    printf("  message: %s\n", err.msg);
    snprintf(path, sizeof path, "%s/cluster_gmm.json", dir);
    unlink(path);
    TEST_COND("missing cluster_gmm.json refused", gd_cluster_load(&l, dir, &err) != GD_OK &&
              strstr(err.msg, "cluster_gmm.json"));
    snprintf(path, sizeof path, "%s/cluster.safetensors", dir);
    unlink(path);
    rmdir(dir);

    /* bad requests */
    TEST_COND("k = 1 refused", gd_cluster_fit(&l, &d, 1, 4, 0, &err) == GD_ERR_ARG &&
              strstr(err.msg, "--clusters"));
    TEST_COND("too many dims refused", gd_cluster_fit(&l, &d, 4, D + 1, 0, &err) == GD_ERR_ARG &&
              strstr(err.msg, "--cluster-dims"));
    for (size_t i = 0; i < (size_t)d.n * D; i++) d.images[i] = 0.5f;
    TEST_COND("identical images refused", gd_cluster_fit(&l, &d, 4, 4, 0, &err) != GD_OK &&
              strstr(err.msg, "the same"));
    d.images[7] = NAN;
    TEST_COND("a NaN pixel refused", gd_cluster_fit(&l, &d, 4, 4, 0, &err) == GD_ERR_NUMERIC &&
              strstr(err.msg, "non-finite"));
    gd_cluster_free(&m);
    free(lab);
    free(lab2);
    gd_dataset_free(&d);
    return gd_test_report("cluster");
}
