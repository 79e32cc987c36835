/* report_runs.c - the runs of a report as train and eval leave them (report.h): run.json,
 * metrics.jsonl, the eval JSON files, the newest sample grid and other PNGs, and the
 * results.md of an experiment directory. Everything is read and checked here, before the
 * command writes anything, so a bad input leaves the output folder as it was. */
#include "report.h"
#include "data/text_file.h"
#include "gmmdiff/readers.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int rp_is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int rp_is_file(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int rp_cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* the names in dir (without . and ..) sorted, as a malloc'd array of malloc'd strings; -1 when
 * dir cannot be opened */
static int rp_list(const char *dir, char ***names) {
    DIR *d = opendir(dir);
    *names = NULL;
    if (!d) return -1;
    int n = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (n == cap) {
            cap = cap * 2 + 16;
            *names = gd_report_realloc(*names, sizeof **names * (size_t)cap);
        }
        (*names)[n++] = gd_report_fmt("%s", e->d_name);
    }
    closedir(d);
    if (n) qsort(*names, (size_t)n, sizeof **names, rp_cmp_str);
    return n;
}

static void rp_list_free(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

static int rp_ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* a picture larger than this is not a sample grid: it would swell the page (base64) */
#define RP_MAX_IMAGE GD_READER_MAX_TEXT

static double rp_get_num(const json_t *o, const char *key) {
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* metrics.jsonl: one object per logged step; a line that is not one is an error naming the
 * line, since a silently shortened curve would misreport the run */
static gd_status rp_read_metrics(gd_report_run *r, gd_error *err) {
    char *path = gd_report_fmt("%s/metrics.jsonl", r->dir);
    FILE *f = fopen(path, "r");
    if (!f) { /* none: a run that has not logged yet, whose cells stay blank */
        gd_status s = errno == ENOENT ? GD_OK : gd_error_set(err, GD_ERR_IO, "%s: cannot open: %s",
                                                             path, strerror(errno));
        free(path);
        return s;
    }
    gd_status s = GD_OK;
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    int ncap = 0;
    for (ssize_t len; (len = getline(&line, &cap, f)) >= 0;) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' '))
            line[--len] = '\0';
        if (!len) continue;
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        if (!json_is_object(o)) {
            s = gd_error_set(err, GD_ERR_FORMAT, "%s: line %zu: not a JSON object (%s)", path,
                             lineno, o ? "another JSON value" : je.text);
            json_decref(o);
            break;
        }
        double step = rp_get_num(o, "step");
        if (isfinite(step)) {
            if (r->n == ncap) {
                ncap = ncap * 2 + 256;
                r->step = gd_report_realloc(r->step, sizeof(double) * (size_t)ncap);
                r->loss = gd_report_realloc(r->loss, sizeof(double) * (size_t)ncap);
                r->gnorm = gd_report_realloc(r->gnorm, sizeof(double) * (size_t)ncap);
                r->ips = gd_report_realloc(r->ips, sizeof(double) * (size_t)ncap);
                r->elapsed = gd_report_realloc(r->elapsed, sizeof(double) * (size_t)ncap);
            }
            r->step[r->n] = step;
            r->loss[r->n] = rp_get_num(o, "loss");
            r->gnorm[r->n] = rp_get_num(o, "grad_norm");
            r->ips[r->n] = rp_get_num(o, "it_per_s");
            r->elapsed[r->n] = rp_get_num(o, "elapsed_s");
            r->n++;
        }
        json_decref(o);
    }
    if (!s && ferror(f)) s = gd_error_set(err, GD_ERR_IO, "%s: read error", path);
    free(line);
    fclose(f);
    free(path);
    return s;
}

/* adds "prefix.key" -> v to the run's evals when v is a number */
static void rp_add_eval(gd_report_run *r, const char *prefix, const char *key, const json_t *v) {
    if (!json_is_number(v)) return;
    char *k = gd_report_fmt("%s.%s", prefix, key);
    json_object_set_new(r->evals, k, json_real(json_number_value(v)));
    free(k);
}

/* one eval JSON file: the numbers at its top level and one level down (attribute accuracies,
 * the classifier's scores); arrays and deeper objects are per-component detail and left out */
static gd_status rp_read_eval(gd_report_run *r, const char *file, gd_error *err) {
    char *path = gd_report_fmt("%s/%s", r->dir, file);
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);
    if (!o) {
        gd_error_set(err, GD_ERR_FORMAT, "%s: line %d: not valid JSON (%s)", path, je.line,
                     je.text);
        free(path);
        return GD_ERR_FORMAT;
    }
    free(path);
    /* other JSON files in a run (a GMM saved by `gmmdiff gmm fit`, with its "format" tag) are
     * data, not scores */
    if (!json_is_object(o) || json_is_string(json_object_get(o, "format"))) {
        json_decref(o);
        return GD_OK;
    }
    /* the columns are named stem.key[.sub]: a '.' inside the stem (eval.v2.json) becomes '_' so
     * that the first '.' always ends the file's part */
    char *stem = gd_report_fmt("%.*s", (int)(strlen(file) - 5), file);
    for (char *p = stem; *p; p++)
        if (*p == '.') *p = '_';
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v) {
        if (json_is_object(v)) {
            char *pre = gd_report_fmt("%s.%s", stem, key);
            const char *k2;
            json_t *v2;
            json_object_foreach(v, k2, v2) rp_add_eval(r, pre, k2, v2);
            free(pre);
        } else {
            rp_add_eval(r, stem, key, v);
        }
    }
    free(stem);
    json_decref(o);
    return GD_OK;
}

/* a PNG's bytes and size; a file that is not a PNG is left out with a warning, not an error:
 * a picture missing from a report should not stop the report */
static void rp_add_image(gd_report_run *r, const char *path, const char *label) {
    unsigned char *data;
    size_t len;
    gd_error err = {0};
    if (gd_file_read(path, RP_MAX_IMAGE, (char **)&data, &len, &err)) {
        fprintf(stderr, "gmmdiff report: warning: %s; left out\n", err.msg);
        return;
    }
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (len < 24 || memcmp(data, sig, 8) || memcmp(data + 12, "IHDR", 4)) {
        fprintf(stderr, "gmmdiff report: warning: %s: not a PNG file; left out\n", path);
        free(data);
        return;
    }
    r->img = gd_report_realloc(r->img, sizeof *r->img * (size_t)(r->nimg + 1));
    gd_report_image *im = &r->img[r->nimg++];
    im->path = gd_report_fmt("%s", path);
    im->label = gd_report_fmt("%s", label);
    im->data = data;
    im->len = len;
    im->w = (int)((uint32_t)data[16] << 24 | (uint32_t)data[17] << 16 | data[18] << 8 | data[19]);
    im->h = (int)((uint32_t)data[20] << 24 | (uint32_t)data[21] << 16 | data[22] << 8 | data[23]);
}

/* the newest samples/step_N.png (highest N), then every other PNG in the run directory */
static void rp_read_images(gd_report_run *r) {
    char *sdir = gd_report_fmt("%s/samples", r->dir);
    char **names;
    int n = rp_list(sdir, &names);
    long best = -1;
    const char *best_name = NULL;
    for (int i = 0; i < n; i++) {
        const char *s = names[i];
        if (strncmp(s, "step_", 5) || !rp_ends_with(s, ".png")) continue;
        char *end;
        long step = strtol(s + 5, &end, 10);
        if (end != s + 5 && !strcmp(end, ".png") && step > best) best = step, best_name = s;
    }
    if (best_name) {
        char *path = gd_report_fmt("%s/%s", sdir, best_name);
        char *label = gd_report_fmt("samples/%s", best_name);
        rp_add_image(r, path, label);
        free(path);
        free(label);
    }
    rp_list_free(names, n);
    free(sdir);
    n = rp_list(r->dir, &names);
    for (int i = 0; i < n; i++) {
        if (!rp_ends_with(names[i], ".png")) continue;
        char *path = gd_report_fmt("%s/%s", r->dir, names[i]);
        if (rp_is_file(path)) rp_add_image(r, path, names[i]);
        free(path);
    }
    rp_list_free(names, n);
}

static gd_status rp_read_run(gd_report_run *r, gd_error *err) {
    char *path = gd_report_fmt("%s/run.json", r->dir);
    json_error_t je;
    r->cfg = json_load_file(path, 0, &je);
    if (!json_is_object(r->cfg)) {
        gd_error_set(err, GD_ERR_FORMAT, "%s: not a JSON object (%s)", path,
                     r->cfg ? "another JSON value" : je.text);
        free(path);
        return GD_ERR_FORMAT;
    }
    free(path);
    gd_status s = rp_read_metrics(r, err);
    if (s) return s;
    r->evals = json_object();
    char **names;
    int n = rp_list(r->dir, &names);
    for (int i = 0; i < n && !s; i++) {
        if (!rp_ends_with(names[i], ".json") || !strcmp(names[i], "run.json")) continue;
        char *p = gd_report_fmt("%s/%s", r->dir, names[i]);
        int file = rp_is_file(p);
        free(p);
        if (file) s = rp_read_eval(r, names[i], err);
    }
    rp_list_free(names, n);
    if (!s) rp_read_images(r);
    return s;
}

static void rp_run_free(gd_report_run *r) {
    free(r->dir);
    free(r->name);
    json_decref(r->cfg);
    free(r->step);
    free(r->loss);
    free(r->gnorm);
    free(r->ips);
    free(r->elapsed);
    json_decref(r->evals);
    for (int i = 0; i < r->nimg; i++) {
        free(r->img[i].path);
        free(r->img[i].label);
        free(r->img[i].data);
    }
    free(r->img);
}

char *gd_report_clean_path(const char *dir) {
    char *d = gd_report_fmt("%s", dir);
    for (size_t n = strlen(d); n > 1 && d[n - 1] == '/'; n--) d[n - 1] = '\0';
    return d;
}

const char *gd_report_base(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static void rp_add_run(gd_report *rep, char *dir) {
    rep->runs = gd_report_realloc(rep->runs, sizeof *rep->runs * (size_t)(rep->nruns + 1));
    gd_report_run *r = &rep->runs[rep->nruns++];
    memset(r, 0, sizeof *r);
    r->dir = dir;
}

gd_status gd_report_add(gd_report *rep, const char *arg, gd_error *err) {
    char *dir = gd_report_clean_path(arg);
    if (!rp_is_dir(dir)) {
        gd_error_set(err, GD_ERR_IO, "%s: no such directory", dir);
        free(dir);
        return GD_ERR_IO;
    }
    char *notes = gd_report_fmt("%s/results.md", dir);
    if (rp_is_file(notes)) {
        rep->notes = gd_report_realloc(rep->notes, sizeof *rep->notes * (size_t)(rep->nnotes + 1));
        rep->notes[rep->nnotes++] = notes;
    } else {
        free(notes);
    }
    char *cfg = gd_report_fmt("%s/run.json", dir);
    int is_run = rp_is_file(cfg);
    free(cfg);
    if (is_run) {
        rp_add_run(rep, dir);
        return GD_OK;
    }
    char **names;
    int n = rp_list(dir, &names), found = 0;
    for (int i = 0; i < n; i++) {
        char *sub = gd_report_fmt("%s/%s", dir, names[i]), *c = gd_report_fmt("%s/run.json", sub);
        if (rp_is_dir(sub) && rp_is_file(c)) {
            rp_add_run(rep, sub);
            found++;
        } else {
            free(sub);
        }
        free(c);
    }
    rp_list_free(names, n);
    gd_status s = GD_OK;
    if (!found)
        s = gd_error_set(err, GD_ERR_IO, "%s: not a run (no run.json) and holds no run "
                                         "directories", dir);
    free(dir);
    return s;
}

/* names for the table and legend: the directory's name, or parent/name where two runs share
 * one (seed-1 of two experiments), or a #k suffix where even that is not unique */
static void rp_name_runs(gd_report *rep) {
    for (int i = 0; i < rep->nruns; i++)
        rep->runs[i].name = gd_report_fmt("%s", gd_report_base(rep->runs[i].dir));
    for (int i = 0; i < rep->nruns; i++) {
        const char *base = gd_report_base(rep->runs[i].dir);
        int dup = 0;
        for (int j = 0; j < rep->nruns; j++)
            dup |= j != i && !strcmp(gd_report_base(rep->runs[j].dir), base);
        if (!dup) continue;
        const char *d = rep->runs[i].dir, *slash = strrchr(d, '/');
        const char *start = d;
        if (slash)
            for (const char *p = slash - 1; p >= d; p--)
                if (*p == '/') { start = p + 1; break; }
        free(rep->runs[i].name);
        rep->runs[i].name = gd_report_fmt("%s", start);
    }
    for (int i = 0; i < rep->nruns; i++)
        for (int j = 0, k = 2; j < i; j++)
            if (!strcmp(rep->runs[j].name, rep->runs[i].name)) {
                char *nm = gd_report_fmt("%s#%d", rep->runs[i].name, k++);
                free(rep->runs[i].name);
                rep->runs[i].name = nm;
                j = -1; /* check the new name against every earlier one */
            }
}

gd_status gd_report_read(gd_report *rep, gd_error *err) {
    rp_name_runs(rep);
    for (int i = 0; i < rep->nruns; i++) {
        gd_status s = rp_read_run(&rep->runs[i], err);
        if (s) return s;
    }
    /* the columns: every run's eval keys, in order of first appearance */
    rep->cols = json_object();
    for (int i = 0; i < rep->nruns; i++) {
        const char *k;
        json_t *v;
        json_object_foreach(rep->runs[i].evals, k, v) json_object_set(rep->cols, k, json_true());
    }
    rep->notes_text = gd_report_realloc(NULL, sizeof(char *) * (size_t)(rep->nnotes + 1));
    for (int i = 0; i < rep->nnotes; i++) rep->notes_text[i] = NULL;
    for (int i = 0; i < rep->nnotes; i++) {
        char *text;
        size_t len;
        gd_status s = gd_text_read(rep->notes[i], &text, &len, err);
        if (s) return s;
        while (len && text[len - 1] == '\n') text[--len] = '\0';
        rep->notes_text[i] = text;
    }
    return GD_OK;
}

void gd_report_free(gd_report *rep) {
    for (int i = 0; i < rep->nruns; i++) rp_run_free(&rep->runs[i]);
    free(rep->runs);
    for (int i = 0; i < rep->nnotes; i++) {
        free(rep->notes[i]);
        if (rep->notes_text) free(rep->notes_text[i]);
    }
    free(rep->notes);
    free(rep->notes_text);
    json_decref(rep->cols);
    memset(rep, 0, sizeof *rep);
}
