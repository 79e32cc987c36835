/* progress.h - the progress line of long work (training, sampling): step, a bar, it/s, ETA, loss.
 *
 * On a terminal one line is redrawn in place with '\r' (at most 10 times a second, and always
 * for the last step):
 *     step 120/1500 [#...................] 8.0 it/s ETA 02:52 loss 0.0412 lr 1e-4
 * When the output is not a terminal (a log file, a pipe) the same fields are printed as a plain
 * line every `every` steps and for the last step. gd_progress_end prints the final line with
 * the elapsed time in place of the ETA ("in 03:07") and ends it with a newline.
 *
 * it/s is a time-weighted moving average: each update moves it towards the rate since the
 * previous update by dt / (dt + 5 s), so it follows the last few seconds of work. The ETA is
 * (total - step) / it/s, shown as MM:SS or H:MM:SS ("--:--" before the first rate).
 * Time is CLOCK_MONOTONIC; the _at functions take it as an argument instead (tests, replays).
 */
#ifndef GMMDIFF_PROGRESS_H
#define GMMDIFF_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GD_PROGRESS_AUTO (-1) /* tty argument: isatty(fileno(out)) decides */

/* Fields are set by gd_progress_begin; `every` may be changed after it. */
typedef struct gd_progress {
    FILE *out;
    int is_tty;
    int64_t total;       /* the step the work ends at */
    int64_t start;       /* the step it starts from (a resumed run starts past 0) */
    int64_t every;       /* plain mode: print every this many steps */
    int64_t step;        /* the last step given to update */
    int64_t printed;     /* the last step printed (start - 1 before any) */
    int64_t rate_step;   /* the step at t_last, where the next rate interval starts */
    double rate;         /* steps per second, moving average; 0 until known */
    double t_begin, t_last, t_drawn; /* seconds: begin, last update, last terminal redraw */
    int drawn_len;       /* length of the line on the terminal, to blank leftovers */
    double loss;
    char extra[96];
} gd_progress;

/* out NULL means stderr; tty is 0, 1 or GD_PROGRESS_AUTO. `every` starts as about a twentieth
 * of the steps, rounded down to 1, 2 or 5 times a power of ten. */
void gd_progress_begin(gd_progress *p, FILE *out, int64_t total, int64_t start, int tty);
/* step: steps done so far; loss: printed as "loss %.4g" (NaN shows "nan"); extra: NULL or text
 * appended to the line (truncated to 95 bytes). */
void gd_progress_update(gd_progress *p, int64_t step, double loss, const char *extra);
void gd_progress_end(gd_progress *p);

void gd_progress_begin_at(gd_progress *p, FILE *out, int64_t total, int64_t start, int tty,
                          double now);
void gd_progress_update_at(gd_progress *p, int64_t step, double loss, const char *extra,
                           double now);
void gd_progress_end_at(gd_progress *p, double now);

/* seconds on CLOCK_MONOTONIC */
double gd_monotonic_seconds(void);

#ifdef __cplusplus
}
#endif
#endif
