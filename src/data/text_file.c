/* text_file.c - whole text files, joined paths and lines for the readers (see text_file.h). */
#include "data/text_file.h"

#include "gmmdiff/readers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

gd_status gd_file_read(const char *path, size_t limit, char **buf, size_t *len, gd_error *err) {
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return gd_error_set(err, GD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    gd_status s = GD_OK;
    size_t cap = 0, n = 0;
    char *b = NULL;
    for (;;) {
        if (n + 65536 + 1 > cap) {
            size_t nc = cap ? 2 * cap : 1 << 20;
            char *q = realloc(b, nc);
            if (!q) {
                s = gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", path);
                goto done;
            }
            b = q;
            cap = nc;
        }
        size_t r = fread(b + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0 || n > limit) break;
    }
    if (ferror(f)) {
        s = gd_error_set(err, GD_ERR_IO, "%s: read failed", path);
        goto done;
    }
    if (n > limit) {
        s = gd_error_set(err, GD_ERR_NOMEM, "%s: larger than the limit of %zu bytes", path, limit);
        goto done;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    b = NULL;
done:
    fclose(f);
    free(b);
    return s;
}

gd_status gd_text_read(const char *path, char **buf, size_t *len, gd_error *err) {
    gd_status s = gd_file_read(path, GD_READER_MAX_TEXT, buf, len, err);
    if (!s && memchr(*buf, '\0', *len)) {
        free(*buf);
        *buf = NULL;
        *len = 0;
        return gd_error_set(err, GD_ERR_FORMAT, "%s: holds a NUL byte: not a text file", path);
    }
    return s;
}

gd_status gd_path_join(char *out, size_t cap, const char *a, const char *b, gd_error *err) {
    int k = snprintf(out, cap, "%s/%s", a, b);
    if (k < 0 || (size_t)k >= cap)
        return gd_error_set(err, GD_ERR_ARG, "%s/%s: path too long", a, b);
    return GD_OK;
}

char *gd_text_next_line(char **p) {
    char *s = *p;
    if (!s || !*s) return NULL;
    char *e = strchr(s, '\n');
    if (e) {
        *e = '\0';
        *p = e + 1;
    } else {
        *p = s + strlen(s);
    }
    size_t l = strlen(s);
    if (l && s[l - 1] == '\r') s[l - 1] = '\0';
    return s;
}
