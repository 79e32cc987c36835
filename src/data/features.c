/* features.c - the four measured image features (see readers.h): ink fraction, mean ink
 * intensity and the ink's bounding-box width and height. */
#include "gmmdiff/readers.h"

const char *const gd_feature_names[GD_FEATURE_COUNT] = {"ink", "mean_intensity", "width",
                                                         "height"};

/* img [c, h, w] in [-1, 1] -> out [GD_FEATURE_COUNT] */
void gd_image_features(const float *img, int c, int h, int w, float out[GD_FEATURE_COUNT]) {
    GD_ASSERT(img && out && c > 0 && h > 0 && w > 0);
    const size_t plane = (size_t)h * w;
    size_t n_ink = 0;
    double sum = 0.0;
    int x0 = w, x1 = -1, y0 = h, y1 = -1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double v = 0.0;
            for (int q = 0; q < c; q++) v += img[q * plane + (size_t)y * w + x];
            double t = (v / c + 1.0) * 0.5;
            if (!(t > GD_FEATURE_INK_THRESHOLD)) continue; /* also NaN */
            if (t > 1.0) t = 1.0;
            n_ink++;
            sum += t;
            if (x < x0) x0 = x;
            if (x > x1) x1 = x;
            if (y < y0) y0 = y;
            if (y > y1) y1 = y;
        }
    out[GD_FEATURE_INK] = (float)((double)n_ink / (double)plane);
    out[GD_FEATURE_MEAN] = n_ink ? (float)(sum / (double)n_ink) : 0.0f;
    out[GD_FEATURE_WIDTH] = n_ink ? (float)(x1 - x0 + 1) : 0.0f;
    out[GD_FEATURE_HEIGHT] = n_ink ? (float)(y1 - y0 + 1) : 0.0f;
}
