/* fuzz_csv.c - libFuzzer harness for the attributes CSV of a folder data set: gd_folder_load, at
 * 1 and 3 channels, on a folder whose attributes.csv is the input, beside grey.png and rgb.png
 * (8x8, grey and RGB) and big.png (12x12, for the size check), written once at start-up. */
#include "fuzz_util.h"

#include "gmmdiff/image.h"
#include "gmmdiff/readers.h"

#include <math.h>

static int fd = -1;
static char dir[4096];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    char mem[64], p[4200];
    gd_error err = {0};
    fd = fuzz_memfd("csv", mem);
    fuzz_tmp_path(dir, sizeof dir, "folder");
    FUZZ_CHECK(mkdir(dir, 0700) == 0);
    snprintf(p, sizeof p, "%s/attributes.csv", dir);
    fuzz_link_memfd(fd, p);
    float px[3 * 8 * 8];
    for (int i = 0; i < 3 * 8 * 8; i++) px[i] = (float)((i * 37) % 200) / 100.0f - 1.0f;
    /* a grid of one image of h x w is (h + 4) x (w + 4) with its border */
    snprintf(p, sizeof p, "%s/grey.png", dir);
    FUZZ_OK(gd_png_write_grid(p, px, 1, 1, 4, 4, 1, &err), err);
    snprintf(p, sizeof p, "%s/rgb.png", dir);
    FUZZ_OK(gd_png_write_grid(p, px, 1, 3, 4, 4, 1, &err), err);
    snprintf(p, sizeof p, "%s/big.png", dir);
    FUZZ_OK(gd_png_write_grid(p, px, 1, 1, 8, 8, 1, &err), err);
    const char *pngs[3] = {"grey.png", "rgb.png", "big.png"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, pngs[i]);
        fuzz_export_seed(p, pngs[i]);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_memfd_set(fd, data, size);
    for (int channels = 1; channels <= 3; channels += 2) {
        gd_dataset d;
        gd_error err = {0};
        if (fuzz_note(gd_folder_load(&d, dir, NULL, channels, &err), &err) != GD_OK) continue;
        FUZZ_CHECK(d.n >= 1 && d.c == channels && d.n_classes >= 1);
        for (int i = 0; i < d.n; i++) {
            FUZZ_CHECK(d.cls[i] >= 0 && d.cls[i] < d.n_classes);
            for (int a = 0; a < d.n_attrs; a++) {
                size_t k = (size_t)i * d.n_attrs + a;
                if (d.attrs[a].kind == GD_ATTR_CATEGORICAL)
                    FUZZ_CHECK(d.labels[k] >= 0 && d.labels[k] < d.attrs[a].n_values);
                else
                    FUZZ_CHECK(isfinite(d.cont[k]));
            }
        }
        gd_dataset_free(&d);
    }
    return 0;
}
