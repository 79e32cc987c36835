/* test_metrics.c - the metrics log and the progress line: CRC32C against known values, the
 * TensorBoard event file read back by a small TFRecord + protobuf reader written here (every
 * CRC checked, every field decoded), metrics.jsonl parsed with jansson, truncation and
 * resuming, and the progress line in plain and terminal modes with a given clock. */
#include "gmmdiff/metrics.h"
#include "gmmdiff/progress.h"
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char dir[] = "/tmp/gd_test_metrics_XXXXXX";
static char run[300], jsonl[400];

/* ---- a reader for event files ------------------------------------------------------------- */

typedef struct event {
    double wall_time;
    int64_t step;
    char version[32];
    int nvalues;       /* Summary.value entries */
    char tag[64];
    float value;
    int session_status; /* -1: no session_log */
} event;

static uint64_t le(const uint8_t *b, int bytes) {
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--) v = v << 8 | b[i];
    return v;
}

/* one protobuf field: number, wire type, and its varint/fixed value or its bytes */
typedef struct field {
    unsigned num, wire;
    uint64_t u;
    const uint8_t *data;
    size_t len;
} field;

static int varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p >= end) return -1;
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return 0;
    }
    return -1;
}

static int next_field(const uint8_t **p, const uint8_t *end, field *f) {
    uint64_t key;
    if (varint(p, end, &key)) return -1;
    f->num = (unsigned)(key >> 3);
    f->wire = (unsigned)(key & 7);
    switch (f->wire) {
    case 0: return varint(p, end, &f->u);
    case 1:
    case 5: {
        size_t n = f->wire == 1 ? 8 : 4;
        if ((size_t)(end - *p) < n) return -1;
        f->u = le(*p, (int)n);
        *p += n;
        return 0;
    }
    case 2:
        if (varint(p, end, &f->u) || f->u > (uint64_t)(end - *p)) return -1;
        f->data = *p;
        f->len = (size_t)f->u;
        *p += f->len;
        return 0;
    default: return -1;
    }
}

static int decode_value(const uint8_t *p, const uint8_t *end, event *e) {
    field f;
    while (p < end) {
        if (next_field(&p, end, &f)) return -1;
        if (f.num == 1 && f.wire == 2 && f.len < sizeof e->tag) {
            memcpy(e->tag, f.data, f.len);
            e->tag[f.len] = '\0';
        } else if (f.num == 2 && f.wire == 5) {
            uint32_t u = (uint32_t)f.u;
            memcpy(&e->value, &u, 4);
        } else {
            return -1;
        }
    }
    return 0;
}

static int decode_event(const uint8_t *p, const uint8_t *end, event *e) {
    memset(e, 0, sizeof *e);
    e->session_status = -1;
    field f;
    while (p < end) {
        if (next_field(&p, end, &f)) return -1;
        if (f.num == 1 && f.wire == 1) {
            memcpy(&e->wall_time, &f.u, 8);
        } else if (f.num == 2 && f.wire == 0) {
            e->step = (int64_t)f.u;
        } else if (f.num == 3 && f.wire == 2 && f.len < sizeof e->version) {
            memcpy(e->version, f.data, f.len);
        } else if (f.num == 5 && f.wire == 2) { /* Summary */
            const uint8_t *q = f.data, *qe = f.data + f.len;
            field v;
            while (q < qe) {
                if (next_field(&q, qe, &v) || v.num != 1 || v.wire != 2) return -1;
                if (decode_value(v.data, v.data + v.len, e)) return -1;
                e->nvalues++;
            }
        } else if (f.num == 7 && f.wire == 2) { /* SessionLog */
            const uint8_t *q = f.data;
            field s;
            if (next_field(&q, f.data + f.len, &s) || s.num != 1 || s.wire != 0) return -1;
            e->session_status = (int)s.u;
        } else {
            return -1;
        }
    }
    return 0;
}

/* reads every record of an event file, checking both CRCs; returns the count or -1 */
static int read_events(const char *path, event *ev, int cap) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    static uint8_t buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    size_t at = 0;
    int count = 0;
    while (at < n) {
        if (n - at < 12 || count == cap) return -1;
        uint64_t len = le(buf + at, 8);
        if ((uint32_t)le(buf + at + 8, 4) != gd_crc32c_mask(gd_crc32c(buf + at, 8))) return -1;
        at += 12;
        if (len + 4 > n - at) return -1;
        if ((uint32_t)le(buf + at + len, 4) != gd_crc32c_mask(gd_crc32c(buf + at, len)))
            return -1;
        if (decode_event(buf + at, buf + at + len, &ev[count++])) return -1;
        at += len + 4;
    }
    return count;
}

/* ---- helpers ---------------------------------------------------------------------------------- */

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void append(const char *path, const char *text) {
    FILE *f = fopen(path, "ab");
    fputs(text, f);
    fclose(f);
}

/* parses each line of metrics.jsonl into lines[]; returns the count or -1 */
static int read_jsonl(json_t **lines, int cap) {
    char *text = slurp(jsonl);
    int count = 0;
    for (char *p = text, *nl; p && *p; p = nl + 1) {
        if (!(nl = strchr(p, '\n')) || count == cap) return -1;
        json_error_t e;
        lines[count] = json_loadb(p, (size_t)(nl - p), 0, &e);
        if (!lines[count++]) return -1;
    }
    return count;
}

static void free_lines(json_t **lines, int n) {
    for (int i = 0; i < n; i++) json_decref(lines[i]);
}

static int64_t step_of(json_t *o) { return json_integer_value(json_object_get(o, "step")); }

/* ---- the metrics log ---------------------------------------------------------------------------- */

static const char *names[] = {"loss", "lr", "grad \"norm\"\\", "tiny", "huge"};
static const double values[3][5] = {
    {0.5, 1e-4, 0.1, 1e-300, 1.7976931348623157e308},
    {1.0 / 3.0, NAN, -2.5, -0.0, INFINITY},
    {0.0412, 123456789012345678.0, 2.0 / 3.0, 5e-324, -INFINITY},
};
static const int64_t steps[3] = {1, 2, 10};

static void test_crc(void) {
    TEST_COND("crc32c(\"123456789\")", gd_crc32c("123456789", 9) == 0xE3069283u);
    uint8_t zeros[32] = {0};
    TEST_COND("crc32c(32 zero bytes)", gd_crc32c(zeros, 32) == 0x8A9136AAu);
    TEST_COND("crc32c in pieces", gd_crc32c_update(gd_crc32c("1234", 4), "56789", 5) ==
                                      0xE3069283u);
    TEST_COND("crc32c of nothing", gd_crc32c("", 0) == 0);
    TEST_COND("mask", gd_crc32c_mask(0) == 0xa282ead8u &&
                          gd_crc32c_mask(0x80000001u) == ((0x00010000u | 0x00030000u) +
                                                          0xa282ead8u));
}

static void test_log(void) {
    gd_error err = {0};
    gd_metrics *m = NULL;
    double t0 = (double)time(NULL);
    TEST_COND("open creates the run folder", gd_metrics_open(&m, run, 0, &err) == GD_OK && m);
    for (int i = 0; i < 3; i++)
        TEST_COND("log", gd_metrics_log(m, steps[i], names, values[i], 5, &err) == GD_OK);
    const char *bad[2] = {"loss", "step"};
    TEST_COND("reserved name refused", gd_metrics_log(m, 11, bad, values[0], 2, &err) ==
                                           GD_ERR_ARG && strstr(err.msg, "metrics.jsonl"));
    const char *dup[2] = {"loss", "loss"};
    TEST_COND("duplicate name refused",
              gd_metrics_log(m, 11, dup, values[0], 2, &err) == GD_ERR_ARG);
    const char *ev_path = gd_metrics_event_path(m);
    TEST_COND("event file name", strstr(ev_path, "/tb/events.out.tfevents.") &&
                                     strstr(ev_path, ".gmmdiff"));
    char ev_copy[512];
    snprintf(ev_copy, sizeof ev_copy, "%s", ev_path);
    gd_metrics_close(m);
    gd_metrics_close(NULL);

    /* the event file: a version event, then one scalar event per value, in order */
    static event ev[64];
    int n = read_events(ev_copy, ev, 64);
    TEST_COND("event file reads back with good CRCs", n == 1 + 3 * 5);
    if (n != 16) return;
    TEST_COND("first event: file_version", !strcmp(ev[0].version, "brain.Event:2") &&
                                               ev[0].nvalues == 0 &&
                                               fabs(ev[0].wall_time - t0) < 5);
    int good = 1;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 5; j++) {
            const event *e = &ev[1 + 5 * i + j];
            float want = (float)values[i][j];
            good &= e->nvalues == 1 && e->step == steps[i] && !strcmp(e->tag, names[j]) &&
                    (isnan(want) ? isnan(e->value) : e->value == want) &&
                    e->session_status == -1 && fabs(e->wall_time - t0) < 5;
        }
    TEST_COND("scalar events: tag, step, float32 value, wall_time", good);

    /* metrics.jsonl: one object per call; values exact, NaN and Inf as null */
    json_t *lines[8];
    n = read_jsonl(lines, 8);
    TEST_COND("metrics.jsonl: 3 lines of JSON", n == 3);
    good = n == 3;
    for (int i = 0; i < n; i++) {
        json_t *o = lines[i];
        double t = json_number_value(json_object_get(o, "time"));
        good &= step_of(o) == steps[i] && fabs(t - t0) < 5 && json_object_size(o) == 7;
        for (int j = 0; j < 5; j++) {
            json_t *v = json_object_get(o, names[j]);
            double want = values[i][j];
            good &= isfinite(want) ? json_is_number(v) && json_number_value(v) == want &&
                                         signbit(json_number_value(v)) == signbit(want)
                                   : json_is_null(v);
        }
    }
    TEST_COND("metrics.jsonl: step, time, round-trip values, null for NaN/Inf", good);
    printf("  %s", slurp(jsonl));
    free_lines(lines, n);
}

static void test_truncate_and_resume(void) {
    gd_error err = {0};
    json_t *lines[8];
    append(jsonl, "{\"step\": 11, \"ti"); /* a write cut short */
    TEST_COND("truncate_after", gd_metrics_truncate_after(run, 2, &err) == GD_OK);
    int n = read_jsonl(lines, 8);
    TEST_COND("truncate_after keeps steps <= 2, drops the torn line",
              n == 2 && step_of(lines[0]) == 1 && step_of(lines[1]) == 2);
    free_lines(lines, n > 0 ? n : 0);

    char other[400];
    snprintf(other, sizeof other, "%s/bad", dir);
    gd_metrics *m = NULL;
    TEST_COND("open another run", gd_metrics_open(&m, other, 0, &err) == GD_OK);
    gd_metrics_close(m);
    char bad_path[420];
    snprintf(bad_path, sizeof bad_path, "%s/metrics.jsonl", other);
    append(bad_path, "{\"step\": 1}\n[1, 2]\n{\"step\": 3}\n");
    gd_status s = gd_metrics_truncate_after(other, 1, &err);
    TEST_COND("a bad line is refused, naming the file and line",
              s == GD_ERR_FORMAT && strstr(err.msg, bad_path) && strstr(err.msg, ":2:"));
    printf("  bad line -> %s\n", err.msg);
    TEST_COND("... and the file is unchanged",
              !strcmp(slurp(bad_path), "{\"step\": 1}\n[1, 2]\n{\"step\": 3}\n"));
    snprintf(other, sizeof other, "%s/metrics.jsonl/run", run); /* under a file */
    m = (gd_metrics *)&err;
    s = gd_metrics_open(&m, other, 0, &err);
    TEST_COND("open under a file fails, naming the folder",
              s == GD_ERR_IO && m == NULL && strstr(err.msg, other));
    printf("  unopenable -> %s\n", err.msg);
    snprintf(other, sizeof other, "%s/none", dir);
    TEST_COND("no metrics.jsonl: nothing to do", gd_metrics_truncate_after(other, 1, &err) ==
                                                     GD_OK);

    /* resume: the torn tail is cut, lines are appended, a new event file starts with START */
    append(jsonl, "{\"step\": 3, \"lo");
    TEST_COND("resume open", gd_metrics_open(&m, run, 1, &err) == GD_OK);
    double v[1] = {0.25};
    TEST_COND("log after resume", gd_metrics_log(m, 3, names, v, 1, &err) == GD_OK);
    char ev_path[512];
    snprintf(ev_path, sizeof ev_path, "%s", gd_metrics_event_path(m));
    gd_metrics_close(m);
    n = read_jsonl(lines, 8);
    TEST_COND("metrics.jsonl after resume: steps 1, 2, 3",
              n == 3 && step_of(lines[0]) == 1 && step_of(lines[1]) == 2 &&
                  step_of(lines[2]) == 3 &&
                  json_number_value(json_object_get(lines[2], "loss")) == 0.25);
    free_lines(lines, n > 0 ? n : 0);
    static event ev[8];
    n = read_events(ev_path, ev, 8);
    TEST_COND("resumed event file: version, START at step 3, the scalar",
              n == 3 && !strcmp(ev[0].version, "brain.Event:2") &&
                  ev[1].session_status == 1 && ev[1].step == 3 && ev[1].nvalues == 0 &&
                  ev[2].step == 3 && !strcmp(ev[2].tag, "loss") && ev[2].value == 0.25f);
    printf("  resumed event file: %s\n", ev_path);
}

/* ---- the progress line -------------------------------------------------------------------------- */

static void test_progress(void) {
    FILE *f = tmpfile();
    gd_progress p;
    gd_progress_begin_at(&p, f, 100, 0, GD_PROGRESS_AUTO, 0.0);
    TEST_COND("a file is not a terminal; every = 5", p.is_tty == 0 && p.every == 5);
    for (int s = 1; s <= 100; s++) gd_progress_update_at(&p, s, 1.0 / s, "lr 1e-4", 0.1 * s);
    gd_progress_end_at(&p, 10.0);
    rewind(f);
    char line[300];
    int count = 0, has50 = 0, hasend = 0;
    while (fgets(line, sizeof line, f)) {
        count++;
        if (!strcmp(line, "step 50/100 [##########..........] 10.0 it/s ETA 00:05 loss 0.02 "
                          "lr 1e-4\n"))
            has50 = 1;
        if (!strcmp(line, "step 100/100 [####################] 10.0 it/s in 00:10 loss 0.01 "
                          "lr 1e-4\n"))
            hasend = 1;
        if (count == 10) printf("  %s", line);
    }
    TEST_COND("plain mode: a line every 5 steps and the end", count == 20);
    TEST_COND("plain mode: step 50 line", has50);
    TEST_COND("plain mode: final line with the elapsed time", hasend);
    fclose(f);

    /* terminal mode: redrawn with '\r' at most every 0.1 s (steps 1/32 s apart: every 4th) */
    f = tmpfile();
    gd_progress_begin_at(&p, f, 200000, 1000, 1, 0.0);
    for (int s = 1001; s <= 1100; s++) gd_progress_update_at(&p, s, NAN, NULL, (s - 1000) / 32.0);
    gd_progress_update_at(&p, 1101, 0.5, "ema 0.9", 100 / 32.0 + 1.0);
    gd_progress_end_at(&p, 100 / 32.0 + 1.0);
    rewind(f);
    static char buf[1 << 14];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    int draws = 0;
    for (char *c = buf; *c; c++) draws += *c == '\r';
    TEST_COND("terminal mode: 25 + 2 redraws", draws == 27);
    TEST_COND("terminal mode: ends with one newline", n > 0 && buf[n - 1] == '\n' &&
                                                          strchr(buf, '\n') == buf + n - 1);
    const char *want = "\rstep 1049/200000 [....................] 32.0 it/s ETA 1:43:37 loss nan\r";
    TEST_COND("terminal mode: step 1049 drawn with an H:MM:SS ETA and a nan loss",
              strstr(buf, want) != NULL);
    char *last = strrchr(buf, '\r');
    TEST_COND("terminal mode: final line, blanking the longer line before",
              last && !strcmp(last, "\rstep 1101/200000 [....................] 26.8 it/s in "
                                    "00:04 loss 0.5 ema 0.9   \n")); /* blanks cover "ETA 2:03:32" */
    printf("  %s", last + 1);

    f = tmpfile();
    gd_progress_begin_at(&p, f, 10, 0, 0, 0.0);
    gd_progress_update_at(&p, 1, 2.0, NULL, 4.0);
    gd_progress_end_at(&p, 4.0);
    rewind(f);
    TEST_COND("slow work in s/it", fgets(line, sizeof line, f) && strstr(line, "4.0 s/it"));
    fclose(f);
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(jsonl, sizeof jsonl, "%s/metrics.jsonl", run);
    test_crc();
    test_log();
    test_truncate_and_resume();
    test_progress();
    if (getenv("GD_TEST_KEEP")) {
        printf("kept %s\n", dir);
    } else {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0) printf("warning: could not remove %s\n", dir);
    }
    return gd_test_report("test_metrics");
}
