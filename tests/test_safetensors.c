/* test_safetensors.c - round trips, dtype conversion, and every kind of bad file giving a
 * status and a message that names the file (and the tensor where there is one). */
#include "gmmdiff/safetensors.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/gd_test_st_XXXXXX";

static const char *path_of(const char *name) {
    static char buf[256];
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

/* writes header JSON (padded) + data bytes as a raw safetensors file */
static void write_raw(const char *path, const char *json, const void *data, size_t nbytes,
                      long header_len_override) {
    FILE *f = fopen(path, "wb");
    uint64_t hl = header_len_override >= 0 ? (uint64_t)header_len_override : strlen(json);
    unsigned char le[8];
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)(hl >> (8 * i));
    fwrite(le, 1, 8, f);
    fwrite(json, 1, strlen(json), f);
    if (nbytes) fwrite(data, 1, nbytes, f);
    fclose(f);
}

/* expects opening path to fail with status want and a message containing both needles */
static void expect_open_fails(const char *label, const char *path, gd_status want,
                              const char *needle) {
    gd_safetensors st;
    gd_error err = {0};
    gd_status s = gd_st_open(&st, path, &err);
    char l[256];
    snprintf(l, sizeof l, "%s: refused with the right status", label);
    TEST_COND(l, s == want);
    snprintf(l, sizeof l, "%s: message names the file", label);
    TEST_COND(l, strstr(err.msg, path) != NULL);
    snprintf(l, sizeof l, "%s: message says '%s'", label, needle);
    TEST_COND(l, strstr(err.msg, needle) != NULL);
    printf("  %s -> %s\n", label, err.msg);
    gd_st_close(&st); /* safe after a failed open */
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    gd_error err = {0};

    /* round trip */
    float a[6] = {1, -2, 3.5f, 0, 1e-30f, -7}, b[1] = {42}, c[4] = {0.25f, 0.5f, 0.75f, 1};
    gd_st_entry e[3] = {{"layer.a", a, 2, (int64_t[]){2, 3}},
                        {"scalar", b, 0, NULL},
                        {"weird \"name\"\\", c, 1, (int64_t[]){4}}};
    TEST_COND("write three tensors", gd_st_write(path_of("ok.safetensors"), e, 3, &err) == GD_OK);
    gd_safetensors st;
    TEST_COND("open them", gd_st_open(&st, path_of("ok.safetensors"), &err) == GD_OK);
    TEST_COND("three tensors", st.n == 3);
    float ra[6] = {0}, rb[1] = {0}, rc[4] = {0};
    TEST_COND("read a with its shape",
              gd_st_read_f32(&st, "layer.a", ra, 2, (int64_t[]){2, 3}, &err) == GD_OK &&
                  !memcmp(ra, a, sizeof a));
    TEST_COND("read the scalar", gd_st_read_f32(&st, "scalar", rb, 0, NULL, &err) == GD_OK &&
                                     rb[0] == 42);
    TEST_COND("read an escaped name",
              gd_st_read_f32(&st, "weird \"name\"\\", rc, 1, (int64_t[]){4}, &err) == GD_OK &&
                  !memcmp(rc, c, sizeof c));
    gd_status s = gd_st_read_f32(&st, "layer.a", ra, 2, (int64_t[]){3, 2}, &err);
    TEST_COND("wrong shape is GD_ERR_SHAPE", s == GD_ERR_SHAPE);
    TEST_COND("wrong shape names the tensor", strstr(err.msg, "layer.a") != NULL);
    s = gd_st_read_f32(&st, "missing", ra, 0, NULL, &err);
    TEST_COND("a missing tensor is named", s == GD_ERR_SHAPE && strstr(err.msg, "missing"));
    gd_st_close(&st);
    gd_st_close(&st); /* twice is safe */

    TEST_COND("duplicate names are refused",
              gd_st_write(path_of("dup.safetensors"), (gd_st_entry[]){e[0], e[0]}, 2, &err) ==
                  GD_ERR_ARG);

    /* F16 and BF16 convert to float32 */
    uint16_t h[5] = {0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001}; /* 1, -2, 0.5, 65504, 2^-24 */
    uint16_t bf[2] = {0x3f80, 0xc040};                        /* 1, -3 */
    unsigned char raw[14];
    memcpy(raw, h, 10);
    memcpy(raw + 10, bf, 4);
    write_raw(path_of("half.safetensors"),
              "{\"h\":{\"dtype\":\"F16\",\"shape\":[5],\"data_offsets\":[0,10]},"
              "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[10,14]},"
              "\"__metadata__\":{\"format\":\"pt\"}}",
              raw, 14, -1);
    TEST_COND("open F16/BF16 file", gd_st_open(&st, path_of("half.safetensors"), &err) == GD_OK);
    float fh[5], fb[2];
    gd_st_read_f32(&st, "h", fh, 0, NULL, &err);
    gd_st_read_f32(&st, "b", fb, 0, NULL, &err);
    TEST_COND("F16 values", fh[0] == 1 && fh[1] == -2 && fh[2] == 0.5f && fh[3] == 65504 &&
                                fh[4] == 0x1p-24f);
    TEST_COND("BF16 values", fb[0] == 1 && fb[1] == -3);
    gd_st_close(&st);

    /* bad files */
    FILE *f = fopen(path_of("ok.safetensors"), "rb");
    unsigned char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    f = fopen(path_of("trunc.safetensors"), "wb");
    fwrite(buf, 1, n - 5, f);
    fclose(f);
    expect_open_fails("truncated data", path_of("trunc.safetensors"), GD_ERR_FORMAT, "truncated");
    f = fopen(path_of("short.safetensors"), "wb");
    fwrite(buf, 1, 5, f);
    fclose(f);
    expect_open_fails("shorter than a header", path_of("short.safetensors"), GD_ERR_FORMAT,
                      "too short");
    write_raw(path_of("hl.safetensors"), "{}", NULL, 0, 1L << 40);
    expect_open_fails("header length past the end", path_of("hl.safetensors"), GD_ERR_FORMAT,
                      "header length");
    write_raw(path_of("json.safetensors"), "{\"a\": [1, 2", NULL, 0, -1);
    expect_open_fails("header not JSON", path_of("json.safetensors"), GD_ERR_FORMAT, "JSON");
    write_raw(path_of("dtype.safetensors"),
              "{\"a\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,4]}}", "abcd", 4, -1);
    expect_open_fails("unknown dtype", path_of("dtype.safetensors"), GD_ERR_FORMAT, "'a'");
    write_raw(path_of("size.safetensors"),
              "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", "abcdefgh", 8,
              -1);
    expect_open_fails("size disagrees with shape", path_of("size.safetensors"), GD_ERR_FORMAT,
                      "3 elements");
    write_raw(path_of("neg.safetensors"),
              "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", "abcd", 4, -1);
    expect_open_fails("negative dimension", path_of("neg.safetensors"), GD_ERR_FORMAT, "shape");
    write_raw(path_of("keys.safetensors"), "{\"a\":{\"dtype\":\"F32\"}}", NULL, 0, -1);
    expect_open_fails("missing keys", path_of("keys.safetensors"), GD_ERR_FORMAT, "data_offsets");
    expect_open_fails("no such file", path_of("nope.safetensors"), GD_ERR_IO, "cannot open");

    /* a failed write leaves no temporary file behind and the target untouched */
    mkdir(path_of("adir"), 0755);
    s = gd_st_write(path_of("adir"), e, 1, &err);
    TEST_COND("writing onto a directory fails with GD_ERR_IO", s == GD_ERR_IO);
    TEST_COND("that message names the path", strstr(err.msg, path_of("adir")) != NULL);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls %s | grep -q tmp", dir);
    TEST_COND("no temporary file is left", system(cmd) != 0);
    s = gd_st_write(path_of("no/such/dir/x.safetensors"), e, 1, &err);
    TEST_COND("writing into a missing folder fails with GD_ERR_IO", s == GD_ERR_IO);

    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) printf("warning: could not remove %s\n", dir);
    return gd_test_report("test_safetensors");
}
