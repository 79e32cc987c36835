/* file.c - atomic whole-file writes (temporary file in the same folder, fsync, rename). */
#include "gmmdiff/core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

gd_status gd_write_file_atomic(const char *path, const void *const *parts, const size_t *sizes,
                               int nparts, gd_error *err) {
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return gd_error_set(err, GD_ERR_ARG, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return gd_error_set(err, GD_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    for (int i = 0; i < nparts; i++) {
        const unsigned char *p = parts[i];
        size_t left = sizes[i];
        while (left) {
            ssize_t w = write(fd, p, left);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                int e = errno;
                close(fd);
                unlink(tmp);
                return gd_error_set(err, GD_ERR_IO, "%s: write failed: %s", path,
                                    w < 0 ? strerror(e) : "no progress");
            }
            p += w;
            left -= (size_t)w;
        }
    }
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return gd_error_set(err, GD_ERR_IO, "%s: fsync failed: %s", path, strerror(e));
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return gd_error_set(err, GD_ERR_IO, "%s: cannot replace: %s", path, strerror(e));
    }
    return GD_OK;
}


gd_status gd_write_text_atomic(const char *path, const char *text, gd_error *err) {
    if (!text) return gd_error_set(err, GD_ERR_NOMEM, "%s: out of memory", path);
    const void *parts[2] = {text, "\n"};
    size_t sizes[2] = {strlen(text), 1};
    return gd_write_file_atomic(path, parts, sizes, 2, err);
}
