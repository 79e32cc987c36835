/* testutil.h - a tiny test harness (redis-style test_cond / test_report) and helpers. */
#ifndef GMMDIFF_TESTUTIL_H
#define GMMDIFF_TESTUTIL_H

#include <stddef.h>

extern int gd_test_failed, gd_test_passed;

/* records one named check; prints FAIL lines with the location */
#define TEST_COND(name, cond) gd_test_cond(name, (cond), __FILE__, __LINE__)
void gd_test_cond(const char *name, int ok, const char *file, int line);
/* prints "N passed, N failed" and returns the exit code */
int gd_test_report(const char *suite);

/* max |a - b| / max(max |b|, floor): a normwise relative error */
double gd_rel_err(const float *a, const float *b, size_t n);
double gd_rel_err_d(const float *a, const double *b, size_t n);
/* path of a fixture file: dir from argv[1] (or GD_FIXTURES_DIR) + "/" + name */
const char *gd_fixture_path(const char *dir, const char *name);

#endif
