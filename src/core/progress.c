/* progress.c - the progress line of long work: redrawn in place on a terminal, plain lines
 * otherwise (see progress.h). */
#include "gmmdiff/progress.h"
#include "gmmdiff/core.h"

#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BAR_WIDTH 20
#define RATE_TAU 5.0      /* seconds the it/s average looks back over */
#define REDRAW_GAP 0.1    /* seconds between terminal redraws */

double gd_monotonic_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* about n / 20, rounded down to 1, 2 or 5 times a power of ten */
static int64_t default_every(int64_t n) {
    int64_t target = n / 20, e = 1;
    while (e * 10 <= target) e *= 10;
    if (e * 5 <= target) return e * 5;
    if (e * 2 <= target) return e * 2;
    return e;
}

void gd_progress_begin_at(gd_progress *p, FILE *out, int64_t total, int64_t start, int tty,
                          double now) {
    GD_ASSERT(p && start >= 0 && total >= start);
    GD_ASSERT(tty == 0 || tty == 1 || tty == GD_PROGRESS_AUTO);
    memset(p, 0, sizeof *p);
    p->out = out ? out : stderr;
    p->is_tty = tty == GD_PROGRESS_AUTO ? isatty(fileno(p->out)) : tty;
    p->total = total;
    p->start = p->step = p->printed = p->rate_step = start;
    p->every = default_every(total - start);
    p->t_begin = p->t_last = now;
    p->t_drawn = -1e300;
    p->loss = NAN;
}

void gd_progress_begin(gd_progress *p, FILE *out, int64_t total, int64_t start, int tty) {
    gd_progress_begin_at(p, out, total, start, tty, gd_monotonic_seconds());
}

/* MM:SS, or H:MM:SS from an hour up */
static void format_time(char *buf, size_t cap, double seconds) {
    if (!(seconds >= 0) || seconds > 999 * 3600.0) {
        snprintf(buf, cap, "--:--");
        return;
    }
    long s = (long)(seconds + 0.5);
    if (s >= 3600)
        snprintf(buf, cap, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, cap, "%02ld:%02ld", s / 60, s % 60);
}

/* the line without '\r' or '\n'; final: elapsed time in place of the ETA */
static int format_line(const gd_progress *p, char *buf, size_t cap, int final, double now) {
    int64_t step = p->step < p->total ? p->step : p->total;
    int fill = p->total > 0 ? (int)(BAR_WIDTH * step / p->total) : BAR_WIDTH;
    char bar[BAR_WIDTH + 1], rate[32], when[32];
    for (int i = 0; i < BAR_WIDTH; i++) bar[i] = i < fill ? '#' : '.';
    bar[BAR_WIDTH] = '\0';
    if (p->rate <= 0) snprintf(rate, sizeof rate, "-.- it/s");
    else if (p->rate >= 1) snprintf(rate, sizeof rate, "%.1f it/s", p->rate);
    else snprintf(rate, sizeof rate, "%.1f s/it", 1.0 / p->rate);
    if (final) {
        memcpy(when, "in ", 3);
        format_time(when + 3, sizeof when - 3, now - p->t_begin);
    } else {
        memcpy(when, "ETA ", 4);
        format_time(when + 4, sizeof when - 4,
                    p->rate > 0 ? (double)(p->total - step) / p->rate : -1);
    }
    int n = snprintf(buf, cap, "step %lld/%lld [%s] %s %s loss %.4g%s%s", (long long)p->step,
                     (long long)p->total, bar, rate, when, p->loss, p->extra[0] ? " " : "",
                     p->extra);
    return n < (int)cap ? n : (int)cap - 1;
}

static void draw(gd_progress *p, int final, double now) {
    char line[256];
    int n = format_line(p, line, sizeof line, final, now);
    if (p->is_tty) {
        /* blanks cover what is left of a longer previous line */
        int pad = p->drawn_len > n ? p->drawn_len - n : 0;
        fprintf(p->out, "\r%s%*s%s", line, pad, "", final ? "\n" : "");
        p->drawn_len = final ? 0 : n;
        p->t_drawn = now;
    } else {
        fprintf(p->out, "%s\n", line);
    }
    p->printed = p->step;
    fflush(p->out);
}

void gd_progress_update_at(gd_progress *p, int64_t step, double loss, const char *extra,
                           double now) {
    GD_ASSERT(p && p->out);
    int64_t every = p->every > 0 ? p->every : 1;
    double dt = now - p->t_last;
    if (dt > 0 && step > p->rate_step) {
        double inst = (double)(step - p->rate_step) / dt;
        p->rate = p->rate > 0 ? p->rate + dt / (dt + RATE_TAU) * (inst - p->rate) : inst;
        p->t_last = now;
        p->rate_step = step;
    }
    p->step = step;
    p->loss = loss;
    snprintf(p->extra, sizeof p->extra, "%s", extra ? extra : "");
    if (p->is_tty) {
        if (now - p->t_drawn >= REDRAW_GAP || step >= p->total) draw(p, 0, now);
    } else if (step < p->total && step / every > p->printed / every) {
        draw(p, 0, now); /* the last step is printed by gd_progress_end */
    }
}

void gd_progress_update(gd_progress *p, int64_t step, double loss, const char *extra) {
    gd_progress_update_at(p, step, loss, extra, gd_monotonic_seconds());
}

void gd_progress_end_at(gd_progress *p, double now) {
    GD_ASSERT(p && p->out);
    draw(p, 1, now);
}

void gd_progress_end(gd_progress *p) { gd_progress_end_at(p, gd_monotonic_seconds()); }
