/* npy.c - reading and writing .npy files (see npy.h). The header is a Python dict literal;
 * we parse exactly the three keys NumPy writes and refuse anything else. */
#include "gmmdiff/npy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NPY_MAX_HEADER 65536
#define NPY_MAX_BYTES ((uint64_t)16 << 30) /* 16 GiB of data at most */

void gd_npy_free(gd_npy *a) {
    if (!a) return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

/* finds 'key': in the header and returns a pointer just past the colon and spaces */
static const char *find_key(const char *h, const char *key) {
    char pat[32];
    snprintf(pat, sizeof pat, "'%s'", key);
    const char *p = strstr(h, pat);
    if (!p) return NULL;
    p += strlen(pat);
    while (*p == ' ') p++;
    if (*p != ':') return NULL;
    p++;
    while (*p == ' ') p++;
    return p;
}

static gd_status parse_header(gd_npy *a, const char *h, const char *path, char *descr,
                              gd_error *err) {
    const char *d = find_key(h, "descr"), *f = find_key(h, "fortran_order");
    const char *s = find_key(h, "shape");
    if (!d || !f || !s)
        return gd_error_set(err, GD_ERR_FORMAT, "%s: .npy header lacks descr, fortran_order or shape",
                            path);
    if (*d != '\'' || !strchr(d + 1, '\'') || strchr(d + 1, '\'') - d - 1 > 7)
        return gd_error_set(err, GD_ERR_FORMAT, "%s: bad descr in .npy header", path);
    size_t dl = (size_t)(strchr(d + 1, '\'') - d - 1);
    memcpy(descr, d + 1, dl);
    descr[dl] = '\0';
    if (strncmp(f, "False", 5) != 0)
        return gd_error_set(err, GD_ERR_FORMAT,
                            "%s: Fortran-ordered arrays are not supported (save C order)", path);
    if (*s != '(') return gd_error_set(err, GD_ERR_FORMAT, "%s: bad shape in .npy header", path);
    s++;
    a->ndim = 0;
    a->numel = 1;
    while (1) {
        while (*s == ' ' || *s == ',') s++;
        if (*s == ')') break;
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (end == s || errno || v < 0 || v > ((long long)1 << 40) || a->ndim == GD_NPY_MAX_DIMS)
            return gd_error_set(err, GD_ERR_FORMAT, "%s: bad shape in .npy header", path);
        if (v && a->numel > (SIZE_MAX / 16) / (size_t)v)
            return gd_error_set(err, GD_ERR_FORMAT, "%s: array too large", path);
        a->shape[a->ndim++] = v;
        a->numel *= (size_t)v;
        s = end;
    }
    return GD_OK;
}

gd_status gd_npy_read(gd_npy *a, const char *path, gd_error *err) {
    memset(a, 0, sizeof *a);
    FILE *f = fopen(path, "rb");
    if (!f) return gd_error_set(err, GD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char pre[12];
    gd_status st = GD_OK;
    char *h = NULL;
    unsigned char *raw = NULL;
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        st = gd_error_set(err, GD_ERR_FORMAT, "%s: not a .npy file (bad magic)", path);
        goto done;
    }
    size_t hl;
    if (pre[6] == 1) {
        hl = (size_t)pre[8] | (size_t)pre[9] << 8;
    } else if (pre[6] == 2 || pre[6] == 3) {
        if (fread(pre + 10, 1, 2, f) != 2) {
            st = gd_error_set(err, GD_ERR_FORMAT, "%s: truncated .npy header", path);
            goto done;
        }
        hl = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    } else {
        st = gd_error_set(err, GD_ERR_FORMAT, "%s: unsupported .npy version %d", path, pre[6]);
        goto done;
    }
    if (hl > NPY_MAX_HEADER) {
        st = gd_error_set(err, GD_ERR_FORMAT, "%s: .npy header of %zu bytes is beyond the limit",
                          path, hl);
        goto done;
    }
    h = malloc(hl + 1);
    if (!h || fread(h, 1, hl, f) != hl) {
        st = gd_error_set(err, GD_ERR_FORMAT, "%s: truncated .npy header", path);
        goto done;
    }
    h[hl] = '\0';
    char descr[8];
    if ((st = parse_header(a, h, path, descr, err))) goto done;
    size_t es;
    if (!strcmp(descr, "<f4")) es = 4;
    else if (!strcmp(descr, "<f8") || !strcmp(descr, "<i8")) es = 8;
    else if (!strcmp(descr, "<i4")) es = 4;
    else if (!strcmp(descr, "|u1")) es = 1;
    else {
        st = gd_error_set(err, GD_ERR_FORMAT,
                          "%s: dtype '%s' is not supported (float32/64, int32/64, uint8)", path,
                          descr);
        goto done;
    }
    if ((uint64_t)a->numel * es > NPY_MAX_BYTES) {
        st = gd_error_set(err, GD_ERR_NOMEM, "%s: %zu elements is beyond the limit", path, a->numel);
        goto done;
    }
    /* the data must be in the file before it is allocated: a header alone could otherwise ask
     * for up to NPY_MAX_BYTES twice over */
    struct stat sb;
    long at = ftell(f);
    if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) && at >= 0 &&
        (uint64_t)a->numel * es > (uint64_t)sb.st_size - (uint64_t)at) {
        st = gd_error_set(err, GD_ERR_FORMAT, "%s: truncated: the header's shape needs %zu data "
                          "bytes, the file has %lld", path, a->numel * es,
                          (long long)sb.st_size - at);
        goto done;
    }
    raw = malloc(a->numel * es + 1);
    a->data = malloc(sizeof(float) * (a->numel ? a->numel : 1));
    if (!raw || !a->data) {
        st = gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    size_t got = fread(raw, 1, a->numel * es, f);
    if (got != a->numel * es) {
        st = gd_error_set(err, GD_ERR_FORMAT, "%s: truncated: %zu of %zu data bytes", path, got,
                          a->numel * es);
        goto done;
    }
    for (size_t i = 0; i < a->numel; i++) {
        const unsigned char *b = raw + i * es;
        if (es == 1) { a->data[i] = b[0]; continue; }
        if (!strcmp(descr, "<f4")) memcpy(&a->data[i], b, 4);
        else if (!strcmp(descr, "<f8")) { double v; memcpy(&v, b, 8); a->data[i] = (float)v; }
        else if (!strcmp(descr, "<i8")) { int64_t v; memcpy(&v, b, 8); a->data[i] = (float)v; }
        else { int32_t v; memcpy(&v, b, 4); a->data[i] = (float)v; }
    }
done:
    free(h);
    free(raw);
    fclose(f);
    if (st) gd_npy_free(a);
    return st;
}

gd_status gd_npy_write(const char *path, const float *data, int ndim, const int64_t *shape,
                       gd_error *err) {
    GD_ASSERT(path && data && ndim >= 0 && ndim <= GD_NPY_MAX_DIMS);
    char h[512];
    int n = snprintf(h, sizeof h, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        n += snprintf(h + n, sizeof h - (size_t)n, "%lld,%s", (long long)shape[i],
                      i + 1 < ndim ? " " : "");
        numel *= (size_t)shape[i];
    }
    n += snprintf(h + n, sizeof h - (size_t)n, "), }");
    int total = 10 + n + 1, pad = (64 - total % 64) % 64; /* data aligned to 64 bytes */
    memset(h + n, ' ', (size_t)pad);
    n += pad;
    h[n++] = '\n';
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(n & 0xff),
                             (unsigned char)(n >> 8)};
    const void *parts[3] = {pre, h, data};
    size_t sizes[3] = {10, (size_t)n, numel * sizeof(float)};
    return gd_write_file_atomic(path, parts, sizes, 3, err);
}
