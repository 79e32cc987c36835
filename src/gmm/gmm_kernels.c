/* gmm_kernels.c - the inner loops of EM, vectorised over points: the E-step (weighted log
 * densities through the precision's Cholesky factor, log-sum-exp, responsibilities) and the
 * M-step's sums (component masses, responsibility-weighted sums, scatter about the means).
 *
 * Points are taken GD_GMM_VL at a time, one per lane of a GCC/clang vector of doubles, from the
 * data transposed to [d, points] (so a feature of VL points is one vector load). The points are
 * cut into chunks of a size that depends on n, d and k only; each chunk's sums go to its own
 * slot and the slots are added in chunk order, so results do not depend on the thread count.
 * Everything stays double precision; exp is a vector polynomial within 2 ulp of libm's. */
#include "gmm/gmm_internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* the vector expressions below are written as multiply-adds: contract them here although the
 * build turns contraction off (-ffp-contract=off); a build is still deterministic. Without
 * -march=native GCC warns that 64-byte vectors change the ABI: only static functions take them. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast")
#pragma GCC diagnostic ignored "-Wpsabi"
#elif defined(__clang__)
#pragma clang fp contract(fast)
#endif

#define GD_GMM_LOG_2PI 1.8378770664093454836

typedef double gd_gv __attribute__((vector_size(GD_GMM_VL * sizeof(double))));
typedef int64_t gd_gvi __attribute__((vector_size(GD_GMM_VL * sizeof(int64_t))));

static inline gd_gv gv_load(const double *p) {
    gd_gv v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void gv_store(double *p, gd_gv v) { memcpy(p, &v, sizeof v); }

static inline gd_gv gv_set(double a) {
    gd_gv v = {0};
    return v + a;
}

static inline gd_gv gv_select(gd_gvi mask, gd_gv a, gd_gv b) { /* mask ? a : b, lane-wise */
    return (gd_gv)(((gd_gvi)a & mask) | ((gd_gvi)b & ~mask));
}

static inline gd_gv gv_max(gd_gv a, gd_gv b) { return gv_select(a > b, a, b); }

static inline double gv_sum(gd_gv v) { /* a fixed order */
    double s = 0;
    for (int l = 0; l < GD_GMM_VL; l++) s += v[l];
    return s;
}

/* exp(x) lane-wise for x <= 709 (the E-step only needs x <= 0): x = k ln 2 + r with
 * |r| <= ln 2 / 2 (Cody-Waite), the degree-13 Taylor polynomial of exp(r) (truncation 4e-18),
 * times 2^k in two factors so that results below DBL_MIN come out subnormal, not wrong; below
 * -746 the result is 0. NaN lanes are not expected (the inputs are finite or -inf). */
static inline gd_gv gv_exp(gd_gv x) {
    const double shift = 0x1.8p52;
    x = gv_select(x < -746.0, gv_set(-746.0), x);
    gd_gv t = x * 1.4426950408889634074 + shift;
    gd_gv kd = t - shift;
    gd_gvi k = (gd_gvi)t - (gd_gvi)gv_set(shift);
    gd_gv r = x - kd * 6.93147180369123816490e-01;
    r = r - kd * 1.90821492927058770002e-10;
    gd_gv p = gv_set(1.0 / 6227020800.0);
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    gd_gvi k1 = k >> 1, k2 = k - k1;
    gd_gv s1 = (gd_gv)((k1 + 1023) << 52), s2 = (gd_gv)((k2 + 1023) << 52);
    return p * s1 * s2;
}

void gd_gmm_exp_array(const double *x, double *y, size_t n) {
    size_t i = 0;
    for (; i + GD_GMM_VL <= n; i += GD_GMM_VL) gv_store(y + i, gv_exp(gv_load(x + i)));
    if (i < n) {
        double t[GD_GMM_VL];
        for (size_t l = 0; l < GD_GMM_VL; l++) t[l] = i + l < n ? x[i + l] : 0;
        gd_gv v = gv_exp(gv_load(t));
        for (size_t l = 0; i + l < n; l++) y[i + l] = v[l];
    }
}

/* ---- the E-step ---- */

/* squared Mahalanobis distances of VL points, dv [d] their differences from the mean, z [d, d]
 * lower triangular with exact zeros above the diagonal (so four rows can share the loop up to
 * the last one's diagonal) */
static inline gd_gv maha_full(const double *z, const gd_gv *dv, int d) {
    gd_gv s = {0};
    int j = 0;
    for (; j + 4 <= d; j += 4) {
        const double *z0 = z + (size_t)j * d, *z1 = z0 + d, *z2 = z1 + d, *z3 = z2 + d;
        gd_gv y0 = {0}, y1 = {0}, y2 = {0}, y3 = {0};
        for (int a = 0; a <= j + 3; a++) {
            gd_gv t = dv[a];
            y0 += z0[a] * t;
            y1 += z1[a] * t;
            y2 += z2[a] * t;
            y3 += z3[a] * t;
        }
        s += y0 * y0;
        s += y1 * y1;
        s += y2 * y2;
        s += y3 * y3;
    }
    for (; j < d; j++) {
        const double *zr = z + (size_t)j * d;
        gd_gv y = {0};
        for (int a = 0; a <= j; a++) y += zr[a] * dv[a];
        s += y * y;
    }
    return s;
}

/* doubles of scratch per thread: dv [d], wv [k], ev [k] vectors, then xt [d, GD_GMM_CHUNK] */
static size_t estep_scratch(int k, int d) {
    return (size_t)GD_GMM_VL * ((size_t)d + 2 * (size_t)k) + (size_t)d * GD_GMM_CHUNK;
}

/* wv [k] = log weight + log density of component c at the VL points of column g of xt [d, ldx] */
static void group_logdens(const gd_gmm *m, const double *logw, const double *xt, size_t ldx,
                          gd_gv *dv, gd_gv *wv) {
    int k = m->k, d = m->d;
    for (int c = 0; c < k; c++) {
        const double *mu = m->means + (size_t)c * d;
        gd_gv s = {0};
        switch (m->cov) {
        case GD_GMM_COV_FULL:
        case GD_GMM_COV_TIED:
            for (int a = 0; a < d; a++) dv[a] = gv_load(xt + a * ldx) - mu[a];
            s = maha_full(m->prec_chol + (m->cov == GD_GMM_COV_FULL ? (size_t)c * d * d : 0), dv,
                          d);
            break;
        case GD_GMM_COV_DIAG: {
            const double *p = m->prec_chol + (size_t)c * d;
            for (int a = 0; a < d; a++) {
                gd_gv y = (gv_load(xt + a * ldx) - mu[a]) * p[a];
                s += y * y;
            }
            break;
        }
        case GD_GMM_COV_SPHERICAL: {
            double p = m->prec_chol[c];
            for (int a = 0; a < d; a++) {
                gd_gv y = (gv_load(xt + a * ldx) - mu[a]) * p;
                s += y * y;
            }
            break;
        }
        }
        wv[c] = logw[c] - 0.5 * s;
    }
}

/* acc [k, d + 1] += lane sums of (r, r x) over the nv lanes of xt [d, ldx], r from resp [k, ldr],
 * eight features at a time in registers */
static void sums_block(const double *xt, size_t ldx, const double *resp, size_t ldr, int nv,
                       int k, int d, gd_gv *acc) {
    for (int c = 0; c < k; c++) {
        const double *r = resp + (size_t)c * ldr;
        gd_gv *ac = acc + (size_t)c * (d + 1), m = {0};
        for (int g = 0; g < nv; g += GD_GMM_VL) m += gv_load(r + g);
        ac[0] += m;
        for (int a0 = 0; a0 < d; a0 += 8) {
            int na = d - a0 < 8 ? d - a0 : 8;
            gd_gv s[8] = {{0}};
            for (int g = 0; g < nv; g += GD_GMM_VL) {
                gd_gv rr = gv_load(r + g);
                for (int q = 0; q < na; q++) s[q] += rr * gv_load(xt + (size_t)(a0 + q) * ldx + g);
            }
            for (int q = 0; q < na; q++) ac[1 + a0 + q] += s[q];
        }
    }
}

/* The E-step over nv lanes of xt [d, ldx] (nv a multiple of VL, the first np real points, the
 * rest padding): lpn [np]; optionally log_resp [np, k] (row-major), labels [np], and for the fit
 * resp [k, ldr] (pad lanes 0) with sums [k, d + 1] += (mass, responsibility-weighted sum of x),
 * accumulated in acc [k (d + 1)] vectors. scratch: estep_scratch doubles. */
static void estep_block(const gd_gmm *m, const double *logw, const double *xt, size_t ldx, int np,
                        int nv, double *lpn, double *log_resp, int32_t *labels, double *resp,
                        size_t ldr, gd_gv *acc, double *scratch) {
    int k = m->k, d = m->d;
    gd_gv *dv = (gd_gv *)scratch, *wv = dv + d, *ev = wv + k;
    for (int g = 0; g < nv; g += GD_GMM_VL) {
        group_logdens(m, logw, xt + g, ldx, dv, wv);
        int nl = np - g < GD_GMM_VL ? np - g : GD_GMM_VL;
        if (labels) /* the first largest weighted log density */
            for (int l = 0; l < nl; l++) {
                int arg = 0;
                for (int c = 1; c < k; c++)
                    if (wv[c][l] > wv[arg][l]) arg = c;
                labels[g + l] = arg;
            }
        gd_gv mx = wv[0];
        for (int c = 1; c < k; c++) mx = gv_max(mx, wv[c]);
        int finite = 1;
        for (int l = 0; l < nl; l++) finite &= isfinite(mx[l]) != 0;
        if (!finite) { /* some point has no finite density: the scalar rules, lane by lane */
            for (int l = 0; l < nl; l++) {
                double best = -INFINITY, norm, s = 0;
                for (int c = 0; c < k; c++)
                    if (wv[c][l] > best) best = wv[c][l];
                if (isfinite(best)) {
                    for (int c = 0; c < k; c++) s += exp(wv[c][l] - best);
                    norm = best + log(s);
                } else {
                    norm = best;
                }
                lpn[g + l] = norm;
                for (int c = 0; c < k; c++) {
                    double lr = isfinite(best) ? wv[c][l] - norm : -log((double)k);
                    if (log_resp) log_resp[(size_t)(g + l) * k + c] = lr;
                    if (resp) resp[(size_t)c * ldr + g + l] = exp(lr);
                }
            }
            for (int l = nl; resp && l < GD_GMM_VL; l++)
                for (int c = 0; c < k; c++) resp[(size_t)c * ldr + g + l] = 0;
        } else {
            gd_gv s = {0};
            for (int c = 0; c < k; c++) s += ev[c] = gv_exp(wv[c] - mx);
            double norm[GD_GMM_VL];
            for (int l = 0; l < nl; l++) lpn[g + l] = norm[l] = mx[l] + log(s[l]);
            if (log_resp)
                for (int l = 0; l < nl; l++)
                    for (int c = 0; c < k; c++)
                        log_resp[(size_t)(g + l) * k + c] = wv[c][l] - norm[l];
            if (resp) { /* exp(w - mx) / sum: exp(log_resp) within an ulp or two */
                gd_gv keep = {0};
                for (int l = 0; l < nl; l++) keep[l] = 1;
                for (int c = 0; c < k; c++) gv_store(resp + (size_t)c * ldr + g, ev[c] / s * keep);
            }
        }
    }
    if (acc) /* the M-step's first sums while the block is in cache */
        sums_block(xt, ldx, resp, ldr, nv, k, d, acc);
}

/* xt [d, ldx] = the nv lanes from x [n, d] starting at point i0; lanes past n repeat point n-1 */
static void transpose_block(const double *x, int64_t n, int d, int64_t i0, int64_t nv,
                            double *xt, size_t ldx) {
    for (int64_t l = 0; l < nv; l++) {
        int64_t i = i0 + l < n ? i0 + l : n - 1;
        const double *xi = x + i * d;
        for (int a = 0; a < d; a++) xt[a * ldx + l] = xi[a];
    }
}

static void log_weights(const gd_gmm *m, double *logw) {
    double cst = -0.5 * m->d * GD_GMM_LOG_2PI;
    for (int c = 0; c < m->k; c++) logw[c] = log(m->weights[c]) + m->log_det[c] + cst;
}

static double estep_work(const gd_gmm *m, int64_t n) {
    return (double)n * m->k * (m->cov <= GD_GMM_COV_TIED ? 0.5 * m->d * (m->d + 3) : m->d);
}

gd_status gd_gmm_estep(const gd_gmm *m, const double *x, int64_t n, double *lpn, double *log_resp,
                       int32_t *labels, gd_error *err) {
    int k = m->k, d = m->d, fail = 0;
    double *logw = malloc(sizeof(double) * k);
    if (!logw) return gd_error_set(err, GD_ERR_NOMEM, "out of memory in the E-step");
    log_weights(m, logw);
    int64_t nb = (n + GD_GMM_CHUNK - 1) / GD_GMM_CHUNK;
    size_t per = estep_scratch(k, d);
    #pragma omp parallel if (estep_work(m, n) > GD_GMM_PAR_WORK)
    {
        double *scr = aligned_alloc(64, sizeof(double) * per);
        if (!scr) {
            #pragma omp atomic write
            fail = 1;
        }
        #pragma omp for schedule(dynamic, 1)
        for (int64_t b = 0; b < nb; b++) {
            if (!scr) continue;
            int64_t i0 = b * GD_GMM_CHUNK;
            int np = (int)(n - i0 < GD_GMM_CHUNK ? n - i0 : GD_GMM_CHUNK);
            int nv = (np + GD_GMM_VL - 1) / GD_GMM_VL * GD_GMM_VL;
            double *xt = scr + (per - (size_t)d * GD_GMM_CHUNK);
            transpose_block(x, n, d, i0, nv, xt, GD_GMM_CHUNK);
            estep_block(m, logw, xt, GD_GMM_CHUNK, np, nv, lpn + i0,
                        log_resp ? log_resp + i0 * k : NULL, labels ? labels + i0 : NULL, NULL,
                        0, NULL, scr);
        }
        free(scr);
    }
    free(logw);
    if (fail) return gd_error_set(err, GD_ERR_NOMEM, "out of memory in the E-step");
    return GD_OK;
}

/* ---- EM's plan and passes ---- */

gd_status gd_gmm_plan_init(gd_gmm_plan *p, const double *x, int64_t n, int d, int k,
                           gd_gmm_cov cov, gd_error *err) {
    memset(p, 0, sizeof *p);
    p->n = n;
    p->d = d;
    p->k = k;
    p->cov = cov;
    p->ld = (size_t)((n + GD_GMM_VL - 1) / GD_GMM_VL * GD_GMM_VL);
    size_t scat = cov == GD_GMM_COV_FULL ? (size_t)d * d : (size_t)d; /* tied: not used */
    /* chunks of GD_GMM_CHUNK points, fewer and larger when their sums would pass 64 MB */
    double slot = 8.0 * k * ((double)d + 1 + (double)scat);
    int64_t most = (int64_t)(64.0 * (1 << 20) / slot);
    if (most < 1) most = 1;
    int64_t chunk = GD_GMM_CHUNK;
    if ((n + chunk - 1) / chunk > most) chunk = (n + most - 1) / most;
    chunk = (chunk + GD_GMM_CHUNK - 1) / GD_GMM_CHUNK * GD_GMM_CHUNK;
    p->chunk = chunk;
    p->nchunks = (n + chunk - 1) / chunk;
#ifdef _OPENMP
    p->nthreads = omp_get_max_threads();
#else
    p->nthreads = 1;
#endif
    p->per_thread = estep_scratch(k, d) + (size_t)GD_GMM_VL * k * (d + 1);
    p->per_thread = (p->per_thread + 7) / 8 * 8;
    p->xt = aligned_alloc(64, sizeof(double) * (size_t)d * p->ld);
    p->resp = aligned_alloc(64, sizeof(double) * (size_t)k * p->ld);
    p->sums = malloc(sizeof(double) * (size_t)p->nchunks * k * (d + 1));
    p->scatter = malloc(sizeof(double) * (size_t)p->nchunks * k * scat);
    p->scratch = aligned_alloc(64, sizeof(double) * p->per_thread * p->nthreads);
    p->logw = malloc(sizeof(double) * k);
    if (!p->xt || !p->resp || !p->sums || !p->scatter || !p->scratch || !p->logw) {
        gd_gmm_plan_free(p);
        return gd_error_set(err, GD_ERR_NOMEM, "out of memory for EM on %lld points x %d "
                            "components", (long long)n, k);
    }
    transpose_block(x, n, d, 0, (int64_t)p->ld, p->xt, p->ld);
    return GD_OK;
}

void gd_gmm_plan_free(gd_gmm_plan *p) {
    free(p->xt), free(p->resp), free(p->sums), free(p->scatter), free(p->scratch), free(p->logw);
    memset(p, 0, sizeof *p);
}

static double *thread_scratch(gd_gmm_plan *p) {
#ifdef _OPENMP
    int t = omp_get_thread_num();
#else
    int t = 0;
#endif
    GD_ASSERT(t < p->nthreads);
    return p->scratch + (size_t)t * p->per_thread;
}

/* the chunk's sums [k, d + 1] from the lane accumulators acc [k (d + 1)] */
static void store_sums(const gd_gv *acc, int k, int d, double *out) {
    for (size_t i = 0; i < (size_t)k * (d + 1); i++) out[i] = gv_sum(acc[i]);
}

/* nk [k] and means [k, d] from the chunks' sums, added in chunk order */
static void reduce_sums(const gd_gmm_plan *p, double *nk, double *means) {
    int k = p->k, d = p->d;
    size_t slot = (size_t)k * (d + 1);
    for (int c = 0; c < k; c++) {
        double n0 = 0, *mu = means + (size_t)c * d;
        for (int a = 0; a < d; a++) mu[a] = 0;
        for (int64_t b = 0; b < p->nchunks; b++) {
            const double *s = p->sums + b * slot + (size_t)c * (d + 1);
            n0 += s[0];
            for (int a = 0; a < d; a++) mu[a] += s[1 + a];
        }
        nk[c] = n0 + 10 * DBL_EPSILON;
        for (int a = 0; a < d; a++) mu[a] /= nk[c];
    }
}

double gd_gmm_plan_estep(gd_gmm_plan *p, const gd_gmm *m, double *lpn, double *nk,
                         double *means) {
    int k = p->k, d = p->d;
    double *lw = p->logw;
    log_weights(m, lw);
    int64_t chunk = p->chunk;
    #pragma omp parallel for schedule(dynamic, 1) if (estep_work(m, p->n) > GD_GMM_PAR_WORK)
    for (int64_t b = 0; b < p->nchunks; b++) {
        double *scr = thread_scratch(p);
        gd_gv *acc = (gd_gv *)(scr + p->per_thread - (size_t)GD_GMM_VL * k * (d + 1));
        memset(acc, 0, sizeof(gd_gv) * k * (d + 1));
        for (int64_t i0 = b * chunk; i0 < (b + 1) * chunk && i0 < p->n; i0 += GD_GMM_CHUNK) {
            int np = (int)(p->n - i0 < GD_GMM_CHUNK ? p->n - i0 : GD_GMM_CHUNK);
            int nv = (np + GD_GMM_VL - 1) / GD_GMM_VL * GD_GMM_VL;
            estep_block(m, lw, p->xt + i0, p->ld, np, nv, lpn + i0, NULL, NULL, p->resp + i0,
                        p->ld, acc, scr);
        }
        store_sums(acc, k, d, p->sums + b * (size_t)k * (d + 1));
    }
    double t = 0;
    for (int64_t i = 0; i < p->n; i++) t += lpn[i];
    reduce_sums(p, nk, means);
    return t / (double)p->n;
}

void gd_gmm_plan_sums(gd_gmm_plan *p, double *nk, double *means) {
    int k = p->k, d = p->d;
    int64_t chunk = p->chunk;
    #pragma omp parallel for schedule(dynamic, 1) if ((double)p->n * k * d > GD_GMM_PAR_WORK)
    for (int64_t b = 0; b < p->nchunks; b++) {
        gd_gv *acc = (gd_gv *)thread_scratch(p);
        memset(acc, 0, sizeof(gd_gv) * k * (d + 1));
        for (int64_t i0 = b * chunk; i0 < (b + 1) * chunk && i0 < p->n; i0 += GD_GMM_CHUNK) {
            int64_t np = p->n - i0 < GD_GMM_CHUNK ? p->n - i0 : GD_GMM_CHUNK;
            int nv = (int)((np + GD_GMM_VL - 1) / GD_GMM_VL * GD_GMM_VL);
            sums_block(p->xt + i0, p->ld, p->resp + i0, p->ld, nv, k, d, acc);
        }
        store_sums(acc, k, d, p->sums + b * (size_t)k * (d + 1));
    }
    reduce_sums(p, nk, means);
}

/* out [d, d] (lower triangle) += the scatter of the nv lanes of xt [d, ldx] about mu weighted
 * by r, in 4 x 4 tiles of lane accumulators (rows past d repeat row d - 1 and are not stored) */
static void scatter_full(const double *xt, size_t ldx, const double *r, int nv, const double *mu,
                         int d, double *out) {
    for (int a0 = 0; a0 < d; a0 += 4)
        for (int b0 = 0; b0 <= a0; b0 += 4) {
            const double *xa[4], *xb[4];
            double ma[4], mb[4];
            for (int q = 0; q < 4; q++) {
                int a = a0 + q < d ? a0 + q : d - 1, b = b0 + q < d ? b0 + q : d - 1;
                xa[q] = xt + (size_t)a * ldx, ma[q] = mu[a];
                xb[q] = xt + (size_t)b * ldx, mb[q] = mu[b];
            }
            gd_gv s[4][4] = {{{0}}};
            for (int g = 0; g < nv; g += GD_GMM_VL) {
                gd_gv rr = gv_load(r + g), y[4], x[4];
                for (int q = 0; q < 4; q++) y[q] = gv_load(xb[q] + g) - mb[q];
                if (a0 == b0)
                    for (int q = 0; q < 4; q++) x[q] = rr * y[q];
                else
                    for (int q = 0; q < 4; q++) x[q] = rr * (gv_load(xa[q] + g) - ma[q]);
                for (int q = 0; q < 4; q++) {
                    s[0][q] += x[0] * y[q];
                    s[1][q] += x[1] * y[q];
                    s[2][q] += x[2] * y[q];
                    s[3][q] += x[3] * y[q];
                }
            }
            for (int i = 0; i < 4 && a0 + i < d; i++)
                for (int q = 0; q < 4 && b0 + q <= a0 + i; q++)
                    out[(size_t)(a0 + i) * d + b0 + q] += gv_sum(s[i][q]);
        }
}

/* out [d] += sum r (x - mu)^2 over the nv lanes of xt */
static void scatter_diag(const double *xt, size_t ldx, const double *r, int nv, const double *mu,
                         int d, double *out) {
    for (int a0 = 0; a0 < d; a0 += 8) {
        int na = d - a0 < 8 ? d - a0 : 8;
        gd_gv s[8] = {{0}};
        for (int g = 0; g < nv; g += GD_GMM_VL) {
            gd_gv rr = gv_load(r + g);
            for (int q = 0; q < na; q++) {
                gd_gv t = gv_load(xt + (size_t)(a0 + q) * ldx + g) - mu[a0 + q];
                s[q] += rr * t * t;
            }
        }
        for (int q = 0; q < na; q++) out[a0 + q] += gv_sum(s[q]);
    }
}

void gd_gmm_plan_scatter(gd_gmm_plan *p, const double *means, double *scat) {
    int k = p->k, d = p->d, full = p->cov == GD_GMM_COV_FULL;
    size_t per = full ? (size_t)d * d : (size_t)d;
    int64_t chunk = p->chunk;
    double work = (double)p->n * k * d * (full ? 0.5 * d : 1);
    #pragma omp parallel for schedule(dynamic, 1) if (work > GD_GMM_PAR_WORK)
    for (int64_t b = 0; b < p->nchunks; b++) {
        double *out = p->scatter + b * (size_t)k * per;
        memset(out, 0, sizeof(double) * k * per);
        for (int64_t i0 = b * chunk; i0 < (b + 1) * chunk && i0 < p->n; i0 += GD_GMM_CHUNK) {
            int np = (int)(p->n - i0 < GD_GMM_CHUNK ? p->n - i0 : GD_GMM_CHUNK);
            int nv = (np + GD_GMM_VL - 1) / GD_GMM_VL * GD_GMM_VL;
            for (int c = 0; c < k; c++) {
                const double *r = p->resp + (size_t)c * p->ld + i0, *mu = means + (size_t)c * d;
                if (full) scatter_full(p->xt + i0, p->ld, r, nv, mu, d, out + c * per);
                else scatter_diag(p->xt + i0, p->ld, r, nv, mu, d, out + c * per);
            }
        }
    }
    memset(scat, 0, sizeof(double) * k * per);
    for (int64_t b = 0; b < p->nchunks; b++) {
        const double *s = p->scatter + b * (size_t)k * per;
        for (int c = 0; c < k; c++)
            for (int a = 0; a < (full ? d : 1); a++)
                for (int q = 0; q < (full ? a + 1 : d); q++)
                    scat[c * per + (size_t)a * (full ? d : 0) + q] +=
                        s[c * per + (size_t)a * (full ? d : 0) + q];
    }
}
