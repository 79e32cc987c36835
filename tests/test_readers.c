/* test_readers.c - the data readers on small files written here: Fashion-MNIST IDX (gzipped and
 * plain), a PNG folder with its CSV, CelebA's JPEGs and lists; every bad input refused with the
 * file named; the measured features on hand-made images; the real Fashion-MNIST when installed. */
#include "gmmdiff/image.h"
#include "gmmdiff/readers.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

static char dir[] = "/tmp/gd_test_readers_XXXXXX";

/* dir/a/b... joined; a ring of buffers so a few may be live at once */
static const char *at(const char *name) {
    static char buf[8][512];
    static int k;
    char *b = buf[k++ % 8];
    snprintf(b, 512, "%s/%s", dir, name);
    return b;
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
}

/* checks a refusal: status s (or any error when want is GD_OK), the message naming `file` and
 * containing needle, and the data set left zeroed */
static void refused(const char *label, gd_status s, gd_status want, const gd_error *err,
                    const gd_dataset *d, const char *file, const char *needle) {
    char l[300];
    snprintf(l, sizeof l, "%s: refused (%s), naming %s and '%s'", label,
             want ? gd_status_name(want) : "any error", file, needle);
    TEST_COND(l, s != GD_OK && (want == GD_OK || s == want) && strstr(err->msg, file) &&
                     strstr(err->msg, needle) && d->images == NULL && d->n == 0);
    printf("  %s -> %s\n", label, err->msg);
}

/* ---- measured features ---- */
static void test_features(void) {
    float img[3 * 10 * 12], f[GD_FEATURE_COUNT];
    for (int i = 0; i < 120; i++) img[i] = -1.0f;
    gd_image_features(img, 1, 10, 12, f);
    TEST_COND("features: empty image is all zero", f[0] == 0 && f[1] == 0 && f[2] == 0 && f[3] == 0);
    for (int y = 2; y < 6; y++) /* rows 2..5, columns 3..9 at intensity 0.8 */
        for (int x = 3; x < 10; x++) img[y * 12 + x] = 0.6f;
    img[0] = -0.7f; /* intensity 0.15: below the threshold */
    img[1] = NAN;   /* background */
    gd_image_features(img, 1, 10, 12, f);
    TEST_COND("features: rectangle ink = 28/120", fabsf(f[GD_FEATURE_INK] - 28.0f / 120) < 1e-6f);
    TEST_COND("features: rectangle mean intensity 0.8", fabsf(f[GD_FEATURE_MEAN] - 0.8f) < 1e-6f);
    TEST_COND("features: rectangle width 7, height 4",
              f[GD_FEATURE_WIDTH] == 7 && f[GD_FEATURE_HEIGHT] == 4);
    img[9 * 12 + 11] = 1.0f; /* one more ink pixel in the far corner widens the box */
    gd_image_features(img, 1, 10, 12, f);
    TEST_COND("features: corner pixel stretches the box to 9x8",
              f[GD_FEATURE_WIDTH] == 9 && f[GD_FEATURE_HEIGHT] == 8 &&
                  fabsf(f[GD_FEATURE_MEAN] - (28 * 0.8f + 1) / 29) < 1e-6f);
    for (int i = 0; i < 360; i++) img[i] = -1.0f; /* RGB: channels are averaged */
    img[0 * 120 + 5 * 12 + 6] = 1.0f;             /* red only: intensity 1/3 */
    gd_image_features(img, 3, 10, 12, f);
    TEST_COND("features: RGB averages channels", fabsf(f[GD_FEATURE_MEAN] - 1.0f / 3) < 1e-6f &&
                                                     f[GD_FEATURE_WIDTH] == 1 &&
                                                     fabsf(f[GD_FEATURE_INK] - 1.0f / 120) < 1e-7f);
}

/* ---- Fashion-MNIST IDX ---- */
static void write_idx(const char *path, int gz, uint32_t magic, int ndim, const uint32_t *dims,
                      const unsigned char *data, size_t n) {
    unsigned char h[16];
    for (int i = 0; i <= ndim; i++) {
        uint32_t v = i ? dims[i - 1] : magic;
        h[4 * i] = v >> 24, h[4 * i + 1] = v >> 16, h[4 * i + 2] = v >> 8, h[4 * i + 3] = v;
    }
    if (gz) {
        gzFile g = gzopen(path, "wb");
        gzwrite(g, h, 4 * (unsigned)(ndim + 1));
        if (n) gzwrite(g, data, (unsigned)n);
        gzclose(g);
    } else {
        FILE *f = fopen(path, "wb");
        fwrite(h, 1, 4 * (size_t)(ndim + 1), f);
        fwrite(data, 1, n, f);
        fclose(f);
    }
}

/* a split in folder sub: images (magic mi, count ni, side rows x 28, ni_data items written)
 * and labels (magic ml, count nl, the labels) */
static void fashion_files(const char *sub, const char *split, int gz, uint32_t mi, uint32_t ni,
                          uint32_t rows, uint32_t ni_data, uint32_t ml, uint32_t nl,
                          const unsigned char *lab) {
    static unsigned char pix[4 * 28 * 28];
    for (int i = 0; i < 4 * 28 * 28; i++) pix[i] = (unsigned char)((i * 7 + i / 28) % 256);
    char d[300], p[400];
    snprintf(d, sizeof d, "%s/%s", dir, sub);
    mkdir(d, 0755);
    snprintf(p, sizeof p, "%s/%s-images-idx3-ubyte%s", d, split, gz ? ".gz" : "");
    write_idx(p, gz, mi, 3, (uint32_t[]){ni, rows, 28}, pix, (size_t)ni_data * rows * 28);
    snprintf(p, sizeof p, "%s/%s-labels-idx1-ubyte%s", d, split, gz ? ".gz" : "");
    write_idx(p, gz, ml, 1, (uint32_t[]){nl}, lab, nl);
}

static void test_fashion(void) {
    const unsigned char lab[3] = {0, 9, 4}, badlab[3] = {0, 10, 4};
    gd_dataset d;
    gd_error err = {0};
    fashion_files("fm", "train", 1, 2051, 3, 28, 3, 2049, 3, lab);
    TEST_COND("fashion: gzipped train split loads", gd_fashion_load(&d, at("fm"), 1, 0, &err) == GD_OK);
    TEST_COND("fashion: 3 items of 1x28x28, 10 classes",
              d.n == 3 && d.c == 1 && d.h == 28 && d.w == 28 && d.n_classes == 10);
    int ok = 1;
    for (int i = 0; i < 3 * 784; i++)
        ok &= d.images[i] == (float)((i * 7 + i / 28) % 256) / 127.5f - 1.0f;
    TEST_COND("fashion: pixels are b / 127.5 - 1", ok);
    TEST_COND("fashion: attributes label, ink, mean_intensity, width, height",
              d.n_attrs == 5 && !strcmp(d.attrs[0].name, "label") &&
                  d.attrs[0].n_values == 10 && !strcmp(d.attrs[0].values[9], "Ankle boot") &&
                  !strcmp(d.attrs[0].values[0], "T-shirt/top") &&
                  !strcmp(d.attrs[2].name, "mean_intensity") &&
                  d.attrs[4].kind == GD_ATTR_CONTINUOUS);
    ok = 1;
    for (int i = 0; i < 3; i++) {
        float f[4];
        gd_image_features(d.images + i * 784, 1, 28, 28, f);
        ok &= d.labels[i * 5] == lab[i] && d.cls[i] == lab[i] && d.labels[i * 5 + 1] == -1 &&
              isnan(d.cont[i * 5]) && !memcmp(d.cont + i * 5 + 1, f, sizeof f);
    }
    TEST_COND("fashion: labels, cls and features per item", ok);
    gd_dataset_free(&d);
    TEST_COND("fashion: limit 2", gd_fashion_load(&d, at("fm"), 1, 2, &err) == GD_OK && d.n == 2);
    gd_dataset_free(&d);
    fashion_files("fm", "t10k", 0, 2051, 3, 28, 3, 2049, 3, lab);
    TEST_COND("fashion: plain (not gzipped) test split loads",
              gd_fashion_load(&d, at("fm"), 0, 0, &err) == GD_OK && d.n == 3 && d.cls[1] == 9);
    gd_dataset_free(&d);

    gd_status s;
    fashion_files("magic", "train", 1, 2049, 3, 28, 3, 2049, 3, lab);
    s = gd_fashion_load(&d, at("magic"), 1, 0, &err);
    refused("fashion wrong image magic", s, GD_ERR_FORMAT, &err, &d, "train-images-idx3-ubyte.gz", "magic");
    fashion_files("lmagic", "train", 1, 2051, 3, 28, 3, 2051, 3, lab);
    s = gd_fashion_load(&d, at("lmagic"), 1, 0, &err);
    refused("fashion wrong label magic", s, GD_ERR_FORMAT, &err, &d, "train-labels-idx1-ubyte.gz", "magic");
    fashion_files("count", "train", 1, 2051, 3, 28, 3, 2049, 2, lab);
    s = gd_fashion_load(&d, at("count"), 1, 0, &err);
    refused("fashion counts disagree", s, GD_ERR_SHAPE, &err, &d, "train-labels-idx1-ubyte.gz", "2 labels");
    fashion_files("trunc", "train", 1, 2051, 3, 28, 2, 2049, 3, lab);
    s = gd_fashion_load(&d, at("trunc"), 1, 0, &err);
    refused("fashion truncated images", s, GD_ERR_FORMAT, &err, &d, "train-images-idx3-ubyte.gz", "truncated");
    fashion_files("ptrunc", "train", 0, 2051, 3, 28, 3, 2049, 3, lab);
    write_idx(at("ptrunc/train-labels-idx1-ubyte"), 0, 2049, 1, (uint32_t[]){3}, lab, 2);
    s = gd_fashion_load(&d, at("ptrunc"), 1, 0, &err);
    refused("fashion truncated plain labels", s, GD_ERR_FORMAT, &err, &d, "train-labels-idx1-ubyte", "truncated");
    fashion_files("dims", "train", 1, 2051, 3, 27, 3, 2049, 3, lab);
    s = gd_fashion_load(&d, at("dims"), 1, 0, &err);
    refused("fashion 27x28 images", s, GD_ERR_SHAPE, &err, &d, "train-images-idx3-ubyte.gz", "28x28");
    fashion_files("label", "train", 1, 2051, 3, 28, 3, 2049, 3, badlab);
    s = gd_fashion_load(&d, at("label"), 1, 0, &err);
    refused("fashion label 10", s, GD_ERR_FORMAT, &err, &d, "train-labels-idx1-ubyte.gz", "label 10");
    fashion_files("huge", "train", 1, 2051, 1u << 30, 28, 0, 2049, 3, lab);
    s = gd_fashion_load(&d, at("huge"), 1, 0, &err);
    refused("fashion 2^30 items", s, GD_ERR_NOMEM, &err, &d, "train-images-idx3-ubyte.gz", "limit");
    s = gd_fashion_load(&d, at("none"), 1, 0, &err);
    refused("fashion missing folder", s, GD_ERR_IO, &err, &d, "train-images-idx3-ubyte.gz", "cannot open");
    /* a gzip stream cut short: gzip a full file, then keep half its bytes */
    fashion_files("gzcut", "train", 1, 2051, 3, 28, 3, 2049, 3, lab);
    FILE *f = fopen(at("gzcut/train-images-idx3-ubyte.gz"), "rb");
    static unsigned char gzb[8192];
    size_t gn = fread(gzb, 1, sizeof gzb, f);
    fclose(f);
    f = fopen(at("gzcut/train-images-idx3-ubyte.gz"), "wb");
    fwrite(gzb, 1, gn / 2, f);
    fclose(f);
    s = gd_fashion_load(&d, at("gzcut"), 1, 0, &err);
    refused("fashion gzip stream cut short", s, GD_ERR_FORMAT, &err, &d, "train-images-idx3-ubyte.gz", "truncated");
}

static void test_fashion_installed(void) {
    char p[512];
    snprintf(p, sizeof p, "%s/t10k-images-idx3-ubyte.gz", GD_FASHION_DIR);
    FILE *f = fopen(p, "rb");
    if (!f) {
        printf("  note: %s is absent (Debian package dataset-fashion-mnist): real-data check "
               "skipped\n", p);
        return;
    }
    fclose(f);
    gd_dataset d;
    gd_error err = {0};
    gd_status s = gd_fashion_load(&d, GD_FASHION_DIR, 0, 0, &err);
    TEST_COND("installed fashion-mnist: test split loads", s == GD_OK);
    if (s) {
        printf("  %s\n", err.msg);
        return;
    }
    int count[10] = {0}, ok = d.n == 10000;
    double mean[4] = {0};
    for (int i = 0; i < d.n; i++) {
        ok &= d.cls[i] >= 0 && d.cls[i] < 10 && d.labels[i * 5] == d.cls[i];
        if (d.cls[i] >= 0 && d.cls[i] < 10) count[d.cls[i]]++;
        for (int k = 0; k < 4; k++) mean[k] += d.cont[i * 5 + 1 + k] / d.n;
    }
    for (int k = 0; k < 10; k++) ok &= count[k] == 1000;
    TEST_COND("installed fashion-mnist: 10000 items, labels in range, 1000 per class", ok);
    printf("  installed fashion-mnist t10k: mean ink %.3f, mean_intensity %.3f, width %.2f, "
           "height %.2f\n", mean[0], mean[1], mean[2], mean[3]);
    gd_dataset_free(&d);
}

/* ---- PNG folder ---- */
static void write_png(const char *path, int w, int h, int c, const unsigned char *px) {
    FILE *f = fopen(path, "wb");
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop i = png_create_info_struct(p);
    png_init_io(p, f);
    png_set_IHDR(p, i, (png_uint_32)w, (png_uint_32)h, 8, c == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(p, i);
    for (int y = 0; y < h; y++) png_write_row(p, (png_const_bytep)px + (size_t)y * w * c);
    png_write_end(p, NULL);
    png_destroy_write_struct(&p, &i);
    fclose(f);
}

/* loads dir pf with csv text and expects a refusal naming `file` and needle */
static void folder_refused(const char *label, const char *csv, gd_status want, const char *file,
                           const char *needle) {
    write_text(at("pf/bad.csv"), csv);
    gd_dataset d;
    gd_error err = {0};
    gd_status s = gd_folder_load(&d, at("pf"), at("pf/bad.csv"), 3, &err);
    refused(label, s, want, &err, &d, file, needle);
}

static void test_folder(void) {
    mkdir(at("pf"), 0755);
    mkdir(at("pf/sub"), 0755);
    unsigned char px[3][4 * 3 * 3], big[5 * 3 * 3];
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 36; i++) px[k][i] = (unsigned char)(k * 80 + i * 5);
    memset(big, 9, sizeof big);
    write_png(at("pf/a.png"), 4, 3, 3, px[0]);
    write_png(at("pf/b.png"), 4, 3, 3, px[1]);
    write_png(at("pf/sub/c.png"), 4, 3, 3, px[2]);
    write_png(at("pf/big.png"), 5, 3, 3, big);
    write_text(at("pf/attributes.csv"), "file,shape,size,colour\r\n"
                                        "a.png, circle ,1.5,red\r\n"
                                        "\r\n"
                                        "b.png,square,2,blue\r\n"
                                        "sub/c.png,circle,-3e-1,blue\r\n");
    gd_dataset d;
    gd_error err = {0};
    gd_status s = gd_folder_load(&d, at("pf"), NULL, 3, &err);
    TEST_COND("folder: attributes.csv loads", s == GD_OK);
    if (s) printf("  %s\n", err.msg);
    TEST_COND("folder: 3 RGB images of 3x4", d.n == 3 && d.c == 3 && d.h == 3 && d.w == 4);
    int ok = d.images != NULL;
    for (int k = 0; ok && k < 3; k++)
        for (int q = 0; q < 3; q++)
            for (int i = 0; i < 12; i++)
                ok &= d.images[(k * 3 + q) * 12 + i] == px[k][i * 3 + q] / 127.5f - 1.0f;
    TEST_COND("folder: pixels read back channels first", ok);
    TEST_COND("folder: shape and colour categorical in order of first appearance, size continuous",
              d.n_attrs == 3 && d.attrs[0].kind == GD_ATTR_CATEGORICAL &&
                  d.attrs[0].n_values == 2 && !strcmp(d.attrs[0].values[0], "circle") &&
                  !strcmp(d.attrs[0].values[1], "square") &&
                  d.attrs[1].kind == GD_ATTR_CONTINUOUS && !strcmp(d.attrs[2].name, "colour") &&
                  !strcmp(d.attrs[2].values[1], "blue"));
    TEST_COND("folder: values", d.labels && d.labels[0] == 0 && d.cont[1] == 1.5f &&
                                    d.labels[2] == 0 && d.labels[3] == 1 && d.cont[4] == 2.0f &&
                                    d.cont[7] == -0.3f && d.labels[8] == 1 && isnan(d.cont[0]) &&
                                    d.labels[1] == -1);
    TEST_COND("folder: cls is the combination index",
              d.n_classes == 4 && d.cls[0] == 0 && d.cls[1] == 3 && d.cls[2] == 1);
    gd_dataset_free(&d);
    write_text(at("pf/cls.csv"), "file,class,size\na.png,5,1\nb.png,0,2\n");
    s = gd_folder_load(&d, at("pf"), at("pf/cls.csv"), 1, &err);
    TEST_COND("folder: class column gives cls, grey conversion",
              s == GD_OK && d.n == 2 && d.c == 1 && d.n_attrs == 1 && d.n_classes == 6 &&
                  d.cls[0] == 5 && d.cls[1] == 0 && !strcmp(d.attrs[0].name, "size"));
    gd_dataset_free(&d);

    const char *bad = at("pf/bad.csv");
    folder_refused("folder wrong field count", "file,a,b\na.png,1,2\nb.png,1\n", GD_ERR_FORMAT, bad, "line 3");
    folder_refused("folder too many fields", "file,a\na.png,1,2\n", GD_ERR_FORMAT, bad, "line 2");
    folder_refused("folder empty value", "file,a,b\na.png,1,\n", GD_ERR_FORMAT, bad, "empty value in column 'b'");
    folder_refused("folder NaN", "file,a\na.png,1\nb.png,nan\n", GD_ERR_NUMERIC, bad, "line 3");
    folder_refused("folder Inf", "file,a\na.png,-inf\nb.png,1\n", GD_ERR_NUMERIC, bad, "line 2");
    folder_refused("folder overflow to Inf", "file,a\na.png,1e39\n", GD_ERR_NUMERIC, bad, "finite");
    folder_refused("folder quoted field", "file,a\n\"a.png\",1\n", GD_ERR_FORMAT, bad, "quoted");
    folder_refused("folder header", "name,a\na.png,1\n", GD_ERR_FORMAT, bad, "'file'");
    folder_refused("folder duplicate column", "file,a,a\na.png,1,2\n", GD_ERR_FORMAT, bad, "twice");
    folder_refused("folder bad class", "file,class\na.png,-1\n", GD_ERR_FORMAT, bad, "line 2");
    folder_refused("folder no rows", "file,a\n\n", GD_ERR_FORMAT, bad, "no data rows");
    folder_refused("folder missing PNG", "file,a\na.png,1\nnone.png,2\n", GD_ERR_IO,
                   at("pf/none.png"), "line 3");
    folder_refused("folder PNG of the wrong size", "file,a\na.png,x\nbig.png,y\n", GD_ERR_SHAPE,
                   at("pf/big.png"), "image is 3x5");
    folder_refused("folder CSV as a PNG", "file,a\nbad.csv,1\n", GD_ERR_FORMAT, at("pf/bad.csv"),
                   "not a PNG");
    /* one row more than GD_READER_MAX_ITEMS (8 MiB of CSV) */
    FILE *f = fopen(bad, "wb");
    fputs("file,a\n", f);
    for (int i = 0; i <= GD_READER_MAX_ITEMS; i++) fputs("a.png,1\n", f);
    fclose(f);
    s = gd_folder_load(&d, at("pf"), bad, 3, &err);
    refused("folder over-limit row count", s, GD_ERR_NOMEM, &err, &d, bad, "limit");
    s = gd_folder_load(&d, at("pf"), at("pf/none.csv"), 3, &err);
    refused("folder missing CSV", s, GD_ERR_IO, &err, &d, at("pf/none.csv"), "cannot open");
    s = gd_folder_load(&d, at("pf"), NULL, 2, &err);
    refused("folder 2 channels", s, GD_ERR_ARG, &err, &d, at("pf"), "channels");
}

/* ---- the PNG reader on bad files ---- */
/* appends one PNG chunk (length, type, data, CRC) to f */
static void put_png_chunk(FILE *f, const char *type, const unsigned char *d, unsigned n) {
    unsigned char len[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
                            (unsigned char)(n >> 8), (unsigned char)n};
    uLong crc = crc32(crc32(0L, Z_NULL, 0), (const Bytef *)type, 4);
    crc = crc32(crc, d, n);
    unsigned char c[4] = {(unsigned char)(crc >> 24), (unsigned char)(crc >> 16),
                          (unsigned char)(crc >> 8), (unsigned char)crc};
    fwrite(len, 1, 4, f);
    fwrite(type, 1, 4, f);
    fwrite(d, 1, n, f);
    fwrite(c, 1, 4, f);
}

/* reads path as grey and as RGB; both must be refused with status want, naming the file and
 * needle, and leave no buffer (under LeakSanitizer: none leaked either) */
static void png_refused(const char *label, const char *path, gd_status want, const char *needle) {
    for (int c = 1; c <= 3; c += 2) {
        float *px = (float *)1;
        int h = -1, w = -1;
        gd_error err = {0};
        gd_status s = gd_png_read(path, c, &px, &h, &w, &err);
        char l[300];
        snprintf(l, sizeof l, "%s (%d channels): refused (%s), naming the file and '%s'", label, c,
                 gd_status_name(want), needle);
        TEST_COND(l, s == want && px == NULL && strstr(err.msg, path) && strstr(err.msg, needle));
        if (c == 1) printf("  %s -> %s\n", label, err.msg);
    }
}

static void test_png_bad(void) {
    unsigned char px[16 * 16];
    for (int i = 0; i < 16 * 16; i++) px[i] = (unsigned char)(i * 13);
    write_png(at("good.png"), 16, 16, 1, px);
    FILE *f = fopen(at("good.png"), "rb");
    unsigned char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    size_t idat = 0;
    for (size_t i = 8; i + 4 <= n && !idat; i++)
        if (!memcmp(buf + i, "IDAT", 4)) idat = i;
    TEST_COND("png: the written file has an IDAT chunk", idat > 0);
    /* a flipped byte in the compressed pixels: libpng fails inside png_read_image, after the
     * reader has allocated its buffers (the fuzzer's first finding: they leaked) */
    buf[idat + 8] ^= 0x55;
    f = fopen(at("bad_idat.png"), "wb");
    fwrite(buf, 1, n, f);
    fclose(f);
    png_refused("png corrupt pixel data", at("bad_idat.png"), GD_ERR_FORMAT, "corrupt");
    buf[idat + 8] ^= 0x55;
    /* cut inside the pixel data */
    f = fopen(at("cut.png"), "wb");
    fwrite(buf, 1, idat + 12, f);
    fclose(f);
    png_refused("png truncated", at("cut.png"), GD_ERR_FORMAT, "truncated");
    /* a 16384 x 16384 RGB header and a few bytes of pixels: refused before the reader allocates
     * 4 GiB from the header (a 68-byte file) */
    f = fopen(at("huge.png"), "wb");
    fwrite("\x89PNG\r\n\x1a\n", 1, 8, f);
    unsigned char ihdr[13] = {0, 0, 0x40, 0, 0, 0, 0x40, 0, 8, 2, 0, 0, 0};
    put_png_chunk(f, "IHDR", ihdr, 13);
    unsigned char z[64], raw[10] = {0};
    uLongf zn = sizeof z;
    compress(z, &zn, raw, sizeof raw);
    put_png_chunk(f, "IDAT", z, (unsigned)zn);
    put_png_chunk(f, "IEND", (const unsigned char *)"", 0);
    fclose(f);
    png_refused("png huge header", at("huge.png"), GD_ERR_NOMEM, "16384x16384");
}

/* ---- CelebA ---- */
#define CW 178
#define CH 218

static void write_jpeg(const char *path, const unsigned char *rgb, int w, int h) {
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    FILE *f = fopen(path, "wb");
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 95, TRUE);
    c.comp_info[0].h_samp_factor = c.comp_info[0].v_samp_factor = 1;
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW r = (JSAMPROW)rgb + (size_t)c.next_scanline * w * 3;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
}

/* decodes a good JPEG (the test's own reference decode) into rgb [CH, CW, 3] */
static void read_jpeg(const char *path, unsigned char *rgb) {
    struct jpeg_decompress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_decompress(&c);
    FILE *f = fopen(path, "rb");
    jpeg_stdio_src(&c, f);
    jpeg_read_header(&c, TRUE);
    c.out_color_space = JCS_RGB;
    jpeg_start_decompress(&c);
    while (c.output_scanline < c.output_height) {
        JSAMPROW r = rgb + (size_t)c.output_scanline * CW * 3;
        jpeg_read_scanlines(&c, &r, 1);
    }
    jpeg_finish_decompress(&c);
    jpeg_destroy_decompress(&c);
    fclose(f);
}

/* the expected output: rows 20..197 of rgb, area-averaged in 2-D with double overlaps */
static double ref_pixel(const unsigned char *rgb, int size, int q, int oy, int ox) {
    const double r = (double)CW / size;
    double acc = 0.0;
    for (int y = 0; y < CW; y++) {
        double wy = fmin(y + 1, (oy + 1) * r) - fmax(y, oy * r);
        if (wy <= 0) continue;
        for (int x = 0; x < CW; x++) {
            double wx = fmin(x + 1, (ox + 1) * r) - fmax(x, ox * r);
            if (wx > 0) acc += wy * wx * rgb[((size_t)(y + 20) * CW + x) * 3 + q];
        }
    }
    return acc / (r * r) / 127.5 - 1.0;
}

static const char *celeba_attr_ok =
    "3\n5_o_Clock_Shadow Arched_Eyebrows a2 a3 a4 a5 a6 a7 a8 a9 a10 a11 a12 a13 a14 a15 a16 "
    "a17 a18 a19 a20 a21 a22 a23 a24 a25 a26 a27 a28 a29 a30 a31 a32 a33 a34 a35 a36 a37 a38 "
    "Young \n";
static const char *celeba_part_ok = "000001.jpg 0\n000002.jpg 0\n000003.jpg 2\n";

/* list_attr_celeba.txt with the given count line and a value for item 2's attribute 5 */
static void celeba_lists(const char *count, const char *v25, const char *part) {
    char buf[4096];
    const char *names = strchr(celeba_attr_ok, '\n') + 1;
    int n = snprintf(buf, sizeof buf, "%s\n%s", count, names);
    for (int i = 1; i <= 3; i++) {
        n += snprintf(buf + n, sizeof buf - n, "%06d.jpg", i);
        for (int a = 0; a < 40; a++)
            n += snprintf(buf + n, sizeof buf - n, " %s",
                          i == 2 && a == 5 ? v25 : (i + a) % 3 == 0 ? " 1" : "-1");
        n += snprintf(buf + n, sizeof buf - n, "\n");
    }
    write_text(at("ca/list_attr_celeba.txt"), buf);
    write_text(at("ca/list_eval_partition.txt"), part);
}

static void celeba_refused(const char *label, int partition, gd_status want, const char *file,
                           const char *needle) {
    gd_dataset d;
    gd_error err = {0};
    gd_status s = gd_celeba_load(&d, at("ca"), partition, 4, 0, &err);
    refused(label, s, want, &err, &d, file, needle);
}

static void test_celeba(void) {
    mkdir(at("ca"), 0755);
    mkdir(at("ca/img_align_celeba"), 0755);
    static unsigned char img[3][CH * CW * 3], dec[CH * CW * 3];
    for (int y = 0; y < CH; y++) /* 1: red outside rows 20..197, quadrants inside */
        for (int x = 0; x < CW; x++) {
            unsigned char *p = img[0] + ((size_t)y * CW + x) * 3;
            int in = y >= 20 && y < 198, top = y < 109, left = x < 89;
            p[0] = in ? (top ? 30 : 220) : 255;
            p[1] = in ? (left ? 40 : 200) : 0;
            p[2] = in ? 120 : 0;
            img[1][((size_t)y * CW + x) * 3 + 0] = img[1][((size_t)y * CW + x) * 3 + 1] =
                img[1][((size_t)y * CW + x) * 3 + 2] = 128;
            for (int q = 0; q < 3; q++) /* 3: smooth gradients, different per channel */
                img[2][((size_t)y * CW + x) * 3 + q] = (unsigned char)((x * (q + 1) + y * 2) % 256);
        }
    for (int i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof name, "ca/img_align_celeba/%06d.jpg", i + 1);
        write_jpeg(at(name), img[i], CW, CH);
    }
    celeba_lists("3", "-1", celeba_part_ok);
    gd_dataset d;
    gd_error err = {0};
    gd_status s = gd_celeba_load(&d, at("ca"), -1, 4, 0, &err);
    TEST_COND("celeba: all partitions load at size 4", s == GD_OK);
    if (s) printf("  %s\n", err.msg);
    TEST_COND("celeba: 3 RGB items of 4x4, 40 attributes, 1 class",
              d.n == 3 && d.c == 3 && d.h == 4 && d.w == 4 && d.n_attrs == 40 &&
                  d.n_classes == 1 && d.cls[2] == 0);
    TEST_COND("celeba: attribute names and {no, yes}",
              !strcmp(d.attrs[0].name, "5_o_Clock_Shadow") && !strcmp(d.attrs[39].name, "Young") &&
                  d.attrs[7].n_values == 2 && !strcmp(d.attrs[7].values[0], "no") &&
                  !strcmp(d.attrs[7].values[1], "yes"));
    int ok = d.labels != NULL;
    for (int i = 0; ok && i < 3; i++)
        for (int a = 0; a < 40; a++) ok &= d.labels[i * 40 + a] == ((i + 1 + a) % 3 == 0);
    TEST_COND("celeba: 1 -> yes, -1 -> no", ok);
    ok = d.images != NULL;
    for (int y = 0; ok && y < 4; y++) /* the crop drops the red bands; quadrants stay apart */
        for (int x = 0; x < 4; x++) {
            float r = (y < 2 ? 30 : 220) / 127.5f - 1, g = (x < 2 ? 40 : 200) / 127.5f - 1;
            ok &= fabsf(d.images[(0 * 4 + y) * 4 + x] - r) < 0.03f &&
                  fabsf(d.images[(1 * 4 + y) * 4 + x] - g) < 0.03f &&
                  fabsf(d.images[(2 * 4 + y) * 4 + x] - (120 / 127.5f - 1)) < 0.03f &&
                  fabsf(d.images[48 + (y * 4 + x)] - (128 / 127.5f - 1)) < 0.02f;
        }
    TEST_COND("celeba: centre crop (rows 20..197) and RGB order", ok);
    gd_dataset_free(&d);
    const int sizes[3] = {4, 7, 178};
    read_jpeg(at("ca/img_align_celeba/000003.jpg"), dec);
    for (int k = 0; k < 3; k++) { /* exact crop and area resize against a 2-D reference */
        int sz = sizes[k];
        s = gd_celeba_load(&d, at("ca"), 2, sz, 0, &err);
        double md = 0;
        for (int q = 0; !s && q < 3; q++)
            for (int y = 0; y < sz; y++)
                for (int x = 0; x < sz; x++)
                    md = fmax(md, fabs(d.images[(q * sz + y) * sz + x] - ref_pixel(dec, sz, q, y, x)));
        char l[120];
        snprintf(l, sizeof l, "celeba: partition 2 at size %d matches the 2-D area reference "
                 "(max diff %.2g)", sz, md);
        TEST_COND(l, s == GD_OK && d.n == 1 && md < 1e-4);
        gd_dataset_free(&d);
    }
    TEST_COND("celeba: partition 0 has 2 items",
              gd_celeba_load(&d, at("ca"), 0, 8, 0, &err) == GD_OK && d.n == 2);
    gd_dataset_free(&d);
    TEST_COND("celeba: limit 1", gd_celeba_load(&d, at("ca"), -1, 8, 1, &err) == GD_OK &&
                                     d.n == 1 && d.labels[2] == 1);
    gd_dataset_free(&d);

    const char *al = at("ca/list_attr_celeba.txt"), *pl = at("ca/list_eval_partition.txt");
    celeba_lists("4", "-1", celeba_part_ok);
    celeba_refused("celeba count says 4, 3 listed", -1, GD_ERR_FORMAT, al, "count");
    celeba_lists("2", "-1", celeba_part_ok);
    celeba_refused("celeba count says 2, 3 listed", -1, GD_ERR_FORMAT, al, "line 5");
    celeba_lists("x", "-1", celeba_part_ok);
    celeba_refused("celeba count not a number", -1, GD_ERR_FORMAT, al, "line 1");
    celeba_lists("3", "0", celeba_part_ok);
    celeba_refused("celeba bad value 0", -1, GD_ERR_FORMAT, al, "bad value '0' for a5");
    celeba_lists("3", "-1 1", celeba_part_ok);
    celeba_refused("celeba 41 values", -1, GD_ERR_FORMAT, al, "line 4");
    celeba_lists("3", "-1", "000001.jpg 0\n000009.jpg 0\n000003.jpg 2\n");
    celeba_refused("celeba unknown file in the partition list", 0, GD_ERR_FORMAT, pl, "000009.jpg");
    celeba_lists("3", "-1", "000001.jpg 0\n000003.jpg 2\n");
    celeba_refused("celeba partition list misses a file", 0, GD_ERR_FORMAT, pl, "lists 2");
    celeba_lists("3", "-1", "000001.jpg 0\n000002.jpg 3\n000003.jpg 2\n");
    celeba_refused("celeba partition 3", 1, GD_ERR_FORMAT, pl, "line 2");
    celeba_lists("3", "-1", celeba_part_ok);
    celeba_refused("celeba empty partition", 1, GD_ERR_FORMAT, pl, "no items");
    /* truncate item 2's JPEG to half its bytes */
    const char *j2 = at("ca/img_align_celeba/000002.jpg");
    FILE *f = fopen(j2, "rb");
    static unsigned char jb[1 << 16];
    size_t jn = fread(jb, 1, sizeof jb, f);
    fclose(f);
    f = fopen(j2, "wb");
    fwrite(jb, 1, jn / 2, f);
    fclose(f);
    celeba_refused("celeba truncated JPEG", -1, GD_ERR_FORMAT, j2, "JPEG");
    write_text(j2, "not a jpeg at all");
    celeba_refused("celeba not a JPEG", -1, GD_ERR_FORMAT, j2, "JPEG");
    remove(j2);
    celeba_refused("celeba missing JPEG", -1, GD_ERR_IO, j2, "cannot open");
    s = gd_celeba_load(&d, at("ca"), -1, 179, 1, &err);
    refused("celeba size 179 > 178", s, GD_ERR_SHAPE, &err, &d, "000001.jpg", "smaller than size");
    s = gd_celeba_load(&d, at("none"), -1, 4, 0, &err);
    refused("celeba missing root", s, GD_ERR_IO, &err, &d, "list_attr_celeba.txt", "cannot open");
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    test_features();
    test_fashion();
    test_fashion_installed();
    test_folder();
    test_png_bad();
    test_celeba();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) printf("warning: could not remove %s\n", dir);
    return gd_test_report("test_readers");
}
