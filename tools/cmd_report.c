/* cmd_report.c - `gmmdiff report RUN... --out DIR`: one page that compares training runs side
 * by side (docs/REPORTS.md). The runs are read (report_runs.c) and the page drawn
 * (report_page.c) before anything is written, so a bad input leaves DIR as it was; then
 *   DIR/report.html  self-contained: inline CSS, plots as inline SVG, PNGs as data: URIs, so
 *                    the one file can be mailed or attached to an issue
 *   DIR/report.md    the same tables in Markdown, beside DIR/loss.svg, DIR/grad_norm.svg and
 *                    DIR/img/<run>-<file>.png, referenced relatively
 * each written atomically. */
#include "cli.h"
#include "report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void report_help(FILE *f) {
    fprintf(f,
        "usage: gmmdiff report RUN... --out DIR [--title T]\n"
        "Compares training runs on one page. Each RUN is a run directory (it holds run.json)\n"
        "or an experiment directory whose subdirectories are runs (taken in name order; its\n"
        "results.md is shown too). Writes DIR/report.html (self-contained: open it alone) and\n"
        "DIR/report.md with DIR/loss.svg, DIR/grad_norm.svg and DIR/img/. See docs/REPORTS.md.\n"
        "  --out DIR          the report's folder (created if missing)\n"
        "  --title T          the page's title (default: the RUN names)\n");
}

/* mkdir -p */
static gd_status report_mkdirs(const char *dir, gd_error *err) {
    char *p = gd_report_fmt("%s", dir);
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s) continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            gd_error_set(err, GD_ERR_IO, "%s: cannot create folder: %s", p, strerror(errno));
            free(p);
            return GD_ERR_IO;
        }
        *s = c;
        if (!c) break;
    }
    free(p);
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return gd_error_set(err, GD_ERR_IO, "%s: exists and is not a folder", dir);
    return GD_OK;
}

static gd_status report_write_text(const char *out, const char *file, const char *text,
                                   gd_error *err) {
    char *path = gd_report_fmt("%s/%s", out, file);
    gd_status s = gd_write_text_atomic(path, text, err);
    if (!s) printf("wrote %s\n", path);
    free(path);
    return s;
}

/* every file of the report; report.html last, so its presence means the rest is there */
static gd_status report_write(const gd_report *rep, const gd_report_page *page, const char *out,
                              gd_error *err) {
    gd_status s = report_mkdirs(out, err);
    char *img = gd_report_fmt("%s/img", out);
    int nimg = 0;
    for (int i = 0; i < rep->nruns && !s; i++)
        for (int k = 0; k < rep->runs[i].nimg && !s; k++) {
            if (!nimg++ && (s = report_mkdirs(img, err))) break;
            const gd_report_image *im = &rep->runs[i].img[k];
            char *f = gd_report_img_name(&rep->runs[i], im), *path = gd_report_fmt("%s/%s", img, f);
            const void *parts[1] = {im->data};
            size_t sizes[1] = {im->len};
            s = gd_write_file_atomic(path, parts, sizes, 1, err);
            free(f);
            free(path);
        }
    if (!s && nimg) printf("wrote %d image%s to %s\n", nimg, nimg == 1 ? "" : "s", img);
    free(img);
    if (!s) s = report_write_text(out, "loss.svg", page->loss_svg.s, err);
    if (!s) s = report_write_text(out, "grad_norm.svg", page->grad_svg.s, err);
    if (!s) s = report_write_text(out, "report.md", page->md.s, err);
    if (!s) s = report_write_text(out, "report.html", page->html.s, err);
    return s;
}

int gd_cmd_report(int argc, char **argv) {
    const char *out = NULL, *title = NULL;
    const char **args = gd_report_realloc(NULL, sizeof *args * (size_t)argc);
    int nargs = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            report_help(stdout);
            free(args);
            return 0;
        } else if (!strcmp(a, "--out") && v) {
            out = v, i++;
        } else if (!strcmp(a, "--title") && v) {
            title = v, i++;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "gmmdiff report: unknown or incomplete flag '%s' (see --help)\n", a);
            free(args);
            return 2;
        } else {
            args[nargs++] = a;
        }
    }
    if (!out || !nargs) {
        fprintf(stderr, "gmmdiff report: give one or more RUN directories and --out DIR "
                        "(see --help)\n");
        free(args);
        return 2;
    }
    gd_report rep = {0};
    gd_report_page page = {0};
    gd_error err = {0};
    gd_status s = GD_OK;
    for (int i = 0; i < nargs && !s; i++) s = gd_report_add(&rep, args[i], &err);
    if (!s) s = gd_report_read(&rep, &err);
    gd_buf t = {0};
    if (!s && !title) { /* "gmmdiff report: consistency, fmf" */
        gd_buf_puts(&t, "gmmdiff report: ");
        for (int i = 0; i < nargs; i++) {
            char *d = gd_report_clean_path(args[i]);
            gd_buf_printf(&t, "%s%s", i ? ", " : "", gd_report_base(d));
            free(d);
        }
        title = t.s;
    }
    if (!s) gd_report_render(&page, &rep, title);
    if (!s) s = report_write(&rep, &page, out, &err);
    if (s) fprintf(stderr, "gmmdiff report: %s\n", err.msg);
    free(t.s);
    gd_report_page_free(&page);
    gd_report_free(&rep);
    free(args);
    return s ? 1 : 0;
}
