/* celeba.c - CelebA as distributed: aligned JPEGs through libjpeg(-turbo), the attribute list
 * and the evaluation partition (see readers.h for the format, the crop and the resize). */
#include "gmmdiff/readers.h"

#include "data/text_file.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#define CELEBA_PATH_MAX 4200
#define CELEBA_NAME_MAX 256

typedef struct {
    const char *path;    /* list_attr_celeba.txt, for messages */
    int n, k;            /* entries, attributes */
    char **file;         /* [n] file names (in the text) */
    unsigned char *val;  /* [n, k] 1 yes, 0 no */
    char *name[GD_DATA_MAX_ATTRS]; /* [k] attribute names (in the text) */
    signed char *part;   /* [n] partition, -1 unknown */
} celeba_list;

/* the next whitespace-separated token of a line, NUL-terminated in place, or NULL */
static char *token(char **p) {
    char *s = *p;
    while (*s == ' ' || *s == '\t' || *s == '\r') s++;
    if (!*s) return *p = s, NULL;
    char *e = s;
    while (*e && *e != ' ' && *e != '\t' && *e != '\r') e++;
    if (*e) *e++ = '\0';
    *p = e;
    return s;
}

static int is_blank(const char *s) {
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r') return 0;
    return 1;
}

/* list_attr_celeba.txt: count, names, then count rows of file and k values of 1 or -1 */
static gd_status read_attr_list(celeba_list *c, char *text, gd_error *err) {
    char *p = text, *l, *q, *tok, *end;
    int ln = 1;
    if (!(l = gd_text_next_line(&p)))
        return gd_error_set(err, GD_ERR_FORMAT, "%s: empty: no count line", c->path);
    long n = strtol(l, &end, 10);
    if (end == l || !is_blank(end) || n <= 0 || n > GD_READER_MAX_ITEMS)
        return gd_error_set(err, GD_ERR_FORMAT,
                            "%s line 1: '%.40s' is not a count in [1, %d]", c->path, l,
                            GD_READER_MAX_ITEMS);
    if (!(q = gd_text_next_line(&p)))
        return gd_error_set(err, GD_ERR_FORMAT, "%s: no attribute names on line 2", c->path);
    ln = 2;
    while ((tok = token(&q))) {
        if (c->k == GD_DATA_MAX_ATTRS || strlen(tok) >= GD_DATA_NAME_MAX)
            return gd_error_set(err, GD_ERR_FORMAT,
                                "%s line 2: more than %d attribute names, or one longer than %d",
                                c->path, GD_DATA_MAX_ATTRS, GD_DATA_NAME_MAX - 1);
        c->name[c->k++] = tok;
    }
    if (!c->k) return gd_error_set(err, GD_ERR_FORMAT, "%s line 2: no attribute names", c->path);
    c->file = malloc(sizeof(char *) * (size_t)n);
    c->val = malloc((size_t)n * c->k);
    c->part = malloc((size_t)n);
    if (!c->file || !c->val || !c->part)
        return gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory for %ld entries", c->path, n);
    memset(c->part, -1, (size_t)n);
    while ((l = gd_text_next_line(&p))) {
        ln++;
        if (is_blank(l)) continue;
        if (c->n == n)
            return gd_error_set(err, GD_ERR_FORMAT,
                                "%s line %d: more entries than the count %ld on line 1", c->path,
                                ln, n);
        char *f = token(&l);
        if (strlen(f) >= CELEBA_NAME_MAX)
            return gd_error_set(err, GD_ERR_FORMAT, "%s line %d: file name longer than %d",
                                c->path, ln, CELEBA_NAME_MAX - 1);
        c->file[c->n] = f;
        for (int a = 0; a < c->k; a++) {
            if (!(tok = token(&l)))
                return gd_error_set(err, GD_ERR_FORMAT, "%s line %d: %d values, expected %d",
                                    c->path, ln, a, c->k);
            if (strcmp(tok, "1") && strcmp(tok, "-1"))
                return gd_error_set(err, GD_ERR_FORMAT,
                                    "%s line %d: bad value '%.20s' for %s (expected 1 or -1)",
                                    c->path, ln, tok, c->name[a]);
            c->val[(size_t)c->n * c->k + a] = tok[0] == '1';
        }
        if (token(&l))
            return gd_error_set(err, GD_ERR_FORMAT, "%s line %d: more than %d values", c->path,
                                ln, c->k);
        c->n++;
    }
    if (c->n != n)
        return gd_error_set(err, GD_ERR_FORMAT,
                            "%s: the count on line 1 says %ld entries, but the file lists %d",
                            c->path, n, c->n);
    return GD_OK;
}

typedef struct { const char *name; int index; } name_index;
static int by_name(const void *a, const void *b) {
    return strcmp(((const name_index *)a)->name, ((const name_index *)b)->name);
}

/* list_eval_partition.txt: every file of the attribute list once, with partition 0, 1 or 2 */
static gd_status read_partition(celeba_list *c, char *text, const char *path, gd_error *err) {
    name_index *order = malloc(sizeof *order * (size_t)c->n);
    if (!order) return gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", path);
    for (int i = 0; i < c->n; i++) order[i] = (name_index){c->file[i], i};
    qsort(order, (size_t)c->n, sizeof *order, by_name);
    char *p = text, *l;
    int ln = 0, seen = 0;
    gd_status s = GD_OK;
    while (!s && (l = gd_text_next_line(&p))) {
        ln++;
        if (is_blank(l)) continue;
        char *f = token(&l), *ps = token(&l), *extra = token(&l);
        if (!ps || extra || strlen(ps) != 1 || ps[0] < '0' || ps[0] > '2') {
            s = gd_error_set(err, GD_ERR_FORMAT,
                             "%s line %d: expected 'file partition' with partition 0, 1 or 2",
                             path, ln);
            break;
        }
        name_index key = {f, -1}, *found;
        found = bsearch(&key, order, (size_t)c->n, sizeof *order, by_name);
        int hit = found ? found->index : -1;
        if (hit < 0)
            s = gd_error_set(err, GD_ERR_FORMAT, "%s line %d: unknown file '%.60s' (not in %s)",
                             path, ln, f, c->path);
        else if (c->part[hit] >= 0)
            s = gd_error_set(err, GD_ERR_FORMAT, "%s line %d: file '%.60s' listed twice", path,
                             ln, f);
        else
            c->part[hit] = (signed char)(ps[0] - '0'), seen++;
    }
    if (!s && seen != c->n)
        s = gd_error_set(err, GD_ERR_FORMAT, "%s: lists %d files, but %s lists %d", path, seen,
                         c->path, c->n);
    free(order);
    return s;
}

/* ---- JPEG decoding: libjpeg errors and warnings longjmp back with the message ---- */
typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err_mgr;

static void jpeg_fail(j_common_ptr cinfo) {
    jpeg_err_mgr *m = (jpeg_err_mgr *)cinfo->err;
    cinfo->err->format_message(cinfo, m->msg);
    longjmp(m->jb, 1);
}
static void jpeg_message(j_common_ptr cinfo, int level) {
    if (level < 0) jpeg_fail(cinfo); /* a warning (truncated or corrupt data) is an error here */
}

/* decodes path to interleaved RGB bytes *rgb [h, w, 3] (malloc'd) */
static gd_status jpeg_decode(const char *path, unsigned char **rgb, int *h, int *w,
                             gd_error *err) {
    *rgb = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return gd_error_set(err, GD_ERR_IO, "%s: cannot open", path);
    struct jpeg_decompress_struct ci;
    jpeg_err_mgr jm;
    unsigned char *volatile buf = NULL;
    ci.err = jpeg_std_error(&jm.pub);
    jm.pub.error_exit = jpeg_fail;
    jm.pub.emit_message = jpeg_message;
    if (setjmp(jm.jb)) {
        jpeg_destroy_decompress(&ci);
        fclose(f);
        free(buf);
        return gd_error_set(err, GD_ERR_FORMAT, "%s: corrupt or truncated JPEG: %s", path, jm.msg);
    }
    jpeg_create_decompress(&ci);
    jpeg_stdio_src(&ci, f);
    jpeg_read_header(&ci, TRUE);
    if (ci.image_width > GD_READER_MAX_SIDE || ci.image_height > GD_READER_MAX_SIDE) {
        int W = (int)ci.image_width, H = (int)ci.image_height;
        jpeg_destroy_decompress(&ci);
        fclose(f);
        return gd_error_set(err, GD_ERR_NOMEM, "%s: %dx%d image is beyond the limit of %d", path,
                            W, H, GD_READER_MAX_SIDE);
    }
    ci.out_color_space = JCS_RGB;
    jpeg_start_decompress(&ci);
    const size_t stride = (size_t)ci.output_width * 3;
    buf = malloc(stride * ci.output_height);
    if (!buf || ci.output_components != 3) {
        jpeg_destroy_decompress(&ci);
        fclose(f);
        free(buf);
        return gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", path);
    }
    while (ci.output_scanline < ci.output_height) {
        JSAMPROW row = buf + stride * ci.output_scanline;
        jpeg_read_scanlines(&ci, &row, 1);
    }
    jpeg_finish_decompress(&ci);
    *h = (int)ci.output_height;
    *w = (int)ci.output_width;
    jpeg_destroy_decompress(&ci);
    fclose(f);
    *rgb = buf;
    return GD_OK;
}

/* area weights from s source pixels to size outputs: output o covers [o s/size, (o+1) s/size);
 * in units of 1/size, source pixel k covers [k size, (k+1) size), and its weight is the overlap
 * divided by s. k0 [size], wt [size, m] with m = s / size + 2. */
static void area_weights(int s, int size, int *k0, float *wt, int m) {
    for (int o = 0; o < size; o++) {
        long a = (long)o * s, b = (long)(o + 1) * s;
        k0[o] = (int)(a / size);
        for (int j = 0; j < m; j++) {
            long lo = (long)(k0[o] + j) * size, hi = lo + size;
            long ov = (b < hi ? b : hi) - (a > lo ? a : lo);
            wt[o * m + j] = ov > 0 ? (float)((double)ov / s) : 0.0f;
        }
    }
}

/* rgb [H, W, 3] -> out [3, size, size] in [-1, 1]: centre square crop then area resize; tmp has
 * s * size * 3 floats */
static void crop_resize(const unsigned char *rgb, int H, int W, int size, const int *k0,
                        const float *wt, int m, float *tmp, float *out) {
    const int s = H < W ? H : W, x0 = (W - s) / 2, y0 = (H - s) / 2;
    for (int y = 0; y < s; y++) /* rows: tmp [s, size, 3] */
        for (int o = 0; o < size; o++)
            for (int q = 0; q < 3; q++) {
                float acc = 0.0f;
                for (int j = 0; j < m && k0[o] + j < s; j++)
                    acc += wt[o * m + j] * rgb[((size_t)(y0 + y) * W + x0 + k0[o] + j) * 3 + q];
                tmp[((size_t)y * size + o) * 3 + q] = acc;
            }
    for (int o = 0; o < size; o++) /* columns: out [3, size, size] */
        for (int x = 0; x < size; x++)
            for (int q = 0; q < 3; q++) {
                float acc = 0.0f;
                for (int j = 0; j < m && k0[o] + j < s; j++)
                    acc += wt[o * m + j] * tmp[((size_t)(k0[o] + j) * size + x) * 3 + q];
                out[((size_t)q * size + o) * size + x] = acc / 127.5f - 1.0f;
            }
}

/* decodes item file into out [3, size, size] */
static gd_status load_one(const char *root, const char *file, int size, float *out,
                          gd_error *err) {
    char path[CELEBA_PATH_MAX];
    if (snprintf(path, sizeof path, "%s/img_align_celeba/%s", root, file) >= (int)sizeof path)
        return gd_error_set(err, GD_ERR_ARG, "%s/img_align_celeba/%s: path too long", root, file);
    unsigned char *rgb;
    int H, W;
    gd_status st = jpeg_decode(path, &rgb, &H, &W, err);
    if (st) return st;
    const int s = H < W ? H : W, m = s / size + 2;
    if (size > s) {
        free(rgb);
        return gd_error_set(err, GD_ERR_SHAPE, "%s: %dx%d image is smaller than size %d", path,
                            W, H, size);
    }
    int *k0 = malloc(sizeof(int) * (size_t)size);
    float *wt = malloc(sizeof(float) * (size_t)size * m);
    float *tmp = malloc(sizeof(float) * (size_t)s * size * 3);
    if (k0 && wt && tmp) {
        area_weights(s, size, k0, wt, m);
        crop_resize(rgb, H, W, size, k0, wt, m, tmp, out);
    } else {
        st = gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", path);
    }
    free(rgb);
    free(k0);
    free(wt);
    free(tmp);
    return st;
}

/* fills d with the items of sel [n] (indices into the list) */
static gd_status celeba_fill(gd_dataset *d, const celeba_list *c, const char *root,
                             const int *sel, int n, int size, gd_error *err) {
    gd_status s = gd_dataset_alloc(d, n, 3, size, size, c->k, err);
    if (s) return s;
    snprintf(d->name, sizeof d->name, "celeba");
    d->n_classes = 1;
    for (int a = 0; a < c->k; a++) {
        snprintf(d->attrs[a].name, GD_DATA_NAME_MAX, "%s", c->name[a]);
        d->attrs[a].kind = GD_ATTR_CATEGORICAL;
        d->attrs[a].n_values = 2;
        snprintf(d->attrs[a].values[0], GD_DATA_NAME_MAX, "no");
        snprintf(d->attrs[a].values[1], GD_DATA_NAME_MAX, "yes");
    }
    for (int i = 0; i < n; i++)
        for (int a = 0; a < c->k; a++)
            d->labels[(size_t)i * c->k + a] = c->val[(size_t)sel[i] * c->k + a];
    /* decode in parallel; the failure reported is the one of the earliest item */
    int bad = n;
    gd_error first = {0};
    const size_t per = (size_t)3 * size * size;
    #pragma omp parallel for schedule(dynamic, 16)
    for (int i = 0; i < n; i++) {
        int skip;
        #pragma omp atomic read
        skip = bad;
        if (skip < i) continue;
        gd_error e = {0};
        if (load_one(root, c->file[sel[i]], size, d->images + per * i, &e) != GD_OK) {
            #pragma omp critical(gd_celeba_error)
            if (i < bad) {
                first = e;
                #pragma omp atomic write
                bad = i;
            }
        }
    }
    if (bad < n) return gd_error_set(err, first.status, "%s", first.msg);
    return GD_OK;
}

gd_status gd_celeba_load(gd_dataset *d, const char *root, int partition, int size, int limit,
                         gd_error *err) {
    GD_ASSERT(d && root);
    memset(d, 0, sizeof *d);
    if (partition < -1 || partition > 2 || size < 1 || size > GD_READER_MAX_SIDE || limit < 0)
        return gd_error_set(err, GD_ERR_ARG,
                            "%s: bad CelebA options (partition %d not in -1..2, size %d, limit %d)",
                            root, partition, size, limit);
    char apath[CELEBA_PATH_MAX], ppath[CELEBA_PATH_MAX];
    char *atext = NULL, *ptext = NULL;
    int *sel = NULL;
    size_t len;
    celeba_list c = {0};
    c.path = apath;
    gd_status s;
    if ((s = gd_path_join(apath, sizeof apath, root, "list_attr_celeba.txt", err))) return s;
    if ((s = gd_path_join(ppath, sizeof ppath, root, "list_eval_partition.txt", err))) return s;
    if ((s = gd_text_read(apath, &atext, &len, err))) goto done;
    if ((s = read_attr_list(&c, atext, err))) goto done;
    if (partition >= 0) {
        if ((s = gd_text_read(ppath, &ptext, &len, err))) goto done;
        if ((s = read_partition(&c, ptext, ppath, err))) goto done;
    }
    sel = malloc(sizeof(int) * (size_t)c.n);
    if (!sel) {
        s = gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", apath);
        goto done;
    }
    int n = 0;
    for (int i = 0; i < c.n && (!limit || n < limit); i++)
        if (partition < 0 || c.part[i] == partition) sel[n++] = i;
    if (!n) {
        s = gd_error_set(err, GD_ERR_FORMAT, "%s: no items in partition %d", ppath, partition);
        goto done;
    }
    if ((size_t)n * 3 * size * size > GD_READER_MAX_FLOATS) {
        s = gd_error_set(err, GD_ERR_NOMEM,
                         "%s: %d images of 3x%dx%d are beyond the limit of %zu floats", apath, n,
                         size, size, GD_READER_MAX_FLOATS);
        goto done;
    }
    s = celeba_fill(d, &c, root, sel, n, size, err);
done:
    if (s) {
        gd_dataset_free(d);
        memset(d, 0, sizeof *d);
    }
    free(atext);
    free(ptext);
    free(sel);
    free(c.file);
    free(c.val);
    free(c.part);
    return s;
}
