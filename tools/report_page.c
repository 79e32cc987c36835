/* report_page.c - the report drawn from its runs (report.h): the comparison table (training
 * columns from run.json and metrics.jsonl, then the union of the eval JSON files' numbers), the
 * plots, the images and the experiments' notes, as one self-contained HTML page and as
 * Markdown. The bytes depend only on the runs (no timestamps), so reports diff cleanly. */
#include "report.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { RP_FINAL_LOGS = 5 }; /* "final loss" is the mean of this many last logged losses */

/* ---- text ---------------------------------------------------------------------------------- */

void *gd_report_realloc(void *p, size_t n) {
    p = realloc(p, n ? n : 1);
    if (!p) {
        fprintf(stderr, "gmmdiff report: out of memory\n");
        exit(1);
    }
    return p;
}

static char *rp_vfmt(const char *fmt, va_list ap) {
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    char *s = gd_report_realloc(NULL, (size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

char *gd_report_fmt(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *s = rp_vfmt(fmt, ap);
    va_end(ap);
    return s;
}

void gd_buf_putn(gd_buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->s = gd_report_realloc(b->s, b->cap);
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

void gd_buf_puts(gd_buf *b, const char *s) { gd_buf_putn(b, s, strlen(s)); }

void gd_buf_printf(gd_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *s = rp_vfmt(fmt, ap);
    va_end(ap);
    gd_buf_puts(b, s);
    free(s);
}

void gd_buf_esc(gd_buf *b, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '&': gd_buf_puts(b, "&amp;"); break;
        case '<': gd_buf_puts(b, "&lt;"); break;
        case '>': gd_buf_puts(b, "&gt;"); break;
        case '"': gd_buf_puts(b, "&quot;"); break;
        case '\'': gd_buf_puts(b, "&#39;"); break;
        default: gd_buf_putn(b, s, 1);
        }
    }
}

/* s escaped, with a line-break opportunity after each '_' and '.' so long metric names wrap
 * inside narrow table headers instead of widening the table */
static void rp_esc_wrap(gd_buf *b, const char *s) {
    for (; *s; s++) {
        char c[2] = {*s, 0};
        gd_buf_esc(b, c);
        if (*s == '_' || *s == '.') gd_buf_puts(b, "<wbr>");
    }
}

/* a Markdown table cell: a '|' would end the cell */
static void rp_md_cell(gd_buf *b, const char *s) {
    for (; *s; s++) {
        if (*s == '|') gd_buf_puts(b, "\\|");
        else if (*s == '\n') gd_buf_puts(b, " ");
        else gd_buf_putn(b, s, 1);
    }
}

static const char rp_b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* standard base64 (RFC 4648, with '=' padding) of p[0..n) appended to b */
static void rp_base64(gd_buf *b, const unsigned char *p, size_t n) {
    char q[4];
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n) v |= p[i + 2];
        q[0] = rp_b64[v >> 18 & 63];
        q[1] = rp_b64[v >> 12 & 63];
        q[2] = i + 1 < n ? rp_b64[v >> 6 & 63] : '=';
        q[3] = i + 2 < n ? rp_b64[v & 63] : '=';
        gd_buf_putn(b, q, 4);
    }
}

/* a number for a table cell: integers as integers, else 4 significant digits (no exponent
 * for values >= 1000, where %g would write 1.235e+04) */
static void rp_num(char *out, size_t cap, double v) {
    if (!isfinite(v)) snprintf(out, cap, "%s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
    else if (v == floor(v) && fabs(v) < 1e15) snprintf(out, cap, "%.0f", v);
    else if (fabs(v) >= 1000) snprintf(out, cap, "%.0f", v);
    else snprintf(out, cap, "%.4g", v);
}

/* ---- the comparison table ------------------------------------------------------------------ */

/* eval fields that describe how an eval was run rather than how the model did; a column of
 * them is shown only when runs differ in it, else it goes to the "same for every run" line */
static int rp_is_setting(const char *col) {
    static const char *const keys[] = {"steps", "cfg", "seed", "per_target", "pool", "samples",
                                       "real_items", "classes", "classifier_scale", "clusters",
                                       "chance"};
    const char *k = strrchr(col, '.');
    k = k ? k + 1 : col;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!strcmp(k, keys[i])) return 1;
    return 0;
}

/* 1 when every run that has col has the same value */
static int rp_col_constant(const gd_report *rep, const char *col, double *value) {
    int seen = 0;
    for (int i = 0; i < rep->nruns; i++) {
        const json_t *v = json_object_get(rep->runs[i].evals, col);
        if (!v) continue;
        double x = json_number_value(v);
        if (seen && x != *value) return 0;
        *value = x;
        seen = 1;
    }
    return seen;
}

static double rp_get_num(const json_t *o, const char *key) {
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

enum { RP_NTRAIN = 10 };
static const char *const rp_train_cols[RP_NTRAIN] = {
    "run", "data", "cond", "steps", "batch", "lr", "seed", "final loss", "it/s", "time"};

static int rp_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* the median of the finite values of x[0..n); NAN when there are none */
static double rp_median(const double *x, int n) {
    double *t = gd_report_realloc(NULL, sizeof(double) * (size_t)(n ? n : 1));
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i])) t[m++] = x[i];
    qsort(t, (size_t)m, sizeof *t, rp_cmp_double);
    double v = m ? (m % 2 ? t[m / 2] : 0.5 * (t[m / 2 - 1] + t[m / 2])) : NAN;
    free(t);
    return v;
}

/* the training cells of run r, as text (blank when unknown) */
static void rp_train_cells(const gd_report_run *r, char cells[RP_NTRAIN][96]) {
    for (int c = 0; c < RP_NTRAIN; c++) cells[c][0] = '\0';
    snprintf(cells[0], 96, "%s", r->name);
    const json_t *src = json_object_get(r->cfg, "data_source");
    const char *data = json_string_value(json_object_get(src, "source"));
    if (!data) data = json_string_value(json_object_get(json_object_get(r->cfg, "data"), "name"));
    if (data) snprintf(cells[1], 96, "%s", gd_report_base(data)); /* a folder: its name */
    const char *cond = json_string_value(json_object_get(r->cfg, "cond"));
    if (cond) { /* class components and the consistency term are told apart too */
        double sigma = rp_get_num(r->cfg, "cond_sigma"), aux = rp_get_num(r->cfg, "aux_weight");
        const char *aux_loss = json_string_value(json_object_get(r->cfg, "aux_loss"));
        int k = snprintf(cells[2], 96, "%s", cond);
        if (!strcmp(cond, "class") && sigma > 0 && k < 96)
            k += snprintf(cells[2] + k, 96 - (size_t)k, ", sigma %g", sigma);
        if (aux > 0 && k < 96)
            snprintf(cells[2] + k, 96 - (size_t)k, " + %s term x%g", aux_loss ? aux_loss : "aux", aux);
    }
    double planned = rp_get_num(r->cfg, "steps"), done = NAN;
    for (int i = 0; i < r->n; i++)
        if (!isfinite(done) || r->step[i] > done) done = r->step[i];
    if (isfinite(done) && isfinite(planned) && done < planned)
        snprintf(cells[3], 96, "%.0f / %.0f", done, planned);
    else if (isfinite(done))
        snprintf(cells[3], 96, "%.0f", done);
    double batch = rp_get_num(r->cfg, "batch"), lr = rp_get_num(r->cfg, "lr");
    if (isfinite(batch)) rp_num(cells[4], 96, batch);
    if (isfinite(lr)) rp_num(cells[5], 96, lr);
    const json_t *seed = json_object_get(r->cfg, "seed"); /* a string: uint64 does not fit JSON */
    if (json_is_string(seed)) snprintf(cells[6], 96, "%s", json_string_value(seed));
    else if (json_is_number(seed)) rp_num(cells[6], 96, json_number_value(seed));
    double sum = 0;
    int k = 0;
    for (int i = r->n - 1; i >= 0 && k < RP_FINAL_LOGS; i--)
        if (isfinite(r->loss[i])) sum += r->loss[i], k++;
    if (k) rp_num(cells[7], 96, sum / k);
    double ips = rp_median(r->ips, r->n);
    if (isfinite(ips)) rp_num(cells[8], 96, ips);
    double t = NAN;
    for (int i = 0; i < r->n; i++)
        if (isfinite(r->elapsed[i]) && !(r->elapsed[i] <= t)) t = r->elapsed[i];
    if (isfinite(t)) {
        long s = lround(t);
        if (s >= 3600) snprintf(cells[9], 96, "%ldh %02ldm", s / 3600, s / 60 % 60);
        else if (s >= 60) snprintf(cells[9], 96, "%ldm %02lds", s / 60, s % 60);
        else snprintf(cells[9], 96, "%lds", s);
    }
}

/* the eval columns to show (scores, and settings that differ between runs) grouped by the file
 * they come from, and the line of settings that are the same for every run */
static void rp_columns(const gd_report *rep, json_t *shown, gd_buf *same_md, gd_buf *same_html) {
    /* a later run can bring a key of an earlier file: order by file first, so each file's
     * columns sit together under one group header */
    json_t *stems = json_object(), *ordered = json_array();
    const char *col;
    json_t *v;
    json_object_foreach(rep->cols, col, v) {
        char *stem = gd_report_fmt("%.*s", (int)strcspn(col, "."), col);
        json_object_set(stems, stem, json_true());
        free(stem);
    }
    const char *stem;
    json_t *u;
    json_object_foreach(stems, stem, u) {
        size_t n = strlen(stem);
        json_object_foreach(rep->cols, col, v)
            if (!strncmp(col, stem, n) && col[n] == '.')
                json_array_append_new(ordered, json_string(col));
    }
    size_t i;
    json_t *c;
    const char *last = NULL; /* the previous setting's column: "file: a = 1, b = 2; file2: ..." */
    json_array_foreach(ordered, i, c) {
        col = json_string_value(c);
        double x = 0;
        if (rp_is_setting(col) && rp_col_constant(rep, col, &x)) {
            char num[64];
            rp_num(num, sizeof num, x);
            size_t g = strcspn(col, ".");
            int same_file = last && !strncmp(col, last, g + 1);
            char *file = gd_report_fmt("%.*s", (int)g, col);
            for (int h = 0; h < 2; h++) {
                gd_buf *o = h ? same_html : same_md;
                void (*put)(gd_buf *, const char *) = h ? gd_buf_esc : gd_buf_puts;
                if (same_file) {
                    gd_buf_puts(o, ", ");
                } else {
                    if (o->n) gd_buf_puts(o, "; ");
                    put(o, file);
                    gd_buf_puts(o, ": ");
                }
                put(o, col + g + 1);
                gd_buf_printf(o, " = %s", num);
            }
            free(file);
            last = col;
        } else {
            json_array_append_new(shown, json_string(col));
        }
    }
    json_decref(stems);
    json_decref(ordered);
}

/* ---- results.md as HTML -------------------------------------------------------------------- */

/* the cells of a Markdown table row "| a | b |" into an HTML row of tag cells */
static void rp_md_row(gd_buf *b, const char *line, const char *tag) {
    gd_buf_puts(b, "<tr>");
    const char *p = line + (*line == '|');
    int first = 1;
    while (*p) {
        const char *e = p;
        while (*e && !(*e == '|' && (e == p || e[-1] != '\\'))) e++;
        if (!*e && e == p) break;
        const char *a = p, *z = e;
        while (a < z && *a == ' ') a++;
        while (z > a && z[-1] == ' ') z--;
        char *cell = gd_report_fmt("%.*s", (int)(z - a), a);
        gd_buf_printf(b, "<%s%s>", tag, first && tag[1] == 'd' ? " class=\"t\"" : "");
        first = 0;
        gd_buf_esc(b, cell);
        gd_buf_printf(b, "</%s>", tag);
        free(cell);
        if (!*e) break;
        p = e + 1;
        if (!*p) break;
    }
    gd_buf_puts(b, "</tr>\n");
}

/* simple Markdown: pipe tables become tables, '#' lines headings, other runs of lines
 * paragraphs; everything else (emphasis, links) stays as escaped text */
static void rp_md_to_html(gd_buf *b, const char *text) {
    const char *p = text;
    int in_table = 0, in_para = 0, row = 0;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *line = gd_report_fmt("%.*s", (int)len, p);
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\r' || line[n - 1] == ' ')) line[--n] = '\0';
        int table = line[0] == '|';
        if (in_table && !table) gd_buf_puts(b, "</table></div>\n"), in_table = 0;
        if (in_para && (table || !n || line[0] == '#')) gd_buf_puts(b, "</p>\n"), in_para = 0;
        if (table) {
            if (!in_table) gd_buf_puts(b, "<div class=\"scroll\"><table>\n"), in_table = 1, row = 0;
            int rule = strspn(line, "|-: ") == n;
            if (!rule) rp_md_row(b, line, row == 0 ? "th" : "td");
            row++;
        } else if (line[0] == '#') {
            const char *h = line + strspn(line, "#");
            gd_buf_puts(b, "<h3>");
            gd_buf_esc(b, h + strspn(h, " "));
            gd_buf_puts(b, "</h3>\n");
        } else if (n) {
            gd_buf_puts(b, in_para ? "\n" : "<p>");
            in_para = 1;
            gd_buf_esc(b, line);
        }
        free(line);
        p += len + (nl != NULL);
    }
    if (in_table) gd_buf_puts(b, "</table></div>\n");
    if (in_para) gd_buf_puts(b, "</p>\n");
}

/* ---- the two documents ---------------------------------------------------------------------- */

static const char rp_css[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;"
    "max-width:1400px;padding:0 20px;color:#222;line-height:1.45}"
    "h1{font-size:24px;margin-bottom:4px}h2{font-size:19px;margin-top:32px;"
    "border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:16px}"
    ".meta,.note{color:#555;font-size:13px}"
    ".scroll{overflow-x:auto;max-width:100%}"
    "table{border-collapse:collapse;font-size:13px;margin:8px 0}"
    "th,td{border:1px solid #d4d4d4;padding:3px 7px;vertical-align:bottom}"
    "th{background:#f1f3f5;font-weight:600;text-align:center;max-width:9em}"
    "td{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    "td.t{text-align:left}tr:nth-child(even) td{background:#fafafa}"
    /* the run column stays in view while a wide table scrolls sideways */
    ".r{position:sticky;left:0;background:#fff;text-align:left}th.r{background:#f1f3f5}"
    ".plot svg{max-width:100%;height:auto;display:block;margin:8px 0}"
    ".cards{display:flex;flex-wrap:wrap;gap:14px}"
    "figure{margin:0;border:1px solid #ddd;border-radius:4px;padding:8px;background:#fafafa;"
    "max-width:420px}"
    "figure img{display:block;max-width:100%;height:auto;image-rendering:pixelated}"
    "figcaption{font-size:13px;margin-top:6px}figcaption span{color:#666}";

char *gd_report_img_name(const gd_report_run *r, const gd_report_image *im) {
    char *s = gd_report_fmt("%s-%s", r->name, gd_report_base(im->label));
    for (char *c = s; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '.' || *c == '-' || *c == '_'))
            *c = '_';
    return s;
}

static void rp_html(gd_buf *b, const gd_report *rep, const char *title, const json_t *shown,
                    const gd_buf *same, const char *loss_svg, const char *gn_svg) {
    gd_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                   "<title>");
    gd_buf_esc(b, title);
    gd_buf_printf(b, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>", rp_css);
    gd_buf_esc(b, title);
    gd_buf_printf(b, "</h1>\n<p class=\"meta\">%d run%s; written by gmmdiff %s report</p>\n",
                  rep->nruns, rep->nruns == 1 ? "" : "s", GD_VERSION_STRING);

    /* table: a group row (training, then one group per eval file) over the column names */
    size_t ncol = json_array_size(shown);
    gd_buf_printf(b, "<h2>Runs</h2>\n<div class=\"scroll\"><table>\n<tr><th class=\"r\" "
                     "rowspan=\"2\">run</th><th colspan=\"%d\">training</th>", RP_NTRAIN - 1);
    for (size_t c = 0; c < ncol;) {
        const char *col = json_string_value(json_array_get(shown, c));
        size_t g = strcspn(col, "."), span = 1;
        while (c + span < ncol &&
               !strncmp(json_string_value(json_array_get(shown, c + span)), col, g + 1))
            span++;
        char *group = gd_report_fmt("%.*s", (int)g, col);
        gd_buf_printf(b, "<th colspan=\"%zu\">", span);
        gd_buf_esc(b, group);
        gd_buf_puts(b, "</th>");
        free(group);
        c += span;
    }
    gd_buf_puts(b, "</tr>\n<tr>");
    for (int c = 1; c < RP_NTRAIN; c++) gd_buf_printf(b, "<th>%s</th>", rp_train_cols[c]);
    for (size_t c = 0; c < ncol; c++) {
        const char *col = json_string_value(json_array_get(shown, c));
        gd_buf_puts(b, "<th>");
        rp_esc_wrap(b, col + strcspn(col, ".") + 1);
        gd_buf_puts(b, "</th>");
    }
    gd_buf_puts(b, "</tr>\n");
    for (int i = 0; i < rep->nruns; i++) {
        const gd_report_run *r = &rep->runs[i];
        char cells[RP_NTRAIN][96];
        rp_train_cells(r, cells);
        gd_buf_puts(b, "<tr><td class=\"r\" title=\"");
        gd_buf_esc(b, r->dir);
        gd_buf_puts(b, "\">");
        gd_buf_esc(b, cells[0]);
        gd_buf_puts(b, "</td>");
        for (int c = 1; c < RP_NTRAIN; c++) {
            gd_buf_puts(b, c <= 2 ? "<td class=\"t\">" : "<td>");
            gd_buf_esc(b, cells[c]);
            gd_buf_puts(b, "</td>");
        }
        for (size_t c = 0; c < ncol; c++) {
            const char *col = json_string_value(json_array_get(shown, c));
            const json_t *v = json_object_get(r->evals, col);
            char num[64] = "";
            if (v) rp_num(num, sizeof num, json_number_value(v));
            gd_buf_printf(b, "<td>%s</td>", num);
        }
        gd_buf_puts(b, "</tr>\n");
    }
    gd_buf_printf(b, "</table></div>\n<p class=\"note\">final loss: the mean of the last %d logged "
                     "losses; it/s: the median of the logged rates; time: the last elapsed_s. "
                     "Eval columns come from the run's *.json files (file.key).", RP_FINAL_LOGS);
    if (same->n) {
        gd_buf_puts(b, "<br>Eval settings the same for every run: ");
        gd_buf_puts(b, same->s); /* escaped when built */
    }
    gd_buf_puts(b, "</p>\n<h2>Training curves</h2>\n<div class=\"plot\">");
    gd_buf_puts(b, loss_svg);
    gd_buf_puts(b, "</div>\n<div class=\"plot\">");
    gd_buf_puts(b, gn_svg);
    gd_buf_puts(b, "</div>\n");

    int nimg = 0;
    for (int i = 0; i < rep->nruns; i++) nimg += rep->runs[i].nimg;
    if (nimg) {
        gd_buf_puts(b, "<h2>Samples and images</h2>\n<div class=\"cards\">\n");
        for (int i = 0; i < rep->nruns; i++)
            for (int k = 0; k < rep->runs[i].nimg; k++) {
                const gd_report_image *im = &rep->runs[i].img[k];
                /* small grids (16x16 items) scaled up by a whole factor to stay sharp */
                int scale = im->w > 0 && im->w < 200 ? 200 / im->w + 1 : 1;
                gd_buf_printf(b, "<figure><img width=\"%d\" alt=\"", im->w * scale);
                gd_buf_esc(b, im->label);
                gd_buf_puts(b, "\" src=\"data:image/png;base64,");
                rp_base64(b, im->data, im->len);
                gd_buf_puts(b, "\"><figcaption>");
                gd_buf_esc(b, rep->runs[i].name);
                gd_buf_puts(b, "<br><span>");
                gd_buf_esc(b, im->label);
                gd_buf_printf(b, " (%dx%d)</span></figcaption></figure>\n", im->w, im->h);
            }
        gd_buf_puts(b, "</div>\n");
    }
    for (int i = 0; i < rep->nnotes; i++) {
        gd_buf_puts(b, "<h2>Notes: ");
        gd_buf_esc(b, rep->notes[i]);
        gd_buf_puts(b, "</h2>\n");
        rp_md_to_html(b, rep->notes_text[i]);
    }
    gd_buf_puts(b, "</body>\n</html>");
}

static void rp_md(gd_buf *b, const gd_report *rep, const char *title, const json_t *shown,
                  const gd_buf *same) {
    gd_buf_printf(b, "# %s\n\n%d run%s; written by gmmdiff %s report.\n\n## Runs\n\n|", title,
                  rep->nruns, rep->nruns == 1 ? "" : "s", GD_VERSION_STRING);
    size_t ncol = json_array_size(shown);
    for (int c = 0; c < RP_NTRAIN; c++) gd_buf_printf(b, " %s |", rp_train_cols[c]);
    for (size_t c = 0; c < ncol; c++) {
        gd_buf_puts(b, " ");
        rp_md_cell(b, json_string_value(json_array_get(shown, c)));
        gd_buf_puts(b, " |");
    }
    gd_buf_puts(b, "\n|");
    for (size_t c = 0; c < RP_NTRAIN + ncol; c++) gd_buf_puts(b, c < 3 ? "---|" : "---:|");
    gd_buf_puts(b, "\n");
    for (int i = 0; i < rep->nruns; i++) {
        const gd_report_run *r = &rep->runs[i];
        char cells[RP_NTRAIN][96];
        rp_train_cells(r, cells);
        gd_buf_puts(b, "|");
        for (int c = 0; c < RP_NTRAIN; c++) {
            gd_buf_puts(b, " ");
            rp_md_cell(b, cells[c]);
            gd_buf_puts(b, " |");
        }
        for (size_t c = 0; c < ncol; c++) {
            const char *col = json_string_value(json_array_get(shown, c));
            const json_t *v = json_object_get(r->evals, col);
            char num[64] = "";
            if (v) rp_num(num, sizeof num, json_number_value(v));
            gd_buf_printf(b, " %s |", num);
        }
        gd_buf_puts(b, "\n");
    }
    gd_buf_printf(b, "\nfinal loss: the mean of the last %d logged losses; it/s: the median of the "
                     "logged rates; time: the last elapsed_s. Eval columns come from the run's "
                     "*.json files (file.key).\n", RP_FINAL_LOGS);
    if (same->n) gd_buf_printf(b, "Eval settings the same for every run: %s.\n", same->s);
    gd_buf_puts(b, "\n## Training curves\n\n![loss against step](loss.svg)\n\n"
                   "![grad_norm against step](grad_norm.svg)\n");
    int header = 0;
    for (int i = 0; i < rep->nruns; i++)
        for (int k = 0; k < rep->runs[i].nimg; k++) {
            if (!header++) gd_buf_puts(b, "\n## Samples and images\n");
            char *f = gd_report_img_name(&rep->runs[i], &rep->runs[i].img[k]);
            const char *run = rep->runs[i].name, *label = rep->runs[i].img[k].label;
            gd_buf_printf(b, "\n**%s**: %s\n\n![%s %s](img/%s)\n", run, label, run, label, f);
            free(f);
        }
    for (int i = 0; i < rep->nnotes; i++)
        gd_buf_printf(b, "\n## Notes: %s\n\n%s\n", rep->notes[i], rep->notes_text[i]);
}

void gd_report_render(gd_report_page *p, const gd_report *rep, const char *title) {
    json_t *shown = json_array();
    gd_buf same_md = {0}, same_html = {0};
    rp_columns(rep, shown, &same_md, &same_html);
    gd_report_plot(&p->loss_svg, rep, 0, "loss");
    gd_report_plot(&p->grad_svg, rep, 1, "grad_norm");
    rp_md(&p->md, rep, title, shown, &same_md);
    rp_html(&p->html, rep, title, shown, &same_html, p->loss_svg.s, p->grad_svg.s);
    free(same_md.s);
    free(same_html.s);
    json_decref(shown);
}

void gd_report_page_free(gd_report_page *p) {
    free(p->html.s);
    free(p->md.s);
    free(p->loss_svg.s);
    free(p->grad_svg.s);
    memset(p, 0, sizeof *p);
}
