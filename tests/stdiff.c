/* stdiff.c - a helper of the shell tests (not a test itself): the largest normwise relative
 * difference, over the tensors of two safetensors files with the same names and shapes,
 * max over tensors of |a - b|_2 / |b|_2.
 *
 *   stdiff A.safetensors B.safetensors [TOL]
 *
 * Prints the difference; exits 0 when it is at most TOL (default 0: equal bits), 1 when
 * larger, 2 when the files cannot be compared (names the file and the problem). */
#include "gmmdiff/safetensors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: stdiff A.safetensors B.safetensors [TOL]\n");
        return 2;
    }
    double tol = argc > 3 ? atof(argv[3]) : 0.0, worst = 0;
    const char *worst_name = "";
    gd_safetensors a = {0}, b = {0};
    gd_error err = {0};
    int rc = 2;
    if (gd_st_open(&a, argv[1], &err) || gd_st_open(&b, argv[2], &err)) {
        fprintf(stderr, "stdiff: %s\n", err.msg);
        goto done;
    }
    if (a.n != b.n) {
        fprintf(stderr, "stdiff: %s has %d tensors, %s has %d\n", argv[1], a.n, argv[2], b.n);
        goto done;
    }
    for (int i = 0; i < a.n; i++) {
        const gd_st_tensor *ta = &a.tensors[i], *tb = gd_st_find(&b, ta->name);
        if (!tb || tb->numel != ta->numel) {
            fprintf(stderr, "stdiff: %s: tensor '%s' is missing or of another size\n", argv[2],
                    ta->name);
            goto done;
        }
        float *x = malloc(sizeof(float) * (ta->numel ? ta->numel : 1));
        float *y = malloc(sizeof(float) * (ta->numel ? ta->numel : 1));
        if (!x || !y || gd_st_read_f32(&a, ta->name, x, 0, NULL, &err) ||
            gd_st_read_f32(&b, ta->name, y, 0, NULL, &err)) {
            fprintf(stderr, "stdiff: %s\n", x && y ? err.msg : "out of memory");
            free(x);
            free(y);
            goto done;
        }
        double num = 0, den = 0;
        for (size_t j = 0; j < ta->numel; j++) {
            num += ((double)x[j] - y[j]) * ((double)x[j] - y[j]);
            den += (double)y[j] * y[j];
        }
        double d = den > 0 ? sqrt(num / den) : sqrt(num);
        if (d > worst || (d != d)) {
            worst = d;
            worst_name = ta->name;
        }
        free(x);
        free(y);
    }
    printf("largest relative difference %.3e (%s)\n", worst, worst_name);
    rc = worst <= tol ? 0 : 1;
done:
    gd_st_close(&a);
    gd_st_close(&b);
    return rc;
}
