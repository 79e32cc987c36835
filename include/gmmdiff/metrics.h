/* metrics.h - the metrics log of a training run: run_dir/metrics.jsonl (one JSON object per
 * logged step) and a TensorBoard event file under run_dir/tb/, both written by one call.
 *
 * metrics.jsonl, one line per gd_metrics_log call:
 *     {"step": 120, "time": 1716200000.123, "loss": 0.0412, "lr": 0.0001}
 * "time" is the Unix wall time of the call in seconds (millisecond resolution), the same clock as
 * TensorBoard's wall_time. Finite values are written with the fewest digits that read back as
 * the same double; NaN and +-Inf are written as null. Names are JSON-escaped.
 *
 * The event file is run_dir/tb/events.out.tfevents.<unix time>.<hostname>.<pid>.gmmdiff (".1",
 * ".2", ... appended if that name is taken). It is a sequence of TFRecords (uint64 length,
 * masked CRC32C of the length, data, masked CRC32C of the data; little-endian) whose data are
 * hand-encoded tensorflow.Event protobufs: first {wall_time, file_version: "brain.Event:2"},
 * then one {wall_time, step, summary {value {tag, simple_value}}} per scalar. Values are float32
 * in TensorBoard (its format's simple_value) and full doubles in metrics.jsonl.
 *
 * Both files are flushed to the operating system (fflush) after every gd_metrics_log, so a
 * killed process loses nothing already logged; they are not fsync'ed on every call (that costs
 * milliseconds per step on most disks), so a power failure can lose the last seconds of lines.
 *
 * Resuming: call gd_metrics_truncate_after(run_dir, resumed_step) first, which drops the lines
 * logged after the checkpoint being resumed (and any torn last line), then
 * gd_metrics_open(.., resume = 1), which appends to metrics.jsonl and starts a new event file. The
 * first event written after a resuming open is a SessionLog START at the first logged step, which
 * makes TensorBoard discard the old file's events at that step and later, so neither log shows a
 * step twice.
 */
#ifndef GMMDIFF_METRICS_H
#define GMMDIFF_METRICS_H

#include "gmmdiff/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gd_metrics gd_metrics;

/* Creates run_dir (one level) and run_dir/tb if missing, opens run_dir/metrics.jsonl (truncated,
 * or appended to when resume is non-zero) and creates a new event file. On failure *m is NULL
 * and nothing is left open. */
gd_status gd_metrics_open(gd_metrics **m, const char *run_dir, int resume, gd_error *err);

/* Logs n named scalars at step: one JSONL line and n TensorBoard scalar events, then flushes
 * both files. names[i] must be non-empty and neither "step" nor "time" (GD_ERR_ARG otherwise). */
gd_status gd_metrics_log(gd_metrics *m, int64_t step, const char *const *names,
                         const double *values, int n, gd_error *err);

/* Closes both files and frees m. NULL-safe. Everything logged is already flushed. */
void gd_metrics_close(gd_metrics *m);

/* Paths of the two files m writes (valid until gd_metrics_close). */
const char *gd_metrics_jsonl_path(const gd_metrics *m);
const char *gd_metrics_event_path(const gd_metrics *m);

/* Rewrites run_dir/metrics.jsonl atomically keeping only the lines whose "step" is <= step. A
 * last line without its newline (a write cut short) is dropped; any other line that is not a
 * JSON object with an integer "step" is a GD_ERR_FORMAT naming the file and line, and the file
 * is left as it was. A missing metrics.jsonl is not an error (nothing to truncate). */
gd_status gd_metrics_truncate_after(const char *run_dir, int64_t step, gd_error *err);

/* ---- CRC32C (Castagnoli, reflected polynomial 0x82F63B78), as TFRecord uses it ---------------
 * gd_crc32c_update(0, ...) starts a checksum; feeding the data in pieces gives the same result
 * as one call. The mask is TFRecord's: ((crc >> 15) | (crc << 17)) + 0xa282ead8. */
uint32_t gd_crc32c_update(uint32_t crc, const void *data, size_t n);
uint32_t gd_crc32c(const void *data, size_t n);
uint32_t gd_crc32c_mask(uint32_t crc);

#ifdef __cplusplus
}
#endif
#endif
