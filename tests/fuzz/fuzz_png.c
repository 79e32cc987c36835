/* fuzz_png.c - libFuzzer harness for the PNG reader: gd_png_read of the input as grey (1) and as
 * RGB (3) channels. */
#include "fuzz_util.h"

#include "gmmdiff/image.h"

static int fd = -1;
static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (fd < 0) fd = fuzz_memfd("png", path);
    fuzz_memfd_set(fd, data, size);
    const int want[2] = {1, 3};
    for (int i = 0; i < 2; i++) {
        float *px = NULL;
        int h = 0, w = 0;
        gd_error err = {0};
        if (fuzz_note(gd_png_read(path, want[i], &px, &h, &w, &err), &err) == GD_OK) {
            FUZZ_CHECK(px && h > 0 && w > 0);
            /* every value is a byte mapped to [-1, 1] */
            for (size_t k = 0; k < (size_t)want[i] * h * w; k++)
                FUZZ_CHECK(px[k] >= -1.0f && px[k] <= 1.0f);
            free(px);
        } else {
            FUZZ_CHECK(px == NULL);
        }
    }
    return 0;
}
