/* testutil.c - see testutil.h */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int gd_test_failed = 0, gd_test_passed = 0;

void gd_test_cond(const char *name, int ok, const char *file, int line) {
    if (ok) {
        gd_test_passed++;
    } else {
        gd_test_failed++;
        printf("FAIL %s (%s:%d)\n", name, file, line);
    }
    fflush(stdout);
}

int gd_test_report(const char *suite) {
    printf("%s: %d passed, %d failed\n", suite, gd_test_passed, gd_test_failed);
    return gd_test_failed ? 1 : 0;
}

double gd_rel_err(const float *a, const float *b, size_t n) {
    double md = 0.0, mb = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= md)) md = d; /* NaN propagates */
        if (fabs(b[i]) > mb) mb = fabs(b[i]);
    }
    return md / (mb > 1e-12 ? mb : 1e-12);
}

double gd_rel_err_d(const float *a, const double *b, size_t n) {
    double md = 0.0, mb = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= md)) md = d;
        if (fabs(b[i]) > mb) mb = fabs(b[i]);
    }
    return md / (mb > 1e-12 ? mb : 1e-12);
}

const char *gd_fixture_path(const char *dir, const char *name) {
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", dir ? dir : "tests/fixtures", name);
    return buf;
}

/* ---- fixtures ---- */
#include "fixture.h"

#include <stdlib.h>

void fx_open(gd_safetensors *st, const char *dir, const char *name) {
    gd_error err = {0};
    if (gd_st_open(st, gd_fixture_path(dir, name), &err) != GD_OK) {
        printf("FAIL cannot load fixture: %s\n", err.msg);
        exit(1);
    }
}

float *fx_get(const gd_safetensors *st, const char *name, size_t *n) {
    const gd_st_tensor *t = gd_st_find(st, name);
    if (!t) {
        printf("FAIL fixture %s has no tensor '%s'\n", st->path, name);
        exit(1);
    }
    float *p = malloc(sizeof(float) * (t->numel ? t->numel : 1));
    gd_error err = {0};
    if (!p || gd_st_read_f32(st, name, p, 0, NULL, &err) != GD_OK) {
        printf("FAIL reading fixture tensor: %s\n", err.msg);
        exit(1);
    }
    if (n) *n = t->numel;
    return p;
}

float *fx_zeros(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) exit(1);
    return p;
}
