/* report_plot.c - the report's plots as SVG drawn here (report.h): every run's curve against
 * step, overlaid, with axes, ticks, a grid and a legend. No plotting library: the page must open
 * with no other file, and an SVG of polylines is a few kB. */
#include "report.h"

#include <math.h>
#include <string.h>

enum { RP_LEGEND_CHARS = 28 }; /* a longer run name is shortened in the legend */

static const char *const rp_colours[10] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

/* a round step near (hi - lo) / 5: 1, 2 or 5 times a power of ten */
static double rp_nice_step(double lo, double hi) {
    double raw = (hi - lo) / 5, mag = pow(10, floor(log10(raw))), r = raw / mag;
    return (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
}

/* a grid line from (x1, y1) to (x2, y2) and its label v at (tx, ty) */
static void rp_tick(gd_buf *b, double x1, double y1, double x2, double y2, double tx, double ty,
                    const char *anchor, double v) {
    gd_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>"
                     "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\">%g</text>\n",
                  x1, y1, x2, y2, tx, ty, anchor, v);
}

/* one SVG: y (loss or grad_norm, picked by which) against step for every run, overlaid, with
 * axes, ticks, grid and a legend. The y axis is logarithmic when the values span more than a
 * factor of 10, as losses do from the first steps to the last. */
void gd_report_plot(gd_buf *b, const gd_report *rep, int which, const char *ylabel) {
    const double W = 960, L = 76, T = 40, PW = 640, PH = 300; /* plot area [L, L+PW] x [T, T+PH] */
    const double H = fmax(T + PH + 56, T + 24 + 18.0 * rep->nruns);
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int i = 0; i < rep->nruns; i++) {
        const gd_report_run *r = &rep->runs[i];
        const double *y = which ? r->gnorm : r->loss;
        for (int k = 0; k < r->n; k++) {
            if (!isfinite(y[k])) continue;
            xlo = fmin(xlo, r->step[k]), xhi = fmax(xhi, r->step[k]);
            ylo = fmin(ylo, y[k]), yhi = fmax(yhi, y[k]);
        }
    }
    gd_buf_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" "
                     "width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" "
                     "font-size=\"12\">\n", W, H, W, H);
    gd_buf_printf(b, "<rect width=\"%.0f\" height=\"%.0f\" fill=\"#fff\"/>\n", W, H);
    gd_buf_printf(b, "<text x=\"%.0f\" y=\"22\" font-size=\"15\" font-weight=\"bold\">%s against "
                     "step</text>\n", L, ylabel);
    gd_buf_printf(b, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
                     "stroke=\"#444\"/>\n", L, T, PW, PH);
    if (!(xlo <= xhi)) {
        gd_buf_printf(b, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\" fill=\"#666\">no %s "
                         "logged</text>\n</svg>", L + PW / 2, T + PH / 2, ylabel);
        return;
    }
    int logy = ylo > 0 && yhi / ylo > 10;
    /* x from 0 (or the first step) to a round number past the last step */
    double xs = rp_nice_step(xlo < 0 ? xlo : 0, xhi > xlo ? xhi : xlo + 1);
    double x0 = xlo < 0 ? floor(xlo / xs) * xs : 0, x1 = ceil(xhi / xs) * xs;
    if (x1 <= x0) x1 = x0 + xs;
    double y0, y1, ys = 0;
    if (logy) {
        y0 = log10(ylo) - 0.03 * log10(yhi / ylo), y1 = log10(yhi) + 0.03 * log10(yhi / ylo);
    } else {
        if (yhi == ylo) ylo -= fabs(ylo) * 0.1 + 0.5, yhi += fabs(yhi) * 0.1 + 0.5;
        ys = rp_nice_step(ylo, yhi);
        y0 = floor(ylo / ys) * ys, y1 = ceil(yhi / ys) * ys;
    }
#define RP_PX(x) (L + PW * ((x) - x0) / (x1 - x0))
#define RP_PY(y) (T + PH - PH * ((logy ? log10(y) : (y)) - y0) / (y1 - y0))
    /* grid and tick labels */
    for (double x = x0; x <= x1 + xs * 1e-9; x += xs)
        rp_tick(b, RP_PX(x), T, RP_PX(x), T + PH, RP_PX(x), T + PH + 16, "middle", x);
    if (logy) {
        /* 1, 2 and 5 per decade when few decades are shown, else decades only */
        int d0 = (int)floor(y0), d1 = (int)ceil(y1), every = d1 - d0 > 3;
        for (int d = d0; d <= d1; d++)
            for (int m = 1; m <= 5; m += m == 1 ? 1 : 3) {
                double y = m * pow(10, d), ly = log10(y);
                if ((every && m > 1) || ly < y0 || ly > y1) continue;
                rp_tick(b, L, RP_PY(y), L + PW, RP_PY(y), L - 6, RP_PY(y) + 4, "end", y);
            }
    } else {
        for (double y = y0; y <= y1 + ys * 1e-9; y += ys) {
            double yy = fabs(y) < ys * 1e-9 ? 0 : y; /* no "-0" or 1e-17 labels */
            rp_tick(b, L, RP_PY(yy), L + PW, RP_PY(yy), L - 6, RP_PY(yy) + 4, "end", yy);
        }
    }
    gd_buf_printf(b, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">step</text>\n",
                  L + PW / 2, T + PH + 38);
    gd_buf_printf(b, "<text transform=\"translate(18 %.0f) rotate(-90)\" "
                     "text-anchor=\"middle\">%s%s</text>\n",
                  T + PH / 2, ylabel, logy ? " (log scale)" : "");
    /* one polyline per run, then its legend entry to the right of the plot */
    for (int i = 0; i < rep->nruns; i++) {
        const gd_report_run *r = &rep->runs[i];
        const double *y = which ? r->gnorm : r->loss;
        const char *colour = rp_colours[i % 10];
        const char *dash = i / 10 % 2 ? " stroke-dasharray=\"6 3\"" : "";
        gd_buf_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" "
                         "stroke-opacity=\"0.85\"%s points=\"", colour, dash);
        for (int k = 0; k < r->n; k++)
            if (isfinite(y[k]) && (!logy || y[k] > 0))
                gd_buf_printf(b, "%.1f,%.1f ", RP_PX(r->step[k]), RP_PY(y[k]));
        gd_buf_puts(b, "\"/>\n");
        double ly = T + 8 + 18.0 * i;
        gd_buf_printf(b, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"%s\" "
                         "stroke-width=\"3\"%s/><text x=\"%.0f\" y=\"%.0f\">", L + PW + 16, ly,
                      L + PW + 40, ly, colour, dash, L + PW + 46, ly + 4);
        size_t len = strlen(r->name);
        if (len > RP_LEGEND_CHARS) {
            char *s = gd_report_fmt("%.*s...", RP_LEGEND_CHARS - 3, r->name);
            gd_buf_esc(b, s);
            free(s);
        } else {
            gd_buf_esc(b, r->name);
        }
        gd_buf_puts(b, "</text>\n");
    }
#undef RP_PX
#undef RP_PY
    gd_buf_puts(b, "</svg>");
}
