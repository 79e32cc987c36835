/* core.c - errors, asserts, aligned memory, thread count. */
#include "gmmdiff/core.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "blas.h"

gd_status gd_error_set(gd_error *err, gd_status status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

const char *gd_status_name(gd_status s) {
    switch (s) {
    case GD_OK: return "ok";
    case GD_ERR_ARG: return "bad argument";
    case GD_ERR_IO: return "I/O error";
    case GD_ERR_FORMAT: return "bad format";
    case GD_ERR_SHAPE: return "shape mismatch";
    case GD_ERR_NOMEM: return "out of memory";
    case GD_ERR_NUMERIC: return "non-finite number";
    }
    return "unknown status";
}

void gd_assert_fail(const char *expr, const char *file, int line, const char *msg) {
    fprintf(stderr, "gmmdiff: assertion failed: %s (%s:%d)%s%s\n", expr, file, line,
            msg ? ": " : "", msg ? msg : "");
    fflush(stderr);
    abort();
}

void *gd_malloc(size_t bytes) {
    if (bytes == 0) bytes = 1;
    size_t rounded = (bytes + 63) & ~(size_t)63;
    if (rounded < bytes) return NULL;
    return aligned_alloc(64, rounded);
}

void *gd_calloc(size_t bytes) {
    void *p = gd_malloc(bytes);
    if (p) {
        unsigned char *c = p;
        for (size_t i = 0; i < bytes; i++) c[i] = 0;
    }
    return p;
}

void gd_free(void *p) { free(p); }

void gd_set_num_threads(int n) {
#ifdef _OPENMP
    if (n <= 0) n = omp_get_num_procs();
    omp_set_num_threads(n);
#endif
    if (n <= 0) n = 1;
    gd_blas_set_num_threads(n);
}

int gd_get_num_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}
