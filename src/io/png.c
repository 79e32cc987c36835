/* png.c - PNG grids out, PNG images in, through libpng (see image.h). */
#include "gmmdiff/image.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { unsigned char *p; size_t n, cap; int failed; } membuf;

static void mem_write(png_structp png, png_bytep data, png_size_t len) {
    membuf *m = png_get_io_ptr(png);
    if (m->n + len > m->cap) {
        size_t cap = (m->cap ? 2 * m->cap : 65536) + len;
        unsigned char *q = realloc(m->p, cap);
        if (!q) {
            m->failed = 1;
            png_error(png, "out of memory");
        }
        m->p = q;
        m->cap = cap;
    }
    memcpy(m->p + m->n, data, len);
    m->n += len;
}
static void mem_flush(png_structp png) { (void)png; }

static unsigned char to_byte(float v) {
    float u = (v + 1.0f) * 127.5f;
    if (!(u > 0.0f)) return 0; /* also NaN */
    if (u >= 255.0f) return 255;
    return (unsigned char)(u + 0.5f);
}

gd_status gd_png_write_grid(const char *path, const float *x, int n, int c, int h, int w,
                            int cols, gd_error *err) {
    GD_ASSERT(path && x && n > 0 && c > 0 && h > 0 && w > 0 && cols > 0);
    const int pad = 2, rows = (n + cols - 1) / cols, ch = c == 3 ? 3 : 1;
    const int W = cols * (w + pad) + pad, H = rows * (h + pad) + pad;
    if (W > GD_PNG_MAX_SIDE || H > GD_PNG_MAX_SIDE)
        return gd_error_set(err, GD_ERR_ARG, "%s: a %dx%d grid is too large", path, W, H);
    unsigned char *img = calloc((size_t)W * H * ch, 1);
    png_bytep *rowp = malloc(sizeof(png_bytep) * (size_t)H);
    membuf m = {0};
    if (!img || !rowp) {
        free(img);
        free(rowp);
        return gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", path);
    }
    for (int k = 0; k < n; k++) {
        int ox = pad + (k % cols) * (w + pad), oy = pad + (k / cols) * (h + pad);
        for (int y = 0; y < h; y++)
            for (int xx = 0; xx < w; xx++)
                for (int q = 0; q < ch; q++)
                    img[((size_t)(oy + y) * W + ox + xx) * ch + q] =
                        to_byte(x[(((size_t)k * c + q) * h + y) * w + xx]);
    }
    for (int y = 0; y < H; y++) rowp[y] = img + (size_t)y * W * ch;
    gd_status s = GD_OK;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        s = gd_error_set(err, GD_ERR_NOMEM, "%s: cannot start libpng", path);
    } else if (setjmp(png_jmpbuf(png))) {
        s = gd_error_set(err, m.failed ? GD_ERR_NOMEM : GD_ERR_IO, "%s: PNG encoding failed", path);
    } else {
        png_set_write_fn(png, &m, mem_write, mem_flush);
        png_set_compression_level(png, 6);
        png_set_IHDR(png, info, (png_uint_32)W, (png_uint_32)H, 8,
                     ch == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_write_info(png, info);
        png_write_image(png, rowp);
        png_write_end(png, NULL);
    }
    png_destroy_write_struct(&png, &info);
    if (!s) {
        const void *parts[1] = {m.p};
        size_t sizes[1] = {m.n};
        s = gd_write_file_atomic(path, parts, sizes, 1, err);
    }
    free(m.p);
    free(img);
    free(rowp);
    return s;
}

/* libpng's error callback: keeps its reason for our message (instead of printing it) and
 * jumps back to gd_png_read's setjmp */
static void png_on_error(png_structp png, png_const_charp msg) {
    char *reason = png_get_error_ptr(png);
    snprintf(reason, 128, "%s", msg);
    png_longjmp(png, 1);
}
/* warnings (a bad ancillary chunk, a wrong sRGB profile) do not stop the read; a library does not
 * print them */
static void png_on_warning(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

gd_status gd_png_read(const char *path, int want_c, float **data, int *h, int *w, gd_error *err) {
    GD_ASSERT(want_c == 1 || want_c == 3);
    *data = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return gd_error_set(err, GD_ERR_IO, "%s: cannot open", path);
    unsigned char sig[8];
    if (fread(sig, 1, 8, f) != 8 || png_sig_cmp(sig, 0, 8)) {
        fclose(f);
        return gd_error_set(err, GD_ERR_FORMAT, "%s: not a PNG file", path);
    }
    char reason[128] = "";
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, reason, png_on_error,
                                             png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    /* volatile: they are set after setjmp, and only a volatile local is sure to hold its value
     * when libpng's longjmp lands there (else a corrupt file leaks the buffers) */
    unsigned char *volatile img = NULL;
    png_bytep *volatile rowp = NULL;
    float *volatile out = NULL;
    gd_status s = GD_OK;
    if (!png || !info) {
        s = gd_error_set(err, GD_ERR_NOMEM, "%s: cannot start libpng", path);
        goto done;
    }
    if (setjmp(png_jmpbuf(png))) {
        s = gd_error_set(err, GD_ERR_FORMAT, "%s: corrupt or truncated PNG (%s)", path, reason);
        goto done;
    }
    png_init_io(png, f);
    png_set_sig_bytes(png, 8);
    png_set_user_limits(png, GD_PNG_MAX_SIDE, GD_PNG_MAX_SIDE);
    png_read_info(png, info);
    png_uint_32 W = png_get_image_width(png, info), H = png_get_image_height(png, info);
    /* checked before anything is allocated from the header: 40 bytes of it could otherwise ask
     * for 16 bytes per pixel (4 GiB at 16384 x 16384) before a single row is decoded */
    if (W > GD_PNG_MAX_READ_SIDE || H > GD_PNG_MAX_READ_SIDE) {
        s = gd_error_set(err, GD_ERR_NOMEM, "%s: a %ux%u image is beyond the limit of %d pixels "
                         "a side", path, (unsigned)W, (unsigned)H, GD_PNG_MAX_READ_SIDE);
        goto done;
    }
    int ct = png_get_color_type(png, info), bd = png_get_bit_depth(png, info);
    if (bd == 16) png_set_strip_16(png);
    if (ct == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (ct == PNG_COLOR_TYPE_GRAY && bd < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (ct & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
    png_set_interlace_handling(png); /* png_read_image de-interlaces Adam7 itself */
    png_read_update_info(png, info);
    int pc = png_get_channels(png, info);
    size_t rb = png_get_rowbytes(png, info);
    img = malloc(rb * H);
    rowp = malloc(sizeof(png_bytep) * H);
    out = malloc(sizeof(float) * (size_t)want_c * W * H);
    if (!img || !rowp || !out) {
        s = gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    for (png_uint_32 y = 0; y < H; y++) rowp[y] = img + y * rb;
    png_read_image(png, rowp);
    for (png_uint_32 y = 0; y < H; y++)
        for (png_uint_32 x = 0; x < W; x++) {
            const unsigned char *px = img + y * rb + (size_t)x * pc;
            float r = px[0], g = pc >= 3 ? px[1] : px[0], b = pc >= 3 ? px[2] : px[0];
            if (want_c == 1) {
                float v = pc >= 3 ? 0.299f * r + 0.587f * g + 0.114f * b : r;
                out[(size_t)y * W + x] = v / 127.5f - 1.0f;
            } else {
                out[(size_t)y * W + x] = r / 127.5f - 1.0f;
                out[((size_t)H + y) * W + x] = g / 127.5f - 1.0f;
                out[((size_t)2 * H + y) * W + x] = b / 127.5f - 1.0f;
            }
        }
    *data = out;
    out = NULL;
    *h = (int)H;
    *w = (int)W;
done:
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    free(img);
    free(rowp);
    free(out);
    return s;
}
