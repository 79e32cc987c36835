/* test_npy.c - .npy round trip, the dtypes NumPy writes, and bad files named in the message. */
#include "gmmdiff/npy.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[] = "/tmp/gd_test_npy_XXXXXX";

static const char *at(const char *name) {
    static char buf[256];
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

/* a v1 .npy with the given header dict and data bytes */
static void raw_npy(const char *path, const char *dict, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    size_t hl = strlen(dict);
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)hl, 0};
    fwrite(pre, 1, 10, f);
    fwrite(dict, 1, hl, f);
    fwrite(data, 1, n, f);
    fclose(f);
}

static void refused(const char *label, const char *path, const char *needle) {
    gd_npy a;
    gd_error err = {0};
    gd_status s = gd_npy_read(&a, path, &err);
    char l[200];
    snprintf(l, sizeof l, "%s: refused, naming the file and '%s'", label, needle);
    TEST_COND(l, s != GD_OK && strstr(err.msg, path) && strstr(err.msg, needle));
    printf("  %s -> %s\n", label, err.msg);
    gd_npy_free(&a);
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    gd_error err = {0};
    float v[6] = {1, 2, 3, -4, 0.5f, 1e-20f};
    TEST_COND("write", gd_npy_write(at("a.npy"), v, 2, (int64_t[]){2, 3}, &err) == GD_OK);
    gd_npy a;
    TEST_COND("read back", gd_npy_read(&a, at("a.npy"), &err) == GD_OK);
    TEST_COND("shape and values", a.ndim == 2 && a.shape[0] == 2 && a.shape[1] == 3 &&
                                      a.numel == 6 && !memcmp(a.data, v, sizeof v));
    gd_npy_free(&a);
    gd_npy_free(&a);
    TEST_COND("1-d write", gd_npy_write(at("b.npy"), v, 1, (int64_t[]){6}, &err) == GD_OK);
    TEST_COND("1-d read", gd_npy_read(&a, at("b.npy"), &err) == GD_OK && a.ndim == 1 &&
                              a.shape[0] == 6);
    gd_npy_free(&a);

    double d[2] = {1.5, -2.25};
    raw_npy(at("f8.npy"), "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }\n", d, 16);
    TEST_COND("float64 converts", gd_npy_read(&a, at("f8.npy"), &err) == GD_OK &&
                                      a.data[0] == 1.5f && a.data[1] == -2.25f);
    gd_npy_free(&a);
    int64_t k[3] = {0, 7, -3};
    raw_npy(at("i8.npy"), "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }\n", k, 24);
    TEST_COND("int64 converts", gd_npy_read(&a, at("i8.npy"), &err) == GD_OK && a.data[1] == 7 &&
                                    a.data[2] == -3);
    gd_npy_free(&a);
    raw_npy(at("scalar.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': (), }\n", v, 4);
    TEST_COND("0-d array", gd_npy_read(&a, at("scalar.npy"), &err) == GD_OK && a.ndim == 0 &&
                               a.numel == 1 && a.data[0] == 1);
    gd_npy_free(&a);

    raw_npy(at("trunc.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", v, 20);
    refused("truncated data", at("trunc.npy"), "truncated");
    /* a header asking for 2^31 float32 (8 GiB) over 20 bytes of data: refused from the file's
     * size, before the reader allocates twice that */
    raw_npy(at("huge.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': (2147483648,), }\n",
            v, 20);
    refused("header larger than the file", at("huge.npy"), "shape needs 8589934592 data bytes");
    raw_npy(at("fortran.npy"), "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }\n", v, 24);
    refused("Fortran order", at("fortran.npy"), "Fortran");
    raw_npy(at("c16.npy"), "{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }\n", v, 16);
    refused("complex dtype", at("c16.npy"), "<c16");
    raw_npy(at("shape.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }\n", v, 8);
    refused("negative shape", at("shape.npy"), "shape");
    raw_npy(at("nokey.npy"), "{'descr': '<f4', 'shape': (2,), }\n", v, 8);
    refused("missing key", at("nokey.npy"), "fortran_order");
    FILE *f = fopen(at("magic.npy"), "wb");
    fputs("PK\3\4 this is a zip", f);
    fclose(f);
    refused("not .npy", at("magic.npy"), "magic");
    refused("missing file", at("none.npy"), "cannot open");
    TEST_COND("write into a missing folder fails",
              gd_npy_write(at("no/such.npy"), v, 1, (int64_t[]){6}, &err) == GD_ERR_IO);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) printf("warning: could not remove %s\n", dir);
    return gd_test_report("test_npy");
}
