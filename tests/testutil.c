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
