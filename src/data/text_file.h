/* text_file.h - private helpers shared by the readers: whole text files, joined paths and
 * line-by-line tokenising. Not a public header. */
#ifndef GMMDIFF_DATA_TEXT_FILE_H
#define GMMDIFF_DATA_TEXT_FILE_H

#include "gmmdiff/core.h"

#include <stddef.h>

/* Reads path whole into a malloc'd *buf of *len bytes, followed by a NUL that *len excludes;
 * refuses a file over `limit` bytes (GD_ERR_NOMEM naming it). Any bytes: PNGs, logs, text. */
gd_status gd_file_read(const char *path, size_t limit, char **buf, size_t *len, gd_error *err);
/* gd_file_read with the limit GD_READER_MAX_TEXT, refusing a file that holds a NUL byte. */
gd_status gd_text_read(const char *path, char **buf, size_t *len, gd_error *err);

/* out = a + "/" + b; GD_ERR_ARG when it does not fit in cap bytes. */
gd_status gd_path_join(char *out, size_t cap, const char *a, const char *b, gd_error *err);

/* Cuts the next line off *p (a "\n" or "\r\n" ending is replaced by NUL) and returns it, or
 * NULL at the end of the text. */
char *gd_text_next_line(char **p);

#endif
