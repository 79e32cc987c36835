/* fuzz_util.h - what the libFuzzer harnesses share (header only: each harness is one file).
 *
 * Most parsers take a path. The input goes into a memfd, never onto the disk: a parser opens it
 * as /proc/self/fd/N, or, where it reads a fixed name inside a folder, through a symlink of that
 * name in a per-process temporary folder made once (removed at exit, with whatever valid files
 * the harness put beside the input). /proc/self resolves in the process that opens it, so the
 * symlink needs no rewriting when the memfd's content changes.
 *
 * GD_FUZZ_VERBOSE=1: every refusal's message is printed (fuzz_note), to see what a reproducer
 * or a seed does.
 * GD_FUZZ_SEED_OUT=<dir>: a harness that builds valid files at start-up (a saved condition, a
 * training state) also copies them there, which is how tests/fuzz/seeds/ got them. */
#ifndef GD_FUZZ_UTIL_H
#define GD_FUZZ_UTIL_H

#define _GNU_SOURCE /* memfd_create, nftw */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gmmdiff/core.h"

#define FUZZ_UNUSED __attribute__((unused))

/* aborts the harness (a bug of the harness, not of the library) */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz harness: %s:%d: %s failed\n", __FILE__, __LINE__, #cond);        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)
/* the same for a library call made at start-up, printing its message */
#define FUZZ_OK(call, err)                                                                         \
    do {                                                                                           \
        if ((call) != GD_OK) {                                                                     \
            fprintf(stderr, "fuzz harness: %s:%d: %s: %s\n", __FILE__, __LINE__, #call,            \
                    (err).msg);                                                                    \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static char fuzz_tmp[64];

static int fuzz_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f) {
    (void)sb, (void)flag, (void)f;
    remove(p);
    return 0;
}

static void fuzz_tmp_remove(void) {
    if (fuzz_tmp[0]) nftw(fuzz_tmp, fuzz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* the per-process temporary folder (made on the first call) */
static FUZZ_UNUSED const char *fuzz_tmp_dir(void) {
    if (!fuzz_tmp[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(fuzz_tmp, sizeof fuzz_tmp, "%s/gd_fuzz_XXXXXX", base && *base ? base : "/tmp");
        FUZZ_CHECK(mkdtemp(fuzz_tmp) != NULL);
        atexit(fuzz_tmp_remove);
    }
    return fuzz_tmp;
}

/* fuzz_tmp_dir()/rel into out */
static FUZZ_UNUSED void fuzz_tmp_path(char *out, size_t cap, const char *rel) {
    FUZZ_CHECK(snprintf(out, cap, "%s/%s", fuzz_tmp_dir(), rel) < (int)cap);
}

/* a memfd for the input; path gets /proc/self/fd/N */
static FUZZ_UNUSED int fuzz_memfd(const char *name, char path[64]) {
    int fd = memfd_create(name, MFD_CLOEXEC);
    FUZZ_CHECK(fd >= 0);
    snprintf(path, 64, "/proc/self/fd/%d", fd);
    return fd;
}

/* replaces the memfd's content by data[0..size) */
static FUZZ_UNUSED void fuzz_memfd_set(int fd, const uint8_t *data, size_t size) {
    FUZZ_CHECK(ftruncate(fd, 0) == 0);
    size_t done = 0;
    while (done < size) {
        ssize_t w = pwrite(fd, data + done, size - done, (off_t)done);
        FUZZ_CHECK(w > 0);
        done += (size_t)w;
    }
}

/* link_path becomes a symlink to the memfd fd */
static FUZZ_UNUSED void fuzz_link_memfd(int fd, const char *link_path) {
    char target[64];
    snprintf(target, sizeof target, "/proc/self/fd/%d", fd);
    unlink(link_path);
    FUZZ_CHECK(symlink(target, link_path) == 0);
}

/* link_path becomes a symlink to the (absolute or tmp-relative) file target */
static FUZZ_UNUSED void fuzz_link(const char *target, const char *link_path) {
    unlink(link_path);
    FUZZ_CHECK(symlink(target, link_path) == 0);
}

/* copies the file at path to $GD_FUZZ_SEED_OUT/name when that is set */
static FUZZ_UNUSED void fuzz_export_seed(const char *path, const char *name) {
    const char *out = getenv("GD_FUZZ_SEED_OUT");
    if (!out || !*out) return;
    char dst[4096];
    FUZZ_CHECK(snprintf(dst, sizeof dst, "%s/%s", out, name) < (int)sizeof dst);
    FILE *in = fopen(path, "rb"), *o = fopen(dst, "wb");
    FUZZ_CHECK(in && o);
    char buf[65536];
    size_t r;
    while ((r = fread(buf, 1, sizeof buf, in)) > 0) FUZZ_CHECK(fwrite(buf, 1, r, o) == r);
    fclose(in);
    FUZZ_CHECK(fclose(o) == 0);
}

/* prints err's message when GD_FUZZ_VERBOSE is set; returns s */
static FUZZ_UNUSED gd_status fuzz_note(gd_status s, const gd_error *err) {
    static int verbose = -1;
    if (verbose < 0) verbose = getenv("GD_FUZZ_VERBOSE") != NULL;
    if (verbose) fprintf(stderr, "%s: %s\n", gd_status_name(s), s ? err->msg : "accepted");
    return s;
}

/* data as a NUL-terminated string (malloc'd; the caller frees it) */
static FUZZ_UNUSED char *fuzz_cstr(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    FUZZ_CHECK(s);
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif
