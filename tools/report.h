/* report.h - the pieces of `gmmdiff report` (docs/REPORTS.md): the runs as read from their
 * directories (report_runs.c), the page drawn from them (report_page.c, report_plot.c), and
 * the command that writes the files (cmd_report.c). */
#ifndef GMMDIFF_REPORT_H
#define GMMDIFF_REPORT_H

#include "gmmdiff/core.h"

#include <jansson.h>
#include <stddef.h>

/* ---- text -----------------------------------------------------------------------------------
 * A growing string: a zeroed gd_buf is empty; s is NUL-terminated (NULL while empty). An
 * allocation failure prints a message and exits with status 1: the command's one out-of-memory
 * path (a report is a few MB, so failing means the machine is out of memory). */
typedef struct gd_buf {
    char *s;
    size_t n, cap;
} gd_buf;

void *gd_report_realloc(void *p, size_t n);
/* a malloc'd printf */
char *gd_report_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void gd_buf_putn(gd_buf *b, const char *s, size_t n);
void gd_buf_puts(gd_buf *b, const char *s);
void gd_buf_printf(gd_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s with & < > " ' escaped for HTML: every string from a file or a flag goes through this */
void gd_buf_esc(gd_buf *b, const char *s);

/* the part of path after its last '/' */
const char *gd_report_base(const char *path);
/* a malloc'd copy of dir without trailing slashes */
char *gd_report_clean_path(const char *dir);

/* ---- the runs ------------------------------------------------------------------------------- */
typedef struct gd_report_image {
    char *path;          /* the file read */
    char *label;         /* its path inside the run directory, for captions */
    unsigned char *data; /* the PNG's bytes */
    size_t len;
    int w, h;            /* from the IHDR chunk */
} gd_report_image;

typedef struct gd_report_run {
    char *dir;
    char *name;      /* unique among the report's runs */
    json_t *cfg;     /* run.json */
    int n;           /* metrics lines with a step; the arrays below have n entries, NAN = absent */
    double *step, *loss, *gnorm, *ips, *elapsed;
    json_t *evals;   /* "file-stem.key[.sub]" -> number, from the eval JSON files */
    gd_report_image *img;
    int nimg;
} gd_report_run;

typedef struct gd_report {
    gd_report_run *runs;
    int nruns;
    char **notes;    /* results.md paths of the experiment directories given */
    char **notes_text; /* their text, without trailing newlines */
    int nnotes;
    json_t *cols;    /* the union of the runs' eval keys, in order of first appearance */
} gd_report;

/* Adds the runs of one RUN argument: dir itself when it holds run.json, else its immediate
 * subdirectories that do (in name order), and its results.md if any. A missing directory, or
 * one with neither, is an error naming it. */
gd_status gd_report_add(gd_report *rep, const char *dir, gd_error *err);
/* Names the runs (unique), reads each run's run.json, metrics.jsonl, eval JSON files and
 * images, and the notes. A corrupt file is an error naming it (and the line, for
 * metrics.jsonl). */
gd_status gd_report_read(gd_report *rep, gd_error *err);
void gd_report_free(gd_report *rep); /* safe on a zeroed report */

/* ---- the page ------------------------------------------------------------------------------- */

typedef struct gd_report_page {
    gd_buf html;      /* report.html, self-contained */
    gd_buf md;        /* report.md, referring to the three below */
    gd_buf loss_svg;  /* loss.svg */
    gd_buf grad_svg;  /* grad_norm.svg */
} gd_report_page;

void gd_report_render(gd_report_page *p, const gd_report *rep, const char *title);
void gd_report_page_free(gd_report_page *p);
/* the name of an image's copy in img/: the run's name and the file's, other characters than
 * [A-Za-z0-9._-] as '_' (malloc'd) */
char *gd_report_img_name(const gd_report_run *r, const gd_report_image *im);

/* one SVG plot of loss (which 0) or grad_norm (which 1) against step for every run */
void gd_report_plot(gd_buf *b, const gd_report *rep, int which, const char *ylabel);

#endif
