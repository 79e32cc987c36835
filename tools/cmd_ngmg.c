/* cmd_ngmg.c - `gmmdiff ngmg lines`: the parallel-lines example of DESIGN.md section 4, as a
 * table and an SVG plot (docs/NGMG.md): the NGMG distance between a model line at theta and
 * the target line at 0, with its gradient, beside the Jensen-Shannon divergence. */
#include "cli.h"
#include "gmmdiff/ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void ngmg_help(void) {
    printf("usage: gmmdiff ngmg lines [options]\n"
           "The parallel-lines example (target uniform on {0} x [0,1], model on {theta} x\n"
           "[0,1]): for theta in [-4, 4] prints the NGMG distance D(theta), its gradient, and\n"
           "the Jensen-Shannon divergence (log 2 for every theta != 0, no gradient).\n"
           "  --ngmg-min S       smallest width of the ladder (default 0.5)\n"
           "  --ngmg-max S       largest width (default 8)\n"
           "  --ngmg-widths J    widths in the ladder (default 5)\n"
           "  --svg FILE         also draw D(theta) and dD/dtheta, with the single width 1\n"
           "                     and JS for comparison, as an SVG image\n");
}

enum { NT = 161 }; /* theta = -4 .. 4 step 0.05 */

/* a polyline of ys over the panel [x0, x0 + w] x [y0, y0 + h] for values lo .. hi */
static void polyline(FILE *f, const double *ys, double lo, double hi, double x0, double y0,
                     double w, double h, const char *colour, const char *dash) {
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", colour,
            dash);
    for (int i = 0; i < NT; i++)
        fprintf(f, "%.1f,%.1f ", x0 + w * i / (NT - 1), y0 + h - h * (ys[i] - lo) / (hi - lo));
    fprintf(f, "\"/>\n");
}

static void panel(FILE *f, double x0, double y0, double w, double h, double lo, double hi,
                  const char *title) {
    fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
               "stroke=\"#888\"/>\n", x0, y0, w, h);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"14\">%s</text>\n", x0, y0 - 8, title);
    for (int k = -4; k <= 4; k += 2)
        fprintf(f, "<text x=\"%.1f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"middle\">%d</text>\n",
                x0 + w * (k + 4) / 8.0, y0 + h + 14, k);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"12\" text-anchor=\"middle\">theta</text>\n",
            x0 + w / 2, y0 + h + 30);
    for (int k = 0; k <= 2; k++) {
        double v = lo + (hi - lo) * k / 2.0;
        fprintf(f, "<text x=\"%.0f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%.2f</text>\n",
                x0 - 4, y0 + h - h * k / 2.0 + 4, v);
    }
}

int gd_cmd_ngmg(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help")) {
        ngmg_help();
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "lines")) {
        fprintf(stderr, "gmmdiff ngmg: unknown subcommand '%s' (see --help)\n", argv[1]);
        return 2;
    }
    float s_min = 0.5f, s_max = 8.0f;
    int J = 5;
    const char *svg = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) { ngmg_help(); return 0; }
        else if (!strcmp(a, "--ngmg-min")) s_min = (float)gd_cli_num(a, v, 1e-6, 1e6);
        else if (!strcmp(a, "--ngmg-max")) s_max = (float)gd_cli_num(a, v, 1e-6, 1e6);
        else if (!strcmp(a, "--ngmg-widths")) J = gd_cli_int(a, v, 1, GD_NGMG_MAX_WIDTHS);
        else if (!strcmp(a, "--svg") && v) svg = v;
        else {
            fprintf(stderr, "gmmdiff ngmg lines: unknown or incomplete flag '%s' (see --help)\n", a);
            return 2;
        }
        i++;
    }
    if (s_max < s_min) {
        fprintf(stderr, "gmmdiff ngmg lines: --ngmg-max %g is below --ngmg-min %g\n",
                (double)s_max, (double)s_min);
        return 2;
    }
    double th[NT], d[NT], g[NT], ds[NT], gs[NT], js[NT], jg[NT];
    printf("theta,ngmg_distance,ngmg_gradient,single_width_1_distance,single_width_1_gradient,js\n");
    for (int i = 0; i < NT; i++) {
        th[i] = -4.0 + 8.0 * i / (NT - 1);
        d[i] = gd_ngmg_parallel_lines(th[i], s_min, s_max, J, 48, &g[i]);
        ds[i] = gd_ngmg_parallel_lines(th[i], 1.0f, 1.0f, 1, 48, &gs[i]);
        js[i] = fabs(th[i]) < 1e-12 ? 0.0 : log(2.0);
        jg[i] = 0.0;
        printf("%.2f,%.6f,%.6f,%.6f,%.6f,%.6f\n", th[i], d[i], g[i], ds[i], gs[i], js[i]);
    }
    if (!svg) return 0;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return 1;
    const double W = 900, H = 360;
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
               "font-family=\"sans-serif\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            W, H);
    double hi = 0, ghi = 0;
    for (int i = 0; i < NT; i++) {
        hi = fmax(hi, fmax(fmax(d[i], ds[i]), js[i]));
        ghi = fmax(ghi, fmax(fabs(g[i]), fabs(gs[i])));
    }
    hi *= 1.1;
    ghi *= 1.1;
    panel(f, 60, 40, 360, 240, 0, hi, "distance D(theta)");
    polyline(f, js, 0, hi, 60, 40, 360, 240, "#d62728", " stroke-dasharray=\"6,4\"");
    polyline(f, ds, 0, hi, 60, 40, 360, 240, "#ff7f0e", "");
    polyline(f, d, 0, hi, 60, 40, 360, 240, "#1f77b4", "");
    panel(f, 510, 40, 360, 240, -ghi, ghi, "gradient dD/dtheta");
    polyline(f, jg, -ghi, ghi, 510, 40, 360, 240, "#d62728", " stroke-dasharray=\"6,4\"");
    polyline(f, gs, -ghi, ghi, 510, 40, 360, 240, "#ff7f0e", "");
    polyline(f, g, -ghi, ghi, 510, 40, 360, 240, "#1f77b4", "");
    const char *names[3] = {"NGMG, ladder", "NGMG, single width 1", "Jensen-Shannon"};
    const char *cols[3] = {"#1f77b4", "#ff7f0e", "#d62728"};
    for (int k = 0; k < 3; k++) {
        fprintf(f, "<line x1=\"%d\" y1=\"335\" x2=\"%d\" y2=\"335\" stroke=\"%s\" stroke-width=\"2\"/>\n",
                80 + 260 * k, 110 + 260 * k, cols[k]);
        fprintf(f, "<text x=\"%d\" y=\"339\" font-size=\"12\">%s</text>\n", 116 + 260 * k,
                names[k]);
    }
    fprintf(f, "<text x=\"116\" y=\"354\" font-size=\"10\">widths %g..%g, %d of them</text>\n",
            (double)s_min, (double)s_max, J);
    fprintf(f, "</svg>\n");
    fclose(f);
    gd_error err = {0};
    int rc = 0;
    if (gd_write_text_atomic(svg, text, &err)) {
        fprintf(stderr, "gmmdiff ngmg lines: %s\n", err.msg);
        rc = 1;
    }
    free(text);
    return rc;
}
