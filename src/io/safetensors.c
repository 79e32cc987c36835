/* safetensors.c - validated safetensors reader, atomic writer (see safetensors.h). */
#include "gmmdiff/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct { const char *name; gd_dtype dtype; size_t size; } dtypes[] = {
    {"F32", GD_DTYPE_F32, 4}, {"F16", GD_DTYPE_F16, 2}, {"BF16", GD_DTYPE_BF16, 2},
    {"F64", GD_DTYPE_F64, 8}, {"I64", GD_DTYPE_I64, 8}, {"I32", GD_DTYPE_I32, 4},
};

static size_t dtype_size(gd_dtype d) {
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (dtypes[i].dtype == d) return dtypes[i].size;
    return 0;
}

void gd_st_close(gd_safetensors *st) {
    if (!st) return;
    for (int i = 0; i < st->n; i++) free(st->tensors[i].name);
    free(st->tensors);
    free(st->file);
    free(st->path);
    memset(st, 0, sizeof *st);
}

static gd_status read_whole(const char *path, unsigned char **buf, size_t *size, gd_error *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return gd_error_set(err, GD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return gd_error_set(err, GD_ERR_IO, "%s: not a regular file", path);
    }
    size_t n = (size_t)sb.st_size;
    unsigned char *b = malloc(n ? n : 1);
    if (!b) {
        fclose(f);
        return gd_error_set(err, GD_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, n);
    }
    if (fread(b, 1, n, f) != n) {
        free(b);
        fclose(f);
        return gd_error_set(err, GD_ERR_IO, "%s: read failed", path);
    }
    fclose(f);
    *buf = b;
    *size = n;
    return GD_OK;
}

static gd_status parse_entry(gd_safetensors *st, const char *key, json_t *v, size_t data_size,
                             gd_st_tensor *t, gd_error *err) {
    const char *path = st->path;
    json_t *jd = json_object_get(v, "dtype"), *js = json_object_get(v, "shape");
    json_t *jo = json_object_get(v, "data_offsets");
    if (!json_is_object(v) || !json_is_string(jd) || !json_is_array(js) || !json_is_array(jo) ||
        json_array_size(jo) != 2)
        return gd_error_set(err, GD_ERR_FORMAT,
                            "%s: tensor '%s': needs dtype, shape and data_offsets [begin, end]",
                            path, key);
    size_t esize = 0;
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strcmp(json_string_value(jd), dtypes[i].name) == 0) {
            t->dtype = dtypes[i].dtype;
            esize = dtypes[i].size;
        }
    if (!esize)
        return gd_error_set(err, GD_ERR_FORMAT, "%s: tensor '%s': unsupported dtype '%s'", path,
                            key, json_string_value(jd));
    size_t nd = json_array_size(js);
    if (nd > GD_ST_MAX_DIMS)
        return gd_error_set(err, GD_ERR_FORMAT, "%s: tensor '%s': %zu dims (at most %d)", path, key,
                            nd, GD_ST_MAX_DIMS);
    t->ndim = (int)nd;
    t->numel = 1;
    for (size_t i = 0; i < nd; i++) {
        json_t *d = json_array_get(js, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0 ||
            json_integer_value(d) > ((int64_t)1 << 40))
            return gd_error_set(err, GD_ERR_FORMAT, "%s: tensor '%s': bad shape entry %zu", path,
                                key, i);
        t->shape[i] = json_integer_value(d);
        if (t->shape[i] && t->numel > (SIZE_MAX / 16) / (size_t)t->shape[i])
            return gd_error_set(err, GD_ERR_FORMAT, "%s: tensor '%s': shape too large", path, key);
        t->numel *= (size_t)t->shape[i];
    }
    json_t *b = json_array_get(jo, 0), *e = json_array_get(jo, 1);
    if (!json_is_integer(b) || !json_is_integer(e) || json_integer_value(b) < 0 ||
        json_integer_value(e) < json_integer_value(b))
        return gd_error_set(err, GD_ERR_FORMAT, "%s: tensor '%s': bad data_offsets", path, key);
    size_t ob = (size_t)json_integer_value(b), oe = (size_t)json_integer_value(e);
    if (oe > data_size)
        return gd_error_set(err, GD_ERR_FORMAT,
                            "%s: tensor '%s': data ends at byte %zu but the file has %zu data "
                            "bytes (truncated?)",
                            path, key, oe, data_size);
    if (oe - ob != t->numel * esize)
        return gd_error_set(err, GD_ERR_FORMAT,
                            "%s: tensor '%s': %zu data bytes for a shape of %zu elements", path, key,
                            oe - ob, t->numel);
    t->offset = ob;
    t->nbytes = oe - ob;
    t->name = strdup(key);
    if (!t->name) return gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", path);
    return GD_OK;
}

gd_status gd_st_open(gd_safetensors *st, const char *path, gd_error *err) {
    GD_ASSERT(st && path);
    memset(st, 0, sizeof *st);
    st->path = strdup(path);
    if (!st->path) return gd_error_set(err, GD_ERR_NOMEM, "out of memory");
    gd_status s = read_whole(path, &st->file, &st->file_size, err);
    if (s) goto fail;
    if (st->file_size < 8) {
        s = gd_error_set(err, GD_ERR_FORMAT, "%s: %zu bytes, too short for a safetensors header",
                         path, st->file_size);
        goto fail;
    }
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = (hl << 8) | st->file[i];
    if (hl > GD_ST_MAX_HEADER || hl > st->file_size - 8) {
        s = gd_error_set(err, GD_ERR_FORMAT,
                         "%s: header length %llu exceeds the file (%zu bytes) or the limit",
                         path, (unsigned long long)hl, st->file_size);
        goto fail;
    }
    json_error_t je;
    json_t *root = json_loadb((const char *)st->file + 8, (size_t)hl, 0, &je);
    if (!root || !json_is_object(root)) {
        s = gd_error_set(err, GD_ERR_FORMAT, "%s: header is not a JSON object (%s)", path,
                         root ? "wrong type" : je.text);
        json_decref(root);
        goto fail;
    }
    st->data = st->file + 8 + hl;
    size_t data_size = st->file_size - 8 - (size_t)hl;
    size_t cap = json_object_size(root);
    st->tensors = calloc(cap ? cap : 1, sizeof *st->tensors);
    if (!st->tensors) {
        json_decref(root);
        s = gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "__metadata__") == 0) continue;
        s = parse_entry(st, key, v, data_size, &st->tensors[st->n], err);
        if (s) {
            json_decref(root);
            goto fail;
        }
        st->n++;
    }
    json_decref(root);
    return GD_OK;
fail:
    gd_st_close(st);
    return s;
}

const char *gd_st_meta(const gd_safetensors *st, const char *key, char *buf, size_t cap) {
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = (hl << 8) | st->file[i];
    json_t *root = json_loadb((const char *)st->file + 8, (size_t)hl, 0, NULL);
    json_t *v = json_object_get(json_object_get(root, "__metadata__"), key);
    const char *out = NULL;
    if (json_is_string(v) && strlen(json_string_value(v)) < cap) {
        memcpy(buf, json_string_value(v), strlen(json_string_value(v)) + 1);
        out = buf;
    }
    json_decref(root);
    return out;
}

const gd_st_tensor *gd_st_find(const gd_safetensors *st, const char *name) {
    for (int i = 0; i < st->n; i++)
        if (strcmp(st->tensors[i].name, name) == 0) return &st->tensors[i];
    return NULL;
}

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) {
                man <<= 1;
                exp--;
            }
            bits = sign | (exp << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

gd_status gd_st_read_f32(const gd_safetensors *st, const char *name, float *dst, int ndim,
                         const int64_t *shape, gd_error *err) {
    const gd_st_tensor *t = gd_st_find(st, name);
    if (!t) return gd_error_set(err, GD_ERR_SHAPE, "%s: no tensor named '%s'", st->path, name);
    if (ndim > 0) {
        int same = t->ndim == ndim;
        for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
        if (!same) {
            char want[128] = "", got[128] = "";
            for (int i = 0; i < ndim; i++)
                snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", i ? "," : "",
                         (long long)shape[i]);
            for (int i = 0; i < t->ndim; i++)
                snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? "," : "",
                         (long long)t->shape[i]);
            return gd_error_set(err, GD_ERR_SHAPE, "%s: tensor '%s' has shape [%s], expected [%s]",
                                st->path, name, got, want);
        }
    }
    const unsigned char *src = st->data + t->offset;
    size_t es = dtype_size(t->dtype);
    for (size_t i = 0; i < t->numel; i++) {
        const unsigned char *b = src + i * es;
        switch (t->dtype) {
        case GD_DTYPE_F32: memcpy(&dst[i], b, 4); break;
        case GD_DTYPE_F16: dst[i] = half_to_float((uint16_t)(b[0] | (b[1] << 8))); break;
        case GD_DTYPE_BF16: {
            uint32_t bits = (uint32_t)(b[0] | (b[1] << 8)) << 16;
            memcpy(&dst[i], &bits, 4);
            break;
        }
        case GD_DTYPE_F64: {
            double d;
            memcpy(&d, b, 8);
            dst[i] = (float)d;
            break;
        }
        case GD_DTYPE_I64: {
            int64_t v;
            memcpy(&v, b, 8);
            dst[i] = (float)v;
            break;
        }
        case GD_DTYPE_I32: {
            int32_t v;
            memcpy(&v, b, 4);
            dst[i] = (float)v;
            break;
        }
        }
    }
    return GD_OK;
}

gd_status gd_st_write(const char *path, const gd_st_entry *entries, int n, gd_error *err) {
    return gd_st_write_meta(path, entries, n, NULL, NULL, 0, err);
}

gd_status gd_st_write_meta(const char *path, const gd_st_entry *entries, int n,
                           const char *const *meta_keys, const char *const *meta_values,
                           int n_meta, gd_error *err) {
    json_t *root = json_object();
    if (!root) return gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", path);
    if (n_meta > 0) {
        json_t *meta = json_object();
        for (int i = 0; i < n_meta; i++)
            json_object_set_new(meta, meta_keys[i], json_string(meta_values[i]));
        json_object_set_new(root, "__metadata__", meta);
    }
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        const gd_st_entry *e = &entries[i];
        GD_ASSERT(e->name && e->data && e->ndim >= 0 && e->ndim <= GD_ST_MAX_DIMS);
        if (json_object_get(root, e->name)) {
            json_decref(root);
            return gd_error_set(err, GD_ERR_ARG, "%s: tensor name '%s' given twice", path, e->name);
        }
        size_t numel = 1;
        json_t *shape = json_array();
        for (int d = 0; d < e->ndim; d++) {
            numel *= (size_t)e->shape[d];
            json_array_append_new(shape, json_integer(e->shape[d]));
        }
        json_t *o = json_pack("{s:s, s:o, s:[I,I]}", "dtype", "F32", "shape", shape,
                              "data_offsets", (json_int_t)off, (json_int_t)(off + numel * 4));
        json_object_set_new(root, e->name, o);
        off += numel * 4;
    }
    char *hdr = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!hdr) return gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", path);
    size_t hl = strlen(hdr), padded = (hl + 7) & ~(size_t)7;
    char *h = malloc(8 + padded);
    if (!h) {
        free(hdr);
        return gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", path);
    }
    for (int i = 0; i < 8; i++) h[i] = (char)((uint64_t)padded >> (8 * i));
    memcpy(h + 8, hdr, hl);
    memset(h + 8 + hl, ' ', padded - hl);
    free(hdr);
    int np = n + 1;
    const void **parts = malloc(sizeof *parts * (size_t)np);
    size_t *sizes = malloc(sizeof *sizes * (size_t)np);
    gd_status s = GD_OK;
    if (!parts || !sizes) {
        s = gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", path);
    } else {
        parts[0] = h;
        sizes[0] = 8 + padded;
        for (int i = 0; i < n; i++) {
            size_t numel = 1;
            for (int d = 0; d < entries[i].ndim; d++) numel *= (size_t)entries[i].shape[d];
            parts[i + 1] = entries[i].data;
            sizes[i + 1] = numel * 4;
        }
        s = gd_write_file_atomic(path, parts, sizes, np, err);
    }
    free(parts);
    free(sizes);
    free(h);
    return s;
}
