/* tbevents.h - private to src/io: hand-encoded TensorBoard Event protobufs and TFRecord framing
 * (see metrics.h for the file layout). */
#ifndef GMMDIFF_TBEVENTS_H
#define GMMDIFF_TBEVENTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Bytes an encoded event needs at most, for a tag of tag_len bytes. */
#define GD_TB_EVENT_MAX(tag_len) ((size_t)(tag_len) + 64)

/* Each encoder writes one tensorflow.Event into buf (GD_TB_EVENT_MAX bytes at least) and
 * returns its length. */
/* {wall_time, file_version: "brain.Event:2"} */
size_t gd_tb_encode_version(uint8_t *buf, double wall_time);
/* {wall_time, step, summary {value {tag, simple_value}}} */
size_t gd_tb_encode_scalar(uint8_t *buf, double wall_time, int64_t step, const char *tag,
                           size_t tag_len, float value);
/* {wall_time, step, session_log {status: START}} */
size_t gd_tb_encode_session_start(uint8_t *buf, double wall_time, int64_t step);

/* Appends one TFRecord holding data[0..n) to f. Returns 0, or -1 if a write failed. */
int gd_tb_write_record(FILE *f, const uint8_t *data, size_t n);

#endif
