/* test_quality.c - the Frechet distance against exact identities (the same set, a shifted set,
 * a scaled set) and against the closed form in two dimensions; on real images (shapes, two
 * disjoint halves, in a PCA feature space) it is near zero and grows with noise added to one
 * half while k-NN precision falls, and keeping only one shape keeps precision and cuts recall;
 * bad input refused. */
#include "gmmdiff/cluster.h"
#include "gmmdiff/quality.h"
#include "gmmdiff/shapes.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the closed form in 2-D: tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)), M = Ca^1/2 Cb Ca^1/2 */
static double fd2_closed(const float *a, const float *b, int n) {
    double ma[2] = {0, 0}, mb[2] = {0, 0}, ca[4] = {0}, cb[4] = {0};
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 2; k++) {
            ma[k] += a[2 * i + k] / (double)n;
            mb[k] += b[2 * i + k] / (double)n;
        }
    for (int i = 0; i < n; i++)
        for (int p = 0; p < 2; p++)
            for (int q = 0; q < 2; q++) {
                ca[p * 2 + q] += (a[2 * i + p] - ma[p]) * (a[2 * i + q] - ma[q]) / (n - 1);
                cb[p * 2 + q] += (b[2 * i + p] - mb[p]) * (b[2 * i + q] - mb[q]) / (n - 1);
            }
    double trab = ca[0] * cb[0] + ca[1] * cb[2] + ca[2] * cb[1] + ca[3] * cb[3];
    double det = (ca[0] * ca[3] - ca[1] * ca[2]) * (cb[0] * cb[3] - cb[1] * cb[2]);
    double d2 = (ma[0] - mb[0]) * (ma[0] - mb[0]) + (ma[1] - mb[1]) * (ma[1] - mb[1]);
    return d2 + ca[0] + ca[3] + cb[0] + cb[3] - 2 * sqrt(trab + 2 * sqrt(det));
}

int main(void) {
    gd_error err = {0};
    gd_rng r;
    gd_rng_seed(&r, 5);
    /* exact identities on correlated 12-D data */
    enum { N = 3000, D = 12 };
    float *a = malloc(sizeof(float) * N * D), *b = malloc(sizeof(float) * N * D);
    for (int i = 0; i < N; i++) {
        double z[D];
        for (int k = 0; k < D; k++) z[k] = gd_rng_normal(&r);
        for (int k = 0; k < D; k++) a[i * D + k] = (float)(z[k] * (1 + 0.3 * k) + 0.5 * z[(k + 1) % D] + k);
    }
    double fd, tr = 0, mu[D] = {0};
    TEST_COND("FD(a, a)", gd_frechet_distance(a, N, a, N, D, &fd, &err) == GD_OK);
    printf("FD(a, a) = %.3e\n", fd);
    TEST_COND("FD of a set with itself is 0", fd < 1e-6);
    for (int i = 0; i < N * D; i++) b[i] = a[i] + (i % D == 3 ? 2.0f : 0.0f);
    gd_frechet_distance(a, N, b, N, D, &fd, &err);
    printf("FD(a, a shifted by 2 in one coordinate) = %.9f (exact 4)\n", fd);
    TEST_COND("a shift by delta gives |delta|^2", fabs(fd - 4.0) < 1e-4);
    for (int i = 0; i < N; i++)
        for (int k = 0; k < D; k++) mu[k] += a[i * D + k] / (double)N;
    for (int i = 0; i < N; i++)
        for (int k = 0; k < D; k++) {
            b[i * D + k] = (float)(mu[k] + 2.0 * (a[i * D + k] - mu[k]));
            tr += (a[i * D + k] - mu[k]) * (a[i * D + k] - mu[k]) / (N - 1);
        }
    gd_frechet_distance(a, N, b, N, D, &fd, &err);
    printf("FD(a, a scaled by 2 about its mean) = %.6f, tr C_a = %.6f\n", fd, tr);
    TEST_COND("a scaling by 2 gives tr C_a", fabs(fd - tr) < 1e-4 * tr);
    /* two non-commuting 2-D covariances against the closed form */
    float *p = malloc(sizeof(float) * N * 2), *q = malloc(sizeof(float) * N * 2);
    for (int i = 0; i < N; i++) {
        double u = gd_rng_normal(&r), v = gd_rng_normal(&r), s = gd_rng_normal(&r), t = gd_rng_normal(&r);
        p[2 * i] = (float)(2 * u + 0.5 * v);
        p[2 * i + 1] = (float)(0.7 * v);
        q[2 * i] = (float)(0.3 * s + 1);
        q[2 * i + 1] = (float)(1.5 * t - 0.9 * s - 2);
    }
    gd_frechet_distance(p, N, q, N, 2, &fd, &err);
    double ref = fd2_closed(p, q, N);
    printf("2-D FD %.9f, closed form %.9f\n", fd, ref);
    TEST_COND("2-D FD equals the closed form", fabs(fd - ref) < 1e-6 * ref);

    /* real images: shapes 16x16 in a feature space (the 16-dimensional PCA embedding of
     * cluster.h); two disjoint halves; the second half with pixel noise (fidelity falls), or
     * with only circles (coverage falls) */
    gd_dataset d = {0};
    TEST_COND("shapes", gd_shapes_make(&d, 16, 4000, 3, GD_SHAPES_TRAIN, &err) == GD_OK);
    gd_cluster_model cm;
    TEST_COND("embedding", gd_cluster_fit(&cm, &d, 4, 16, 1, &err) == GD_OK);
    const int P = 256, H = 2000, E = 16;
    float *h2 = malloc(sizeof(float) * H * P), *f1 = malloc(sizeof(float) * H * E);
    float *f2 = malloc(sizeof(float) * H * E);
    double *e = malloc(sizeof(double) * H * E);
    gd_cluster_embed(&cm, d.images, H, e);
    for (int i = 0; i < H * E; i++) f1[i] = (float)e[i];
    const double sig[5] = {0, 0.1, 0.2, 0.4, 0.8};
    double fds[5], pr[5], rc[5];
    for (int l = 0; l < 5; l++) {
        for (int i = 0; i < H * P; i++)
            h2[i] = d.images[(size_t)H * P + i] + (float)(sig[l] * gd_rng_normal(&r));
        gd_cluster_embed(&cm, h2, H, e);
        for (int i = 0; i < H * E; i++) f2[i] = (float)e[i];
        TEST_COND("FD of halves", gd_frechet_distance(f1, H, f2, H, E, &fds[l], &err) == GD_OK);
        TEST_COND("precision/recall", gd_knn_precision_recall(f1, H, f2, H, E, 5, &pr[l], &rc[l],
                                                               &err) == GD_OK);
        printf("pixel noise %.2f: FD %.4f, precision %.3f, recall %.3f\n", sig[l], fds[l], pr[l],
               rc[l]);
    }
    int up = 1, down = 1;
    for (int l = 1; l < 5; l++) {
        up &= fds[l] > fds[l - 1];
        down &= pr[l] < pr[l - 1];
    }
    TEST_COND("FD grows with every noise level", up);
    double trf = 0;
    for (int k = 0; k < E; k++) trf += cm.variance[k];
    printf("total variance of the embedding %.3f; clean halves' FD is %.2e of it\n", trf,
           fds[0] / trf);
    TEST_COND("FD of the clean halves is near zero (below 1% of the total variance)",
              fds[0] < 0.01 * trf);
    TEST_COND("precision falls with every noise level", down);
    TEST_COND("clean halves: precision and recall high", pr[0] > 0.9 && rc[0] > 0.9);
    /* coverage: the second half's circles only (a third of the shapes) */
    int nc = 0;
    for (int i = H; i < 2 * H; i++)
        if (d.labels[(size_t)i * d.n_attrs] == 0) {
            memcpy(h2 + (size_t)nc * P, d.images + (size_t)i * P, sizeof(float) * P);
            nc++;
        }
    gd_cluster_embed(&cm, h2, nc, e);
    for (int i = 0; i < nc * E; i++) f2[i] = (float)e[i];
    double pc, rcc;
    TEST_COND("precision/recall of circles only",
              gd_knn_precision_recall(f1, H, f2, nc, E, 5, &pc, &rcc, &err) == GD_OK);
    printf("circles only (%d): precision %.3f, recall %.3f\n", nc, pc, rcc);
    TEST_COND("dropping two shapes keeps precision and cuts recall", pc > 0.9 && rcc < 0.7 * rc[0]);
    gd_cluster_free(&cm);
    free(f1);
    free(f2);
    free(e);

    /* bad input */
    h2[7] = NAN;
    TEST_COND("NaN feature refused", gd_frechet_distance(d.images, H, h2, H, 16, &fd, &err) == GD_ERR_NUMERIC &&
              strstr(err.msg, "second set"));
    TEST_COND("one item refused", gd_frechet_distance(a, 1, b, N, D, &fd, &err) == GD_ERR_ARG);
    TEST_COND("k too large refused", gd_knn_precision_recall(a, 5, b, 5, D, 5, &pr[0], &rc[0], &err) == GD_ERR_ARG);
    free(a);
    free(b);
    free(p);
    free(q);
    free(h2);
    gd_dataset_free(&d);
    return gd_test_report("quality");
}
