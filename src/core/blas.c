/* blas.c - OpenBLAS through dlopen, with the kernel chosen for the CPU (see blas.h). */
#include "blas.h"
#include "gmmdiff/core.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef GD_OPENBLAS_PATH
#define GD_OPENBLAS_PATH "libopenblas.so.0"
#endif

enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 }; /* the CBLAS enum values */

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *,
                         int, float, float *, int);
static sgemm_fn p_sgemm;
static void (*p_set_threads)(int);
static char *(*p_corename)(void);
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int pending_threads = 0;
static char load_error[512];

static void choose_coretype(void) {
    if (getenv("OPENBLAS_CORETYPE")) return;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        setenv("OPENBLAS_CORETYPE", "SkylakeX", 0);
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        setenv("OPENBLAS_CORETYPE", "Haswell", 0);
#endif
}

static void load(void) {
    choose_coretype();
    const char *names[] = {GD_OPENBLAS_PATH, "libopenblas.so.0", "libopenblas.so"};
    void *h = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !h; i++)
        h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(load_error, sizeof load_error, "cannot load OpenBLAS (%s): %s", GD_OPENBLAS_PATH,
                 dlerror());
        return;
    }
    p_sgemm = (sgemm_fn)dlsym(h, "cblas_sgemm");
    p_set_threads = (void (*)(int))dlsym(h, "openblas_set_num_threads");
    p_corename = (char *(*)(void))dlsym(h, "openblas_get_corename");
    if (!p_sgemm) snprintf(load_error, sizeof load_error, "OpenBLAS has no cblas_sgemm");
    if (pending_threads > 0 && p_set_threads) p_set_threads(pending_threads);
}

gd_status gd_blas_init(gd_error *err) {
    pthread_once(&once, load);
    return p_sgemm ? GD_OK : gd_error_set(err, GD_ERR_IO, "%s", load_error);
}

void gd_sgemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc) {
    pthread_once(&once, load);
    GD_ASSERT_MSG(p_sgemm, load_error); /* gd_graph_plan reports this as a status first */
    p_sgemm(ROW_MAJOR, ta ? TRANS : NO_TRANS, tb ? TRANS : NO_TRANS, M, N, K, alpha, A, lda, B,
            ldb, beta, C, ldc);
}

void gd_blas_set_num_threads(int n) {
    pending_threads = n;
    pthread_once(&once, load);
    if (p_set_threads) p_set_threads(n);
}

const char *gd_blas_corename(void) {
    pthread_once(&once, load);
    return p_corename ? p_corename() : "unknown";
}
