/* fuzz_matrix.c - libFuzzer harness for the data matrices of `gmmdiff gmm fit`:
 * gd_gmm_read_matrix picks its parser by the name (".npy", any case: NumPy; anything else:
 * CSV), so the input is read through m.npy, m.NPY and m.csv, links to one memfd; and gd_npy_read
 * on its own. */
#include "fuzz_util.h"

#include "gmmdiff/gmm.h"
#include "gmmdiff/npy.h"

#include <math.h>

static int fd = -1;
static char npy[4096], npy_upper[4096], csv[4096];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    char mem[64];
    fd = fuzz_memfd("matrix", mem);
    fuzz_tmp_path(npy, sizeof npy, "m.npy");
    fuzz_tmp_path(npy_upper, sizeof npy_upper, "m.NPY");
    fuzz_tmp_path(csv, sizeof csv, "m.csv");
    fuzz_link_memfd(fd, npy);
    fuzz_link_memfd(fd, npy_upper);
    fuzz_link_memfd(fd, csv);
    return 0;
}

static void read_matrix(const char *path) {
    double *x = NULL;
    int64_t n = -1;
    int d = -1;
    gd_error err = {0};
    if (fuzz_note(gd_gmm_read_matrix(path, &x, &n, &d, &err), &err) == GD_OK) {
        /* what gmm fit relies on: a non-empty [n, d] of finite numbers */
        FUZZ_CHECK(x && n >= 1 && d >= 1);
        for (size_t i = 0; i < (size_t)n * (size_t)d; i++) FUZZ_CHECK(isfinite(x[i]));
        free(x);
    } else {
        FUZZ_CHECK(x == NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_memfd_set(fd, data, size);
    read_matrix(npy);
    read_matrix(npy_upper);
    read_matrix(csv);
    gd_npy a;
    gd_error err = {0};
    if (fuzz_note(gd_npy_read(&a, npy, &err), &err) == GD_OK) {
        size_t numel = 1;
        for (int i = 0; i < a.ndim; i++) numel *= (size_t)a.shape[i];
        FUZZ_CHECK(numel == a.numel && a.data);
        volatile float sink = 0;
        for (size_t i = 0; i < a.numel; i++) sink += a.data[i]; /* every element is readable */
        (void)sink;
    }
    gd_npy_free(&a);
    return 0;
}
