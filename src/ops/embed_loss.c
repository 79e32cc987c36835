/* embed_loss.c - sinusoidal timestep embedding and the MSE / BCE-with-logits losses.
 * The embedding follows diffusers' get_timestep_embedding step by step in float32, so it matches
 * to rounding; loss sums are accumulated in double in index order. */
#include "gmmdiff/ops.h"
#include "gmmdiff/core.h"

#include <math.h>

static float embed_freq(int i, int half, float freq_shift, float max_period) {
    float e = -logf(max_period) * (float)i;
    e = e / ((float)half - freq_shift);
    return expf(e);
}

void gd_timestep_embedding_forward(float *out, const float *t, int N, int dim,
                                   int flip_sin_to_cos, float freq_shift, float max_period) {
    GD_ASSERT(out && t && N > 0 && dim >= 2);
    const int half = dim / 2;
    GD_ASSERT_MSG((float)half != freq_shift, "timestep embedding: half == freq_shift");
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        float *o = out + (size_t)n * dim;
        for (int i = 0; i < half; i++) {
            float arg = t[n] * embed_freq(i, half, freq_shift, max_period);
            float s = sinf(arg), c = cosf(arg);
            o[i] = flip_sin_to_cos ? c : s;
            o[half + i] = flip_sin_to_cos ? s : c;
        }
        if (dim % 2) o[dim - 1] = 0.0f;
    }
}

void gd_timestep_embedding_backward(float *dt, const float *dout, const float *t, int N, int dim,
                                    int flip_sin_to_cos, float freq_shift, float max_period) {
    GD_ASSERT(dt && dout && t && N > 0 && dim >= 2);
    const int half = dim / 2;
    #pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const float *g = dout + (size_t)n * dim;
        double acc = 0.0;
        for (int i = 0; i < half; i++) {
            float f = embed_freq(i, half, freq_shift, max_period), arg = t[n] * f;
            float gs = flip_sin_to_cos ? g[half + i] : g[i];
            float gc = flip_sin_to_cos ? g[i] : g[half + i];
            acc += (double)f * (gs * cosf(arg) - gc * sinf(arg));
        }
        dt[n] += (float)acc;
    }
}

float gd_mse_forward(const float *a, const float *b, size_t n) {
    GD_ASSERT(a && b && n > 0);
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        s += d * d;
    }
    return (float)(s / (double)n);
}

void gd_mse_backward(float *da, float *db, const float *a, const float *b, size_t n, float dloss) {
    GD_ASSERT(a && b && n > 0);
    const float k = 2.0f * dloss / (float)n;
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float g = k * (a[i] - b[i]);
        if (da) da[i] += g;
        if (db) db[i] -= g;
    }
}

float gd_bce_logits_forward(const float *x, const float *y, size_t n) {
    GD_ASSERT(x && y && n > 0);
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        s += (v > 0 ? v : 0.0) - v * y[i] + log1p(exp(-fabs(v)));
    }
    return (float)(s / (double)n);
}

void gd_bce_logits_backward(float *dx, float *dy, const float *x, const float *y, size_t n,
                            float dloss) {
    GD_ASSERT(x && y && n > 0);
    const float k = dloss / (float)n;
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        float sig = v >= 0 ? 1.0f / (1.0f + expf(-v)) : expf(v) / (1.0f + expf(v));
        if (dx) dx[i] += k * (sig - y[i]);
        if (dy) dy[i] -= k * v;
    }
}
