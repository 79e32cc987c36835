/* metrics.c - the metrics log of a training run: metrics.jsonl and a TensorBoard event file
 * (see metrics.h; the event encoding is in tbevents.c). */
#include "gmmdiff/metrics.h"
#include "io/tbevents.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

struct gd_metrics {
    FILE *jsonl, *tb;
    char *jsonl_path, *tb_path;
    char *line;       /* the JSONL line being built */
    size_t line_len, line_cap;
    uint8_t *event;   /* the event being encoded */
    size_t event_cap;
};

static double wall_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static char *path_join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* ---- building a JSONL line ------------------------------------------------------------------ */

static int line_reserve(gd_metrics *m, size_t more) {
    if (m->line_len + more + 1 <= m->line_cap) return 0;
    size_t cap = m->line_cap ? m->line_cap : 256;
    while (cap < m->line_len + more + 1) cap *= 2;
    char *p = realloc(m->line, cap);
    if (!p) return -1;
    m->line = p;
    m->line_cap = cap;
    return 0;
}

static int line_printf(gd_metrics *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int line_printf(gd_metrics *m, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || line_reserve(m, (size_t)n)) return -1;
    va_start(ap, fmt);
    vsnprintf(m->line + m->line_len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    m->line_len += (size_t)n;
    return 0;
}

/* a JSON string: quotes, backslashes and control characters escaped; other bytes as given */
static int line_string(gd_metrics *m, const char *s) {
    if (line_printf(m, "\"")) return -1;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int r;
        if (*p == '"' || *p == '\\') r = line_printf(m, "\\%c", *p);
        else if (*p < 0x20) r = line_printf(m, "\\u%04x", *p);
        else r = line_printf(m, "%c", *p);
        if (r) return -1;
    }
    return line_printf(m, "\"");
}

/* null for NaN and +-Inf; whole numbers below 1e15 without a fraction; otherwise the fewest %g
 * digits that read back as v (-0.0 keeps its sign) */
static int line_number(gd_metrics *m, double v) {
    if (!isfinite(v)) return line_printf(m, "null");
    if (v == 0) return line_printf(m, signbit(v) ? "-0.0" : "0");
    if (fabs(v) < 1e15 && v == floor(v)) return line_printf(m, "%.0f", v);
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    return line_printf(m, "%s", buf);
}

/* ---- reading metrics.jsonl -------------------------------------------------------------------- */

/* the integer "step" of a JSONL line; -1 if the line is not an object with one */
static int line_step(const char *line, size_t len, int64_t *step) {
    json_t *root = json_loadb(line, len, 0, NULL);
    json_t *s = root ? json_object_get(root, "step") : NULL;
    int ok = s && json_is_integer(s);
    if (ok) *step = (int64_t)json_integer_value(s);
    json_decref(root);
    return ok ? 0 : -1;
}

/* reads the whole of path; *data is NULL and *n 0 for a missing file (returns GD_OK) */
static gd_status read_all(const char *path, char **data, size_t *n, gd_error *err) {
    *data = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return GD_OK;
        return gd_error_set(err, GD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    size_t cap = 0;
    char *buf = NULL;
    for (;;) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 65536;
            char *p = realloc(buf, cap);
            if (!p) {
                free(buf);
                fclose(f);
                return gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory reading", path);
            }
            buf = p;
        }
        size_t r = fread(buf + *n, 1, cap - *n, f);
        *n += r;
        if (r == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return gd_error_set(err, GD_ERR_IO, "%s: read failed", path);
    }
    *data = buf;
    return GD_OK;
}

gd_status gd_metrics_truncate_after(const char *run_dir, int64_t step, gd_error *err) {
    GD_ASSERT(run_dir);
    char *path = path_join(run_dir, "metrics.jsonl");
    if (!path) return gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", run_dir);
    char *data, *out = NULL;
    size_t n, kept = 0;
    gd_status st = read_all(path, &data, &n, err);
    if (st != GD_OK || !data) goto done;
    out = malloc(n + 1);
    if (!out) {
        st = gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    int lineno = 0;
    for (size_t i = 0; i < n;) {
        const char *nl = memchr(data + i, '\n', n - i);
        size_t len = nl ? (size_t)(nl - (data + i)) : n - i;
        int64_t s;
        lineno++;
        if (line_step(data + i, len, &s) != 0) {
            if (!nl) break; /* a last line cut short by a crash */
            st = gd_error_set(err, GD_ERR_FORMAT,
                              "%s:%d: not a JSON object with an integer \"step\"", path, lineno);
            goto done;
        }
        if (s <= step) {
            memcpy(out + kept, data + i, len);
            kept += len;
            out[kept++] = '\n';
        }
        i += len + (nl ? 1 : 0);
    }
    if (kept != n || memcmp(out, data, n) != 0) {
        const void *parts[1] = {out};
        st = gd_write_file_atomic(path, parts, &kept, 1, err);
    }
done:
    free(out);
    free(data);
    free(path);
    return st;
}

/* ---- open / log / close ------------------------------------------------------------------------ */

static gd_status make_dir(const char *path, gd_error *err) {
    if (mkdir(path, 0755) == 0 || errno == EEXIST) return GD_OK;
    return gd_error_set(err, GD_ERR_IO, "%s: cannot create folder: %s", path, strerror(errno));
}

/* creates a new event file in tb_dir: the standard name, or that name with .1, .2, ... */
static gd_status create_event_file(gd_metrics *m, const char *tb_dir, gd_error *err) {
    struct utsname u;
    char host[sizeof u.nodename] = "localhost";
    if (uname(&u) == 0 && u.nodename[0]) memcpy(host, u.nodename, sizeof host);
    host[sizeof host - 1] = '\0';
    for (char *c = host; *c; c++)
        if (*c == '/') *c = '_';
    size_t cap = strlen(tb_dir) + strlen(host) + 128;
    m->tb_path = malloc(cap);
    if (!m->tb_path) return gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", tb_dir);
    long long now = (long long)time(NULL);
    for (int k = 0; k < 1000; k++) {
        int len = snprintf(m->tb_path, cap, "%s/events.out.tfevents.%lld.%s.%ld.gmmdiff", tb_dir,
                           now, host, (long)getpid());
        if (k) snprintf(m->tb_path + len, cap - (size_t)len, ".%d", k);
        int fd = open(m->tb_path, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0 && errno == EEXIST) continue;
        if (fd < 0)
            return gd_error_set(err, GD_ERR_IO, "%s: cannot create: %s", m->tb_path,
                                strerror(errno));
        m->tb = fdopen(fd, "wb");
        if (!m->tb) {
            close(fd);
            return gd_error_set(err, GD_ERR_IO, "%s: cannot open: %s", m->tb_path,
                                strerror(errno));
        }
        return GD_OK;
    }
    return gd_error_set(err, GD_ERR_IO, "%s: too many event files with this name", m->tb_path);
}

/* resuming: cuts a torn last line off metrics.jsonl and returns the last line's step + 1 (0 for
 * an empty or missing file), the step from which the old event files no longer count */
static gd_status resume_jsonl(gd_metrics *m, int64_t *next_step, gd_error *err) {
    char *data;
    size_t n;
    *next_step = 0;
    gd_status st = read_all(m->jsonl_path, &data, &n, err);
    if (st != GD_OK || !data) return st;
    size_t end = n; /* end of the last complete line */
    while (end > 0 && data[end - 1] != '\n') end--;
    size_t start = end ? end - 1 : 0;
    while (start > 0 && data[start - 1] != '\n') start--;
    int64_t last;
    if (end > start && line_step(data + start, end - 1 - start, &last) == 0) *next_step = last + 1;
    free(data);
    if (end < n && truncate(m->jsonl_path, (off_t)end) != 0)
        return gd_error_set(err, GD_ERR_IO, "%s: cannot cut a partial last line: %s",
                            m->jsonl_path, strerror(errno));
    return GD_OK;
}

/* v as float32; beyond its range, +-Inf (a cast would be undefined there) */
static float to_float(double v) {
    if (v > FLT_MAX) return INFINITY;
    if (v < -FLT_MAX) return -INFINITY;
    return (float)v;
}

static gd_status write_event(gd_metrics *m, size_t len, gd_error *err) {
    if (gd_tb_write_record(m->tb, m->event, len) != 0)
        return gd_error_set(err, GD_ERR_IO, "%s: write failed: %s", m->tb_path, strerror(errno));
    return GD_OK;
}

static gd_status event_reserve(gd_metrics *m, size_t need, gd_error *err) {
    if (need <= m->event_cap) return GD_OK;
    uint8_t *p = realloc(m->event, need);
    if (!p) return gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", m->tb_path);
    m->event = p;
    m->event_cap = need;
    return GD_OK;
}

gd_status gd_metrics_open(gd_metrics **out, const char *run_dir, int resume, gd_error *err) {
    GD_ASSERT(out && run_dir);
    *out = NULL;
    gd_metrics *m = calloc(1, sizeof *m);
    char *tb_dir = path_join(run_dir, "tb");
    gd_status st = GD_OK;
    if (!m || !tb_dir || !(m->jsonl_path = path_join(run_dir, "metrics.jsonl"))) {
        st = gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", run_dir);
        goto fail;
    }
    if ((st = make_dir(run_dir, err)) != GD_OK || (st = make_dir(tb_dir, err)) != GD_OK) goto fail;
    int64_t next_step = 0;
    if (resume && (st = resume_jsonl(m, &next_step, err)) != GD_OK) goto fail;
    m->jsonl = fopen(m->jsonl_path, resume ? "ab" : "wb");
    if (!m->jsonl) {
        st = gd_error_set(err, GD_ERR_IO, "%s: cannot open: %s", m->jsonl_path, strerror(errno));
        goto fail;
    }
    if ((st = create_event_file(m, tb_dir, err)) != GD_OK) goto fail;
    if ((st = event_reserve(m, GD_TB_EVENT_MAX(0), err)) != GD_OK) goto fail;
    double now = wall_seconds();
    if ((st = write_event(m, gd_tb_encode_version(m->event, now), err)) != GD_OK) goto fail;
    if (resume &&
        (st = write_event(m, gd_tb_encode_session_start(m->event, now, next_step), err)) != GD_OK)
        goto fail;
    if (fflush(m->tb) != 0) {
        st = gd_error_set(err, GD_ERR_IO, "%s: write failed: %s", m->tb_path, strerror(errno));
        goto fail;
    }
    free(tb_dir);
    *out = m;
    return GD_OK;
fail:
    free(tb_dir);
    gd_metrics_close(m);
    return st;
}

gd_status gd_metrics_log(gd_metrics *m, int64_t step, const char *const *names,
                         const double *values, int n, gd_error *err) {
    GD_ASSERT(m && n >= 0 && (n == 0 || (names && values)));
    for (int i = 0; i < n; i++) {
        GD_ASSERT(names[i]);
        if (!names[i][0] || !strcmp(names[i], "step") || !strcmp(names[i], "time"))
            return gd_error_set(err, GD_ERR_ARG, "%s: metric name \"%s\" is reserved or empty",
                                m->jsonl_path, names[i]);
        for (int j = 0; j < i; j++)
            if (!strcmp(names[i], names[j]))
                return gd_error_set(err, GD_ERR_ARG, "%s: metric \"%s\" given twice",
                                    m->jsonl_path, names[i]);
    }
    double now = wall_seconds();
    m->line_len = 0;
    int bad = line_printf(m, "{\"step\": %lld, \"time\": %.3f", (long long)step, now);
    for (int i = 0; i < n && !bad; i++)
        bad = line_printf(m, ", ") || line_string(m, names[i]) || line_printf(m, ": ") ||
              line_number(m, values[i]);
    if (bad || line_printf(m, "}\n"))
        return gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", m->jsonl_path);
    if (fwrite(m->line, 1, m->line_len, m->jsonl) != m->line_len || fflush(m->jsonl) != 0)
        return gd_error_set(err, GD_ERR_IO, "%s: write failed: %s", m->jsonl_path,
                            strerror(errno));
    for (int i = 0; i < n; i++) {
        size_t tag_len = strlen(names[i]);
        gd_status st = event_reserve(m, GD_TB_EVENT_MAX(tag_len), err);
        if (st == GD_OK)
            st = write_event(m, gd_tb_encode_scalar(m->event, now, step, names[i], tag_len,
                                                    to_float(values[i])), err);
        if (st != GD_OK) return st;
    }
    if (fflush(m->tb) != 0)
        return gd_error_set(err, GD_ERR_IO, "%s: write failed: %s", m->tb_path, strerror(errno));
    return GD_OK;
}

void gd_metrics_close(gd_metrics *m) {
    if (!m) return;
    if (m->jsonl) fclose(m->jsonl);
    if (m->tb) fclose(m->tb);
    free(m->jsonl_path);
    free(m->tb_path);
    free(m->line);
    free(m->event);
    free(m);
}

const char *gd_metrics_jsonl_path(const gd_metrics *m) { return m->jsonl_path; }
const char *gd_metrics_event_path(const gd_metrics *m) { return m->tb_path; }
