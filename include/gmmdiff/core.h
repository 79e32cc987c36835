/* core.h - status codes, error messages, asserts, memory and the seeded RNG.
 *
 * Two tiers of errors (as in ggml and redis):
 *  - programmer errors (mismatched shapes, NULL where a buffer is required) trip GD_ASSERT, which
 *    prints the expression with file:line and aborts. It does not depend on NDEBUG: it stays on
 *    in every build, tests included.
 *  - runtime failures (a file that cannot be read, a corrupt header, out of memory) return a
 *    gd_status and fill a caller-supplied gd_error with a message. Library code never exits.
 */
#ifndef GMMDIFF_CORE_H
#define GMMDIFF_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GD_VERSION_STRING "0.1.0"

typedef enum gd_status {
    GD_OK = 0,
    GD_ERR_ARG,     /* a bad value given by the caller at run time (flag, option) */
    GD_ERR_IO,      /* open/read/write/rename failed */
    GD_ERR_FORMAT,  /* a file's content is corrupt or not what it claims */
    GD_ERR_SHAPE,   /* tensor shapes in a file disagree with what is expected */
    GD_ERR_NOMEM,   /* an allocation failed or a size is beyond the limits */
    GD_ERR_NUMERIC  /* NaN or Inf where a finite number is needed */
} gd_status;

typedef struct gd_error {
    gd_status status;
    char msg[512];
} gd_error;

/* Fills err (if not NULL) with status and a printf-style message; returns status. */
gd_status gd_error_set(gd_error *err, gd_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *gd_status_name(gd_status s);

void gd_assert_fail(const char *expr, const char *file, int line, const char *msg);
#define GD_ASSERT(cond) \
    do { if (!(cond)) gd_assert_fail(#cond, __FILE__, __LINE__, NULL); } while (0)
#define GD_ASSERT_MSG(cond, m) \
    do { if (!(cond)) gd_assert_fail(#cond, __FILE__, __LINE__, (m)); } while (0)

/* Memory. gd_malloc returns NULL on failure (callers report GD_ERR_NOMEM); buffers are
 * 64-byte aligned. gd_free(NULL) is a no-op. */
void *gd_malloc(size_t bytes);
void *gd_calloc(size_t bytes);
void gd_free(void *p);

/* Writes the concatenation of parts to path atomically: path.tmp.<pid>, fsync, rename. On any
 * failure the temporary file is removed and an existing file at path is left as it was. */
gd_status gd_write_file_atomic(const char *path, const void *const *parts, const size_t *sizes,
                               int nparts, gd_error *err);
/* text plus a final newline, written atomically as above; text NULL (a failed json_dumps) is
 * GD_ERR_NOMEM naming path */
gd_status gd_write_text_atomic(const char *path, const char *text, gd_error *err);

/* Threads used by the OpenMP loops and by BLAS. n <= 0 means "all cores". */
void gd_set_num_threads(int n);
int gd_get_num_threads(void);

/* ---- Seeded random generator with explicit state --------------------------------------------
 * xoshiro256** seeded through splitmix64. Every draw uses only integer arithmetic and IEEE
 * double operations (+ - * / sqrt, no libm transcendental calls and no FMA contraction), so the
 * stream is the same for a seed on every machine, compiler and thread count. Fills are serial:
 * the thread count never changes the stream. */
typedef struct gd_rng {
    uint64_t s[4];
    double spare;     /* cached second normal of the polar method */
    int has_spare;
} gd_rng;

void gd_rng_seed(gd_rng *r, uint64_t seed);
uint64_t gd_rng_u64(gd_rng *r);
double gd_rng_uniform(gd_rng *r);          /* [0, 1), 53 bits */
double gd_rng_normal(gd_rng *r);           /* N(0, 1) */
uint64_t gd_rng_below(gd_rng *r, uint64_t n); /* uniform integer in [0, n), unbiased */
void gd_rng_fill_uniform(gd_rng *r, float *x, size_t n, float lo, float hi);
void gd_rng_fill_normal(gd_rng *r, float *x, size_t n, float mean, float std);
/* perm = a uniform permutation of 0..n-1 (Fisher-Yates, from the top) */
void gd_rng_permutation(gd_rng *r, int *perm, int n);
/* the splitmix64 finaliser: mixes a counter or a combination of seeds into a seed */
uint64_t gd_mix64(uint64_t x);

/* Natural log from IEEE arithmetic only (used by the RNG; exposed for tests). */
double gd_det_log(double x);

#ifdef __cplusplus
}
#endif
#endif
