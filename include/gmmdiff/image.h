/* image.h - PNG images and sample grids (libpng). Pixels map [-1, 1] <-> [0, 255]. */
#ifndef GMMDIFF_IMAGE_H
#define GMMDIFF_IMAGE_H

#include "gmmdiff/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GD_PNG_MAX_SIDE 16384     /* width or height of a grid written */
#define GD_PNG_MAX_READ_SIDE 4096 /* width or height of an image read (readers.h's
                                     GD_READER_MAX_SIDE) */

/* Writes x [n, c, h, w] (values in [-1, 1], clamped) as one PNG grid of `cols` columns with a
 * 2-pixel border: grey for c = 1, RGB for c = 3 (other c: the first channel, grey). The bytes
 * depend only on the pixels (no timestamps), and the file is written atomically. */
gd_status gd_png_write_grid(const char *path, const float *x, int n, int c, int h, int w,
                            int cols, gd_error *err);

/* Reads a PNG (grey, grey+alpha, RGB, RGBA, palette; 8 or 16 bit) as channels-first floats in
 * [-1, 1], converted to `want_c` channels (1 or 3); *data is malloc'd [want_c, h, w]. A side
 * over GD_PNG_MAX_READ_SIDE is GD_ERR_NOMEM; a corrupt or truncated file GD_ERR_FORMAT with
 * libpng's reason. */
gd_status gd_png_read(const char *path, int want_c, float **data, int *h, int *w, gd_error *err);

#ifdef __cplusplus
}
#endif
#endif
