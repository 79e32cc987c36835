/* safetensors.h - reading and writing the safetensors format (the layout diffusers and PyTorch
 * use): an 8-byte little-endian header length, a JSON header mapping each tensor name to
 * {dtype, shape, data_offsets}, then the raw little-endian data.
 *
 * Reading validates everything a hostile or truncated file could get wrong (header length,
 * JSON, dtypes, offsets inside the file, sizes matching shapes) and reports it with the file
 * name. Writing is atomic: a temporary file in the same folder, fsync, then rename. */
#ifndef GMMDIFF_SAFETENSORS_H
#define GMMDIFF_SAFETENSORS_H

#include "gmmdiff/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GD_ST_MAX_DIMS 8
#define GD_ST_MAX_HEADER ((uint64_t)100 << 20) /* 100 MiB of JSON at most */

typedef enum gd_dtype { GD_DTYPE_F32, GD_DTYPE_F16, GD_DTYPE_BF16, GD_DTYPE_F64, GD_DTYPE_I64,
                        GD_DTYPE_I32 } gd_dtype;

typedef struct gd_st_tensor {
    char *name;
    gd_dtype dtype;
    int ndim;
    int64_t shape[GD_ST_MAX_DIMS];
    size_t numel, offset, nbytes; /* offset from the start of the data section */
} gd_st_tensor;

typedef struct gd_safetensors {
    char *path;
    unsigned char *data; /* the data section */
    unsigned char *file; /* the whole file */
    size_t file_size;
    int n;
    gd_st_tensor *tensors;
} gd_safetensors;

gd_status gd_st_open(gd_safetensors *st, const char *path, gd_error *err);
void gd_st_close(gd_safetensors *st); /* safe on a zeroed or already closed struct */
const gd_st_tensor *gd_st_find(const gd_safetensors *st, const char *name);
/* Copies tensor `name` into dst as float32 (F32, F16, BF16 and F64 convert). When ndim > 0 the
 * stored shape must equal shape[0..ndim); a mismatch is GD_ERR_SHAPE naming file and tensor. */
gd_status gd_st_read_f32(const gd_safetensors *st, const char *name, float *dst, int ndim,
                         const int64_t *shape, gd_error *err);

typedef struct gd_st_entry {
    const char *name;
    const float *data;
    int ndim;
    const int64_t *shape;
} gd_st_entry;
/* Writes float32 tensors (names must be unique) atomically to path. */
gd_status gd_st_write(const char *path, const gd_st_entry *entries, int n, gd_error *err);
/* The same, with string metadata in the header's "__metadata__" object. */
gd_status gd_st_write_meta(const char *path, const gd_st_entry *entries, int n,
                           const char *const *meta_keys, const char *const *meta_values,
                           int n_meta, gd_error *err);
/* The metadata string under key copied into buf (cap bytes), or NULL when absent or too long. */
const char *gd_st_meta(const gd_safetensors *st, const char *key, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
