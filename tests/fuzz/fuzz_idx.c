/* fuzz_idx.c - libFuzzer harness for the Fashion-MNIST IDX reader, gd_fashion_load. The first
 * byte chooses the file the rest of the input becomes (bit 0: 1 the images file, beside a valid
 * labels file; 0 the labels file, beside a valid images file) and the limit (bits 1-2: 0 to 3);
 * either file may be gzipped or plain, as the reader accepts both under the plain name. */
#include "fuzz_util.h"

#include "gmmdiff/readers.h"

enum { N_ITEMS = 3, SIDE = 28 };

static int fd = -1;
static char dir_images[4096], dir_labels[4096]; /* the input is the images / the labels */

static void be32(unsigned char *b, uint32_t v) {
    b[0] = (unsigned char)(v >> 24), b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8), b[3] = (unsigned char)v;
}

static void write_file(const char *path, const unsigned char *b, size_t n) {
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f && fwrite(b, 1, n, f) == n && fclose(f) == 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    char mem[64], p[4200];
    fd = fuzz_memfd("idx", mem);
    /* a valid images file of N_ITEMS 28x28 images and a valid labels file */
    static unsigned char img[16 + N_ITEMS * SIDE * SIDE], lab[8 + N_ITEMS];
    be32(img, 2051), be32(img + 4, N_ITEMS), be32(img + 8, SIDE), be32(img + 12, SIDE);
    for (size_t i = 16; i < sizeof img; i++) img[i] = (unsigned char)(i * 7);
    be32(lab, 2049), be32(lab + 4, N_ITEMS);
    for (int i = 0; i < N_ITEMS; i++) lab[8 + i] = (unsigned char)(i * 3 % 10);
    fuzz_tmp_path(dir_images, sizeof dir_images, "images");
    fuzz_tmp_path(dir_labels, sizeof dir_labels, "labels");
    FUZZ_CHECK(mkdir(dir_images, 0700) == 0 && mkdir(dir_labels, 0700) == 0);
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", dir_images);
    fuzz_link_memfd(fd, p);
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte", dir_images);
    write_file(p, lab, sizeof lab);
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", dir_labels);
    write_file(p, img, sizeof img);
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte", dir_labels);
    fuzz_link_memfd(fd, p);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    fuzz_memfd_set(fd, data + 1, size - 1);
    gd_dataset d;
    gd_error err = {0};
    int limit = (data[0] >> 1) & 3;
    if (fuzz_note(gd_fashion_load(&d, data[0] & 1 ? dir_images : dir_labels, 1, limit, &err),
                   &err) == GD_OK) {
        FUZZ_CHECK(d.n >= 1 && d.n <= N_ITEMS && (limit == 0 || d.n <= limit));
        for (int i = 0; i < d.n; i++) FUZZ_CHECK(d.cls[i] >= 0 && d.cls[i] < d.n_classes);
        gd_dataset_free(&d);
    }
    return 0;
}
