/* fuzz_gmm.c - libFuzzer harness for the GMM model file (`gmmdiff gmm fit --save`):
 * gd_gmm_load on the input; a model that loads is also scored, so whatever the loader accepts
 * must be usable. */
#include "fuzz_util.h"

#include "gmmdiff/gmm.h"

#include <math.h>

static int fd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    gd_set_num_threads(1); /* one small model at a time: threads would only add overhead */
    fd = fuzz_memfd("gmm", path);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_memfd_set(fd, data, size);
    gd_gmm m = {0};
    gd_error err = {0};
    if (fuzz_note(gd_gmm_load(&m, path, &err), &err) == GD_OK) {
        FUZZ_CHECK(m.k >= 1 && m.d >= 1 && m.weights && m.means && m.covariances);
        /* score the first mean: a finite point, so the result must be finite */
        double lp = 0;
        if (m.d <= 4096 && gd_gmm_score_samples(&m, m.means, 1, &lp, &err) == GD_OK)
            FUZZ_CHECK(!isnan(lp));
    }
    gd_gmm_free(&m);
    return 0;
}
