/* test_shapes.c - the `shapes` data set and its judge: determinism, labels and classes, the
 * held-out split, the judge on real, noisy and bad images (the calibration of the defect
 * threshold printed as a table, see docs/DATA.md), threads, and the summary. */
#include "gmmdiff/shapes.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NT (GD_SHAPES_N_COMBOS * GD_SHAPES_N_JITTER)

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* one row of the calibration table: RMS and local residual min / median / max, the defect
 * fraction */
static void calib_row(const char *label, const gd_shapes_verdict *v, int n) {
    float *r = malloc((size_t)n * sizeof(float)), *l = malloc((size_t)n * sizeof(float));
    int nd = 0;
    for (int i = 0; i < n; i++) {
        r[i] = v[i].residual;
        l[i] = v[i].local;
        nd += v[i].defect;
    }
    qsort(r, (size_t)n, sizeof(float), cmp_float);
    qsort(l, (size_t)n, sizeof(float), cmp_float);
    printf("  | %-34s | %4d | %.3f %.3f %.3f | %.3f %.3f %.3f | %5.3f |\n", label, n, r[0],
           r[n / 2], r[n - 1], l[0], l[n / 2], l[n - 1], (double)nd / n);
    free(r);
    free(l);
}

static int count_defects(const gd_shapes_verdict *v, int n) {
    int nd = 0;
    for (int i = 0; i < n; i++) nd += v[i].defect;
    return nd;
}

/* every combination x jitter rendered: imgs [NT, size, size], values [NT, 4] */
static void render_all(float *imgs, int *values, int size) {
    size_t px = (size_t)size * size;
    for (int t = 0; t < NT; t++) {
        gd_shapes_combo_values(t / 9, values + 4 * t);
        gd_shapes_render(imgs + t * px, size, values + 4 * t, t % 9 % 3 - 1, t % 9 / 3 - 1);
    }
}

static void test_combos(void) {
    int ok = 1;
    for (int c = 0; c < GD_SHAPES_N_COMBOS; c++) {
        int v[4];
        gd_shapes_combo_values(c, v);
        ok &= gd_shapes_combo_index(v) == c;
    }
    TEST_COND("class <-> values round trip", ok);
    TEST_COND("mixed radix, shape most significant",
              gd_shapes_combo_index((int[]){1, 0, 2, 1}) == 21 &&
                  gd_shapes_combo_index((int[]){2, 1, 3, 1}) == 47);
    TEST_COND("attribute and value names",
              !strcmp(gd_shapes_attr_name(0), "shape") &&
                  !strcmp(gd_shapes_attr_name(3), "intensity") &&
                  !strcmp(gd_shapes_value_name(2, 3), "bottom_right") &&
                  !strcmp(gd_shapes_value_name(1, 1), "large") && gd_shapes_n_values(2) == 4);

    int tr[48], ho[48], all[48];
    int ntr = gd_shapes_combos(GD_SHAPES_TRAIN, tr), nho = gd_shapes_combos(GD_SHAPES_HELDOUT, ho);
    TEST_COND("42 trained, 6 held out, 48 in all",
              ntr == 42 && nho == 6 && gd_shapes_combos(GD_SHAPES_ALL, all) == 48);
    /* every value, and every pair of values of two attributes, occurs in a trained combination */
    int seen1[4][4] = {{0}}, seen2[4][4][4][4] = {{{{0}}}};
    for (int i = 0; i < ntr; i++) {
        int v[4];
        gd_shapes_combo_values(tr[i], v);
        ok &= !gd_shapes_is_heldout(v);
        for (int a = 0; a < 4; a++) {
            seen1[a][v[a]] = 1;
            for (int b = 0; b < 4; b++) seen2[a][b][v[a]][v[b]] = 1;
        }
    }
    int every1 = 1, every2 = 1;
    for (int a = 0; a < 4; a++)
        for (int x = 0; x < gd_shapes_n_values(a); x++) {
            every1 &= seen1[a][x];
            for (int b = 0; b < 4; b++)
                for (int y = 0; y < gd_shapes_n_values(b) && b != a; y++)
                    every2 &= seen2[a][b][x][y];
        }
    TEST_COND("no trained combination is held out", ok);
    TEST_COND("every attribute value occurs in training", every1);
    TEST_COND("every pair of values of two attributes occurs in training", every2);
    ok = 1;
    for (int i = 0; i < nho; i++) {
        int v[4];
        gd_shapes_combo_values(ho[i], v);
        ok &= gd_shapes_is_heldout(v);
    }
    TEST_COND("the held-out list is held out", ok);
    static const int want_ho[6] = {0, 15, 19, 28, 38, 41}; /* the table in docs/DATA.md */
    TEST_COND("the held-out classes", !memcmp(ho, want_ho, sizeof want_ho));
}

static void test_make(void) {
    gd_error err = {0};
    gd_dataset a, b, c;
    TEST_COND("make", gd_shapes_make(&a, 16, 600, 7, GD_SHAPES_TRAIN, &err) == GD_OK);
    TEST_COND("make again", gd_shapes_make(&b, 16, 600, 7, GD_SHAPES_TRAIN, &err) == GD_OK);
    TEST_COND("make another seed", gd_shapes_make(&c, 16, 600, 8, GD_SHAPES_TRAIN, &err) == GD_OK);
    size_t px = 600 * 256;
    TEST_COND("same seed, same bytes",
              !memcmp(a.images, b.images, px * sizeof(float)) &&
                  !memcmp(a.labels, b.labels, 600 * 4 * sizeof(int)) &&
                  !memcmp(a.cls, b.cls, 600 * sizeof(int)));
    TEST_COND("other seed, other images", memcmp(a.images, c.images, px * sizeof(float)) != 0);
    TEST_COND("fields", !strcmp(a.name, "shapes") && a.n == 600 && a.c == 1 && a.h == 16 &&
                            a.w == 16 && a.n_attrs == 4 && a.n_classes == 48 &&
                            !strcmp(a.attrs[2].name, "position") &&
                            a.attrs[2].kind == GD_ATTR_CATEGORICAL && a.attrs[2].n_values == 4 &&
                            !strcmp(a.attrs[0].values[2], "triangle") &&
                            gd_dataset_attr_index(&a, "intensity") == 3);
    int ok = 1, held = 0, inrange = 1;
    for (int i = 0; i < a.n; i++) {
        ok &= gd_shapes_combo_index(a.labels + 4 * i) == a.cls[i];
        held += gd_shapes_is_heldout(a.labels + 4 * i);
        for (size_t p = 0; p < 256; p++) {
            float x = a.images[i * 256 + p];
            inrange &= x >= -1.0f && x <= 1.0f;
        }
    }
    TEST_COND("cls is the combination of the labels", ok);
    TEST_COND("no held-out combination in a training set", held == 0);
    TEST_COND("pixels in [-1, 1]", inrange);
    int classes[48] = {0}, nclass = 0;
    for (int i = 0; i < a.n; i++) classes[a.cls[i]] = 1;
    for (int k = 0; k < 48; k++) nclass += classes[k];
    TEST_COND("600 training items cover the 42 trained classes", nclass == 42);

    /* the images are the renderings of their labels: the judge finds them with residual 0 */
    gd_shapes_verdict *v = malloc(600 * sizeof *v);
    TEST_COND("judge", gd_shapes_judge(a.images, 600, 16, v, &err) == GD_OK);
    ok = 1;
    for (int i = 0; i < 600; i++) ok &= v[i].cls == a.cls[i] && v[i].residual == 0.0f;
    TEST_COND("each image is its labels' rendering", ok);
    free(v);
    gd_dataset_free(&a);
    gd_dataset_free(&b);
    gd_dataset_free(&c);

    TEST_COND("held-out set", gd_shapes_make(&a, 28, 300, 1, GD_SHAPES_HELDOUT, &err) == GD_OK);
    held = 0;
    for (int i = 0; i < a.n; i++) held += gd_shapes_is_heldout(a.labels + 4 * i);
    TEST_COND("a held-out set holds only held-out combinations", held == 300 && a.h == 28);
    gd_dataset_free(&a);
    TEST_COND("all", gd_shapes_make(&a, 32, 500, 1, GD_SHAPES_ALL, &err) == GD_OK);
    held = 0;
    for (int i = 0; i < a.n; i++) held += gd_shapes_is_heldout(a.labels + 4 * i);
    TEST_COND("ALL mixes trained and held-out combinations", held > 20 && held < 120);
    gd_dataset_free(&a);

    gd_status s = gd_shapes_make(&a, 20, 10, 1, GD_SHAPES_ALL, &err);
    TEST_COND("size 20 refused", s == GD_ERR_ARG && strstr(err.msg, "20"));
    printf("  size 20 -> %s\n", err.msg);
    TEST_COND("n 0 refused", gd_shapes_make(&a, 16, 0, 1, GD_SHAPES_ALL, &err) == GD_ERR_ARG);
    gd_shapes_verdict dummy;
    TEST_COND("judge size 20 refused",
              gd_shapes_judge(NULL, 0, 20, &dummy, &err) == GD_ERR_ARG);
}

/* real renders at one size: residual 0, combination and jitter exact */
static void test_exact(int size) {
    size_t px = (size_t)size * size;
    float *imgs = malloc(NT * px * sizeof(float));
    int *values = malloc(NT * 4 * sizeof(int));
    gd_shapes_verdict *v = malloc(NT * sizeof *v);
    render_all(imgs, values, size);
    gd_error err = {0};
    gd_status s = gd_shapes_judge(imgs, NT, size, v, &err);
    int ok = s == GD_OK;
    for (int t = 0; t < NT && ok; t++)
        ok &= v[t].cls == t / 9 && v[t].dx == t % 9 % 3 - 1 && v[t].dy == t % 9 / 3 - 1 &&
              v[t].residual == 0.0f && !v[t].defect && !memcmp(v[t].values, values + 4 * t, 16);
    char l[100];
    snprintf(l, sizeof l, "size %d: every combination and jitter judged exactly", size);
    TEST_COND(l, ok);
    /* no two renderings coincide: the smallest distance between two combinations */
    double dmin = 1e30;
    for (int t = 0; t < NT; t++)
        for (int u = t + 1; u < NT; u++) {
            if (t / 9 == u / 9) continue;
            double d = 0;
            for (size_t p = 0; p < px; p++) {
                double e = imgs[t * px + p] - imgs[u * px + p];
                d += e * e;
            }
            if (d < dmin) dmin = d;
        }
    printf("  size %d: smallest L2 distance between renderings of two combinations %.3f\n",
           size, sqrt(dmin));

    /* mild noise passes with the attributes recovered; blends at two positions fail */
    float *x = malloc(NT * px * sizeof(float));
    gd_rng rng;
    gd_rng_seed(&rng, (uint64_t)size);
    gd_rng_fill_normal(&rng, x, NT * px, 0.0f, 0.1f);
    for (size_t p = 0; p < NT * px; p++) x[p] += imgs[p];
    gd_shapes_judge(x, NT, size, v, &err);
    ok = 1;
    for (int t = 0; t < NT; t++) ok &= !v[t].defect && !memcmp(v[t].values, values + 4 * t, 16);
    snprintf(l, sizeof l, "size %d: noise std 0.1 passes, attributes exact", size);
    TEST_COND(l, ok);
    for (int c = 0; c < 48; c++) {
        int c2 = c ^ 2; /* the position across the vertical midline, the rest the same */
        for (size_t p = 0; p < px; p++)
            x[c * px + p] = 0.5f * (imgs[(9 * c + 4) * px + p] + imgs[(9 * c2 + 4) * px + p]);
    }
    gd_shapes_judge(x, 48, size, v, &err);
    snprintf(l, sizeof l, "size %d: blends at two positions fail", size);
    TEST_COND(l, count_defects(v, 48) == 48);
    free(x);
    free(imgs);
    free(values);
    free(v);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* judges n images [n, 16, 16], prints the row and returns the verdicts (caller frees) */
static gd_shapes_verdict *judged(const gd_shapes_judge_ctx *ctx, const float *imgs, int n,
                                 const char *label) {
    gd_shapes_verdict *v = malloc((size_t)n * sizeof *v);
    gd_shapes_judge_run(ctx, imgs, n, v);
    calib_row(label, v, n);
    return v;
}

static int values_match(const gd_shapes_verdict *v, const int *values, int n) {
    int ok = 1;
    for (int i = 0; i < n; i++) ok &= !memcmp(v[i].values, values + 4 * i, 16);
    return ok;
}

/* The calibration of the defect thresholds at 16x16 (docs/DATA.md has the table). */
static void test_calibration(void) {
    enum { S = 16, PX = 256, NX = 3 * NT };
    gd_error err = {0};
    gd_shapes_judge_ctx ctx;
    TEST_COND("judge init", gd_shapes_judge_init(&ctx, S, &err) == GD_OK);
    float *real = malloc(NT * PX * sizeof(float)), *x = malloc(NX * PX * sizeof(float));
    int *values = malloc(NT * 4 * sizeof(int));
    render_all(real, values, S);
    gd_rng rng;
    gd_rng_seed(&rng, 2024);
    printf("  calibration at 16x16, thresholds RMS %.3f, local %.3f:\n", GD_SHAPES_RMS_THRESHOLD,
           GD_SHAPES_LOCAL_THRESHOLD);
    printf("  | %-34s | %4s | %-17s | %-17s | %-6s |\n", "images", "n", "RMS min/med/max",
           "local min/med/max", "defect");
    gd_shapes_verdict *v = judged(&ctx, real, NT, "renders");
    TEST_COND("renders pass", count_defects(v, NT) == 0);
    free(v);

    static const float stds[] = {0.02f, 0.05f, 0.1f, 0.15f, 0.2f};
    for (int k = 0; k < 5; k++) {
        gd_rng_fill_normal(&rng, x, NT * PX, 0.0f, stds[k]);
        for (int p = 0; p < NT * PX; p++) x[p] += real[p];
        char l[64];
        snprintf(l, sizeof l, "renders + noise std %.2f", stds[k]);
        v = judged(&ctx, x, NT, l);
        if (stds[k] <= 0.1f) {
            snprintf(l, sizeof l, "noise std %.2f: all pass, attributes exact", stds[k]);
            TEST_COND(l, count_defects(v, NT) == 0 && values_match(v, values, NT));
        }
        free(v);
    }

    gd_rng_fill_uniform(&rng, x, 200 * PX, -1.0f, 1.0f);
    v = judged(&ctx, x, 200, "uniform noise in [-1, 1]");
    TEST_COND("uniform noise fails", count_defects(v, 200) == 200);
    free(v);
    gd_rng_fill_normal(&rng, x, 200 * PX, -1.0f, 0.3f);
    v = judged(&ctx, x, 200, "background + noise std 0.3");
    TEST_COND("noisy background fails", count_defects(v, 200) == 200);
    free(v);
    for (int p = 0; p < PX; p++) x[p] = -1.0f;
    v = judged(&ctx, x, 1, "empty (all -1)");
    TEST_COND("empty image fails", v[0].defect);
    free(v);

    /* a shape moved by its radius (half its size) from the quadrant centre, 4 directions */
    int nsh = 0;
    for (int c = 0; c < 48; c++)
        for (int d = 0; d < 4; d++, nsh++) {
            int h = values[4 * 9 * c + 1] ? 3 : 2;
            gd_shapes_render(x + nsh * PX, S, values + 4 * 9 * c, d == 0 ? h : d == 1 ? -h : 0,
                             d == 2 ? h : d == 3 ? -h : 0);
        }
    v = judged(&ctx, x, nsh, "shifted by half its size");
    TEST_COND("shifted shapes fail", count_defects(v, nsh) == nsh);
    free(v);

    /* positions between the data set's jitters (not asserted: reported in docs/DATA.md) */
    static const double offs[2] = {0.25, 0.5};
    for (int k = 0; k < 2; k++) {
        for (int c = 0; c < 48; c++)
            for (int d = 0; d < 4; d++)
                gd_shapes_render_offset(x + (4 * c + d) * PX, S, values + 4 * 9 * c,
                                        d == 0 ? offs[k] : d == 1 ? -offs[k] : 0,
                                        d == 2 ? offs[k] : d == 3 ? -offs[k] : 0);
        char l[64];
        snprintf(l, sizeof l, "moved %.2f jitter units", offs[k]);
        free(judged(&ctx, x, 192, l));
    }

    /* the pixel mean of two renders (jitter 0) of different combinations, by what differs */
    static const char *const kinds[] = {"blend, other position", "blend, only intensity differs",
                                        "blend, only shape differs", "blend, only size differs",
                                        "blend, same position, 2+ differ"};
    int lim[5] = {0};
    for (int kind = 0; kind < 5; kind++) {
        int nb = 0;
        for (int c1 = 0; c1 < 48; c1++)
            for (int c2 = c1 + 1; c2 < 48; c2++) {
                const int *a = values + 4 * 9 * c1, *b = values + 4 * 9 * c2;
                int ndiff = (a[0] != b[0]) + (a[1] != b[1]) + (a[3] != b[3]);
                int k = a[2] != b[2] ? 0 : ndiff > 1 ? 4 : a[3] != b[3] ? 1 : a[0] != b[0] ? 2 : 3;
                if (k != kind) continue;
                const float *ra = real + (9 * c1 + 4) * PX, *rb = real + (9 * c2 + 4) * PX;
                for (int p = 0; p < PX; p++) x[nb * PX + p] = 0.5f * (ra[p] + rb[p]);
                nb++;
            }
        v = judged(&ctx, x, nb, kinds[kind]);
        lim[kind] = count_defects(v, nb) * 1000 / nb;
        free(v);
    }
    TEST_COND("blends at two positions fail", lim[0] == 1000);
    TEST_COND("blends of dim and bright fail", lim[1] == 1000);

    /* a few thousand images in well under a second; any thread count gives the same verdicts */
    int nt = 3 * NT;
    for (int k = 0; k < 3; k++) memcpy(x + k * NT * PX, real, NT * PX * sizeof(float));
    gd_rng_fill_normal(&rng, x + NT * PX, 2 * NT * PX, 0.0f, 0.3f);
    for (int p = NT * PX; p < nt * PX; p++) x[p] += real[p % (NT * PX)];
    gd_shapes_verdict *v1 = malloc(nt * sizeof *v1), *v3 = malloc(nt * sizeof *v3);
    int threads = gd_get_num_threads();
    gd_set_num_threads(1);
    double t0 = now_s();
    gd_shapes_judge_run(&ctx, x, nt, v1);
    double t1 = now_s();
    gd_set_num_threads(3);
    gd_shapes_judge_run(&ctx, x, nt, v3);
    gd_set_num_threads(threads);
    printf("  judged %d images in %.3f s on 1 thread\n", nt, t1 - t0);
    TEST_COND("1 and 3 threads give the same verdicts", !memcmp(v1, v3, nt * sizeof *v1));
    free(v1);
    free(v3);
    free(real);
    free(x);
    free(values);
    gd_shapes_judge_free(&ctx);
    gd_shapes_judge_free(&ctx);
}

static int near(double a, double b) { return fabs(a - b) < 1e-12; }

static void test_summary(void) {
    gd_shapes_verdict v[4] = {
        {.values = {0, 0, 0, 0}, .defect = 0}, /* all right */
        {.values = {1, 0, 0, 0}, .defect = 0}, /* shape wrong */
        {.values = {0, 1, 2, 1}, .defect = 1}, /* right values, but a defect */
        {.values = {2, 1, 3, 0}, .defect = 0}, /* intensity wrong */
    };
    int want[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 1, 2, 1, 3, 1};
    gd_shapes_summary s;
    gd_shapes_summarize(v, 4, want, &s);
    TEST_COND("summary: defects", s.n == 4 && s.n_defect == 1 && near(s.defect_rate, 0.25));
    TEST_COND("summary: accuracy over all items, a defect counting as wrong",
              near(s.attr_acc[0], 0.5) && near(s.attr_acc[1], 0.75) &&
                  near(s.attr_acc[2], 0.75) && near(s.attr_acc[3], 0.5) &&
                  near(s.exact_acc, 0.25));
    TEST_COND("summary: accuracy among non-defects",
              near(s.attr_acc_ok[0], 2.0 / 3) && near(s.attr_acc_ok[1], 1.0) &&
                  near(s.attr_acc_ok[2], 1.0) && near(s.attr_acc_ok[3], 2.0 / 3) &&
                  near(s.exact_acc_ok, 1.0 / 3));
    TEST_COND("summary: best-match accuracy over all items, defects or not",
              near(s.attr_acc_any[0], 0.75) && near(s.attr_acc_any[1], 1.0) &&
                  near(s.attr_acc_any[2], 1.0) && near(s.attr_acc_any[3], 0.75) &&
                  near(s.exact_acc_any, 0.5));
    gd_shapes_summarize(v, 4, NULL, &s);
    TEST_COND("summary without intended values",
              s.n_defect == 1 && near(s.defect_rate, 0.25) && isnan(s.attr_acc[0]) &&
                  isnan(s.exact_acc_ok));
    v[2].defect = v[0].defect = v[1].defect = v[3].defect = 1;
    gd_shapes_summarize(v, 4, want, &s);
    TEST_COND("summary: all defects", near(s.defect_rate, 1.0) && near(s.exact_acc, 0.0) &&
                                          isnan(s.attr_acc_ok[1]));

    /* a non-finite image is a defect */
    float img[256];
    gd_shapes_render(img, 16, (int[]){1, 1, 1, 1}, 0, 0);
    img[17] = NAN;
    gd_error err = {0};
    gd_shapes_judge(img, 1, 16, v, &err);
    TEST_COND("a NaN image is a defect", v[0].defect && isnan(v[0].residual));
}

int main(void) {
    test_summary();
    test_combos();
    test_make();
    test_exact(16);
    test_exact(28);
    test_exact(32);
    test_calibration();
    return gd_test_report("test_shapes");
}
