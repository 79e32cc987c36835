/* npy.h - NumPy .npy arrays in and out (version 1-3 headers, C order, little-endian float32,
 * float64, int32, int64 and uint8 read as float32; float32 written, atomically). */
#ifndef GMMDIFF_NPY_H
#define GMMDIFF_NPY_H

#include "gmmdiff/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GD_NPY_MAX_DIMS 8

typedef struct gd_npy {
    int ndim;
    int64_t shape[GD_NPY_MAX_DIMS];
    size_t numel;
    float *data;
} gd_npy;

gd_status gd_npy_read(gd_npy *a, const char *path, gd_error *err);
void gd_npy_free(gd_npy *a); /* safe on a zeroed or freed array */
gd_status gd_npy_write(const char *path, const float *data, int ndim, const int64_t *shape,
                       gd_error *err);

#ifdef __cplusplus
}
#endif
#endif
