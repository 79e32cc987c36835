/* cmd_eval.c - `gmmdiff eval`: scores a trained run. On shapes: the judge's defect rate and
 * attribute accuracy of conditional samples, for the trained combinations and (feature models)
 * the held-out ones; results as one JSON object. */
#include "cli.h"
#include "eval_shapes.h"
#include "gmmdiff/diffusion.h"
#include "train_run.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void eval_help(void) {
    printf("usage: gmmdiff eval --run RUN [options]\n"
           "Scores a class- or feature-conditioned run trained on shapes with the data set's\n"
           "judge (docs/DATA.md): samples per attribute combination, the defect rate and the\n"
           "attribute accuracy of the best match. Prints one JSON object (and --out FILE).\n"
           "  --run RUN          a training run directory (gmmdiff train)\n"
           "  --heldout          the 6 held-out combinations (feature models only)\n"
           "  --per-class N      samples per combination (default 8)\n"
           "  --sampler S        ddim | ddpm | dpm++2m (default ddim, clipped eps)\n"
           "  --steps N          sampler steps (default 50)\n"
           "  --cfg W            classifier-free guidance scale (default 2; 1 off)\n"
           "  --seed S           sampling seed (default 0)\n"
           "  --grid FILE        a PNG of the samples\n"
           "  --out FILE         also write the JSON object to FILE\n"
           "  --threads T        threads (default: all cores)\n"
           "For other data sets: gmmdiff classifier eval --run RUN (class accuracy of samples).\n");
}

int gd_cmd_eval(int argc, char **argv) {
    const char *run = NULL, *out = NULL, *sampler = "ddim";
    int threads = 0;
    gd_eval_shapes_opts eo = {8, GD_SAMPLER_DDIM, 50, 2.0f, 0, NULL, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) { eval_help(); return 0; }
        else if (!strcmp(a, "--heldout")) { eo.heldout = 1; continue; }
        else if (!strcmp(a, "--run") && v) run = v;
        else if (!strcmp(a, "--out") && v) out = v;
        else if (!strcmp(a, "--grid") && v) eo.grid = v;
        else if (!strcmp(a, "--sampler") && v) sampler = v;
        else if (!strcmp(a, "--per-class")) eo.per_class = gd_cli_int(a, v, 1, 10000);
        else if (!strcmp(a, "--steps")) eo.steps = gd_cli_int(a, v, 1, 1000);
        else if (!strcmp(a, "--cfg")) eo.cfg = (float)gd_cli_num(a, v, 0, 100);
        else if (!strcmp(a, "--seed")) eo.seed = (uint64_t)gd_cli_int(a, v, 0, 2147483647);
        else if (!strcmp(a, "--threads")) threads = gd_cli_int(a, v, 1, 1024);
        else {
            fprintf(stderr, "gmmdiff eval: unknown or incomplete flag '%s' (see --help)\n", a);
            return 2;
        }
        i++;
    }
    if (!run) {
        fprintf(stderr, "gmmdiff eval: --run RUN is required (see --help)\n");
        return 2;
    }
    gd_sampler_kind kind;
    if (gd_sampler_parse(sampler, &kind)) {
        fprintf(stderr, "gmmdiff eval: --sampler: '%s' is not ddpm, ddim or dpm++2m\n", sampler);
        return 2;
    }
    eo.sampler = kind;
    gd_set_num_threads(threads);
    gd_error err = {0};
    gd_train_config tc;
    gd_cli_data ds;
    gd_unet_config u;
    if (gd_train_run_read(run, &tc, &ds, &u, &err)) {
        fprintf(stderr, "gmmdiff eval: %s\n", err.msg);
        return 1;
    }
    if (strcmp(ds.source, "shapes")) {
        fprintf(stderr, "gmmdiff eval: %s was trained on '%s'; the judge scores shapes runs "
                        "(for other data: gmmdiff classifier eval --run)\n", run, ds.source);
        return 2;
    }
    gd_eval_shapes_result r;
    if (gd_eval_shapes(run, &eo, &r, &err)) {
        fprintf(stderr, "gmmdiff eval: %s\n", err.msg);
        return 1;
    }
    const gd_shapes_summary *m = &r.summary;
    json_t *o = json_object(), *acc = json_object();
    json_object_set_new(o, "run", json_string(run));
    json_object_set_new(o, "cond", json_string(gd_cond_mode_name(tc.cond)));
    json_object_set_new(o, "combinations", json_string(eo.heldout ? "held-out" : "trained"));
    json_object_set_new(o, "samples", json_integer(r.n));
    json_object_set_new(o, "sampler", json_string(sampler));
    json_object_set_new(o, "steps", json_integer(eo.steps));
    json_object_set_new(o, "cfg", json_real(eo.cfg));
    json_object_set_new(o, "seed", json_integer((json_int_t)eo.seed));
    json_object_set_new(o, "defect_rate", json_real(m->defect_rate));
    json_object_set_new(o, "exact_accuracy", json_real(m->exact_acc_any));
    for (int a = 0; a < GD_SHAPES_N_ATTRS; a++)
        json_object_set_new(acc, gd_shapes_attr_name(a), json_real(m->attr_acc_any[a]));
    json_object_set_new(o, "attribute_accuracy", acc);
    json_object_set_new(o, "exact_accuracy_defects_wrong", json_real(m->exact_acc));
    char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(o);
    int rc = 0;
    if (!text) return 1;
    printf("%s\n", text);
    if (out && gd_write_text_atomic(out, text, &err)) {
        fprintf(stderr, "gmmdiff eval: %s\n", err.msg);
        rc = 1;
    }
    free(text);
    return rc;
}
