/* idx.c - Fashion-MNIST from its IDX files, gzipped or plain, through zlib (see readers.h).
 *
 * An IDX file is a big-endian header, the magic (0x00000803 = 2051: unsigned bytes, 3 dims, for
 * images; 0x00000801 = 2049, 1 dim, for labels) and one uint32 per dimension, followed by the
 * bytes in row-major order: images [n, 28, 28], labels [n]. */
#include "gmmdiff/readers.h"

#include "data/text_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define IDX_MAGIC_IMAGES 2051u
#define IDX_MAGIC_LABELS 2049u
#define FASHION_SIDE 28
#define FASHION_CLASSES 10
#define IDX_PATH_MAX 4200

static const char *const fashion_class_names[FASHION_CLASSES] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

/* opens dir/name.gz, else dir/name (gzread passes plain bytes through); path gets the name */
static gd_status idx_open(gzFile *g, char path[IDX_PATH_MAX], const char *dir, const char *name,
                          gd_error *err) {
    char gz[IDX_PATH_MAX];
    gd_status s;
    *g = NULL;
    if ((s = gd_path_join(path, IDX_PATH_MAX, dir, name, err))) return s;
    if (snprintf(gz, sizeof gz, "%s.gz", path) >= (int)sizeof gz)
        return gd_error_set(err, GD_ERR_ARG, "%s.gz: path too long", path);
    if (access(gz, F_OK) == 0) {
        strcpy(path, gz);
    } else if (access(path, F_OK) != 0) {
        return gd_error_set(err, GD_ERR_IO, "%s: cannot open (nor %s): %s", gz, path,
                            strerror(errno));
    }
    *g = gzopen(path, "rb");
    if (!*g) return gd_error_set(err, GD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    return GD_OK;
}

/* reads exactly n bytes of `what` into buf, or names the file and why not */
static gd_status idx_read(gzFile g, const char *path, void *buf, size_t n, const char *what,
                          gd_error *err) {
    unsigned char *p = buf;
    while (n) {
        unsigned chunk = n > (1u << 30) ? 1u << 30 : (unsigned)n;
        int r = gzread(g, p, chunk);
        if (r <= 0) {
            int zerr = Z_OK;
            const char *zmsg = gzerror(g, &zerr);
            if (r < 0 && zerr != Z_BUF_ERROR)
                return gd_error_set(err, GD_ERR_FORMAT, "%s: corrupt gzip data in the %s: %s",
                                    path, what, zmsg);
            return gd_error_set(err, GD_ERR_FORMAT, "%s: truncated: the file ends inside the %s",
                                path, what);
        }
        p += r;
        n -= (size_t)r;
    }
    return GD_OK;
}

static uint32_t be32(const unsigned char *b) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* reads the header (magic then ndim sizes) and checks the magic and the item count */
static gd_status idx_header(gzFile g, const char *path, uint32_t magic, int ndim, uint32_t *dims,
                            gd_error *err) {
    unsigned char b[16];
    gd_status s = idx_read(g, path, b, 4 + 4 * (size_t)ndim, "header", err);
    if (s) return s;
    uint32_t m = be32(b);
    if (m != magic)
        return gd_error_set(err, GD_ERR_FORMAT,
                            "%s: bad magic number %u (expected %u: an IDX file of %s)", path, m,
                            magic, magic == IDX_MAGIC_IMAGES ? "unsigned-byte images [n, rows, cols]"
                                                             : "unsigned-byte labels [n]");
    for (int i = 0; i < ndim; i++) dims[i] = be32(b + 4 + 4 * i);
    if (dims[0] == 0) return gd_error_set(err, GD_ERR_FORMAT, "%s: holds no items", path);
    if (dims[0] > GD_READER_MAX_ITEMS)
        return gd_error_set(err, GD_ERR_NOMEM, "%s: %u items is beyond the limit of %d", path,
                            dims[0], GD_READER_MAX_ITEMS);
    return GD_OK;
}

static gd_status fashion_fill(gd_dataset *d, const unsigned char *pix, const unsigned char *lab,
                              int n, const char *label_path, gd_error *err) {
    const int P = FASHION_SIDE * FASHION_SIDE;
    gd_status s = gd_dataset_alloc(d, n, 1, FASHION_SIDE, FASHION_SIDE, 1 + GD_FEATURE_COUNT, err);
    if (s) return s;
    snprintf(d->name, sizeof d->name, "fashion-mnist");
    d->n_classes = FASHION_CLASSES;
    gd_attr *a = &d->attrs[0];
    snprintf(a->name, sizeof a->name, "label");
    a->kind = GD_ATTR_CATEGORICAL;
    a->n_values = FASHION_CLASSES;
    for (int k = 0; k < FASHION_CLASSES; k++)
        snprintf(a->values[k], sizeof a->values[k], "%s", fashion_class_names[k]);
    for (int f = 0; f < GD_FEATURE_COUNT; f++) {
        snprintf(d->attrs[1 + f].name, GD_DATA_NAME_MAX, "%s", gd_feature_names[f]);
        d->attrs[1 + f].kind = GD_ATTR_CONTINUOUS;
    }
    const int na = d->n_attrs;
    for (int i = 0; i < n; i++) {
        if (lab[i] >= FASHION_CLASSES)
            return gd_error_set(err, GD_ERR_FORMAT, "%s: label %d of item %d is not in [0, %d)",
                                label_path, lab[i], i, FASHION_CLASSES);
        float *img = d->images + (size_t)i * P;
        for (int p = 0; p < P; p++) img[p] = pix[(size_t)i * P + p] / 127.5f - 1.0f;
        d->labels[(size_t)i * na] = lab[i];
        d->cls[i] = lab[i];
        gd_image_features(img, 1, FASHION_SIDE, FASHION_SIDE, d->cont + (size_t)i * na + 1);
    }
    return GD_OK;
}

gd_status gd_fashion_load(gd_dataset *d, const char *dir, int train, int limit, gd_error *err) {
    GD_ASSERT(d && dir);
    memset(d, 0, sizeof *d);
    if (limit < 0) return gd_error_set(err, GD_ERR_ARG, "fashion-mnist: limit %d < 0", limit);
    const char *split = train ? "train" : "t10k";
    char ipath[IDX_PATH_MAX], lpath[IDX_PATH_MAX], iname[64], lname[64];
    snprintf(iname, sizeof iname, "%s-images-idx3-ubyte", split);
    snprintf(lname, sizeof lname, "%s-labels-idx1-ubyte", split);
    gzFile gi = NULL, gl = NULL;
    unsigned char *pix = NULL, *lab = NULL;
    uint32_t idims[3] = {0, 0, 0}, ldims[1] = {0};
    gd_status s;
    if ((s = idx_open(&gi, ipath, dir, iname, err))) goto done;
    if ((s = idx_header(gi, ipath, IDX_MAGIC_IMAGES, 3, idims, err))) goto done;
    if (idims[1] != FASHION_SIDE || idims[2] != FASHION_SIDE) {
        s = gd_error_set(err, GD_ERR_SHAPE, "%s: images are %ux%u, expected %dx%d", ipath,
                         idims[1], idims[2], FASHION_SIDE, FASHION_SIDE);
        goto done;
    }
    if ((s = idx_open(&gl, lpath, dir, lname, err))) goto done;
    if ((s = idx_header(gl, lpath, IDX_MAGIC_LABELS, 1, ldims, err))) goto done;
    if (ldims[0] != idims[0]) {
        s = gd_error_set(err, GD_ERR_SHAPE, "%s: %u labels, but %s holds %u images", lpath,
                         ldims[0], ipath, idims[0]);
        goto done;
    }
    int n = (int)idims[0];
    if (limit > 0 && limit < n) n = limit;
    const size_t P = FASHION_SIDE * FASHION_SIDE;
    pix = malloc((size_t)n * P);
    lab = malloc((size_t)n);
    if (!pix || !lab) {
        s = gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory for %d images", ipath, n);
        goto done;
    }
    if ((s = idx_read(gi, ipath, pix, (size_t)n * P, "image data", err))) goto done;
    if ((s = idx_read(gl, lpath, lab, (size_t)n, "label data", err))) goto done;
    s = fashion_fill(d, pix, lab, n, lpath, err);
done:
    if (s) {
        gd_dataset_free(d);
        memset(d, 0, sizeof *d);
    }
    if (gi) gzclose(gi);
    if (gl) gzclose(gl);
    free(pix);
    free(lab);
    return s;
}
