/* cmd_eval.c - `gmmdiff eval`: scores a trained run, results as one JSON object. On shapes: the
 * judge's defect rate and attribute accuracy of conditional samples, for the trained
 * combinations and (feature models) the held-out ones. A feature model of other data: the
 * controllability error of its continuous features. A cluster model: cluster accuracy. */
#include "cli.h"
#include "eval_features.h"
#include "eval_shapes.h"
#include "gmmdiff/diffusion.h"
#include "train_run.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void eval_help(void) {
    printf("usage: gmmdiff eval --run RUN [options]\n"
           "Scores a trained run (docs/METRICS.md); prints one JSON object (and --out FILE).\n"
           "  shapes, class or feature model: the judge (docs/DATA.md) scores samples of each\n"
           "    attribute combination: defect rate, attribute accuracy of the best match;\n"
           "  feature model of other data: the controllability error of its continuous\n"
           "    features (ink, mean_intensity, width, height) measured on samples, beside the\n"
           "    same error without control and of the real test images;\n"
           "  cluster model: the fraction of each cluster's samples that the run's embedding\n"
           "    and GMM put back in that cluster.\n"
           "  --run RUN          a training run directory (gmmdiff train)\n"
           "  --heldout          shapes: the 6 held-out combinations (feature models only)\n"
           "  --per-class N      samples per combination, component or cluster (default 8;\n"
           "                     16 for controllability and clusters)\n"
           "  --pool N           controllability: samples with every attribute drawn (64)\n"
           "  --sampler S        ddim | ddpm | dpm++2m (default ddim, clipped eps)\n"
           "  --steps N          sampler steps (default 50)\n"
           "  --cfg W            classifier-free guidance scale (default 2; 1 off)\n"
           "  --classifier DIR   shapes: classifier guidance toward the intended values by this\n"
           "                     classifier (gmmdiff classifier train --noisy; docs/NGMG.md)\n"
           "  --classifier-scale S  its scale (default 0: off)\n"
           "  --seed S           sampling seed (default 0)\n"
           "  --grid FILE        a PNG of the samples\n"
           "  --out FILE         also write the JSON object to FILE\n"
           "  --threads T        threads (default: all cores)\n"
           "For other data sets: gmmdiff classifier eval --run RUN (class accuracy of samples).\n");
}

/* prints (and writes to out) the JSON text of o; frees o */
static int emit(json_t *o, const char *out) {
    char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(o);
    if (!text) return 1;
    printf("%s\n", text);
    gd_error err = {0};
    int rc = 0;
    if (out && gd_write_text_atomic(out, text, &err)) {
        fprintf(stderr, "gmmdiff eval: %s\n", err.msg);
        rc = 1;
    }
    free(text);
    return rc;
}

static int eval_features(const char *run, const gd_train_config *tc, const gd_cli_data *ds,
                         const gd_eval_shapes_opts *eo, int per, int pool, const char *sampler,
                         const char *out) {
    gd_eval_features_opts fo = {per, pool, eo->sampler, eo->steps, eo->cfg, eo->seed, eo->grid};
    gd_error err = {0};
    json_t *o = json_object();
    json_object_set_new(o, "run", json_string(run));
    json_object_set_new(o, "cond", json_string(gd_cond_mode_name(tc->cond)));
    json_object_set_new(o, "data", json_string(ds->source));
    json_object_set_new(o, "per_target", json_integer(per));
    json_object_set_new(o, "sampler", json_string(sampler));
    json_object_set_new(o, "steps", json_integer(eo->steps));
    json_object_set_new(o, "cfg", json_real(eo->cfg));
    json_object_set_new(o, "seed", json_integer((json_int_t)eo->seed));
    gd_cli_data test = *ds; /* the real images: the held-out split where the data has one */
    test.test = 1;
    gd_dataset real = {0};
    gd_status s = gd_cli_data_open(&real, &test, &err);
    if (!s && tc->cond == GD_COND_CLUSTER) {
        s = gd_eval_clusters(run, &real, &fo, o, &err);
    } else if (!s) {
        json_object_set_new(o, "pool", json_integer(pool));
        s = gd_eval_controllability(run, &real, &fo, o, &err);
    }
    gd_dataset_free(&real);
    if (s) {
        json_decref(o);
        fprintf(stderr, "gmmdiff eval: %s\n", err.msg);
        return 1;
    }
    return emit(o, out);
}

int gd_cmd_eval(int argc, char **argv) {
    const char *run = NULL, *out = NULL, *sampler = "ddim";
    int threads = 0;
    gd_eval_shapes_opts eo = {8, GD_SAMPLER_DDIM, 50, 2.0f, 0, NULL, 0, NULL, 0.0f};
    int per_given = 0, pool = 64;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) { eval_help(); return 0; }
        else if (!strcmp(a, "--heldout")) { eo.heldout = 1; continue; }
        else if (!strcmp(a, "--run") && v) run = v;
        else if (!strcmp(a, "--out") && v) out = v;
        else if (!strcmp(a, "--grid") && v) eo.grid = v;
        else if (!strcmp(a, "--classifier") && v) eo.classifier = v;
        else if (!strcmp(a, "--classifier-scale")) eo.classifier_scale = (float)gd_cli_num(a, v, -1e4, 1e4);
        else if (!strcmp(a, "--sampler") && v) sampler = v;
        else if (!strcmp(a, "--per-class")) {
            eo.per_class = gd_cli_int(a, v, 1, 10000);
            per_given = 1;
        } else if (!strcmp(a, "--pool")) pool = gd_cli_int(a, v, 0, 100000);
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
    if (tc.cond == GD_COND_CLUSTER || (tc.cond == GD_COND_FEATURE && strcmp(ds.source, "shapes")))
        return eval_features(run, &tc, &ds, &eo, per_given ? eo.per_class : 16, pool, sampler, out);
    if (strcmp(ds.source, "shapes")) {
        fprintf(stderr, "gmmdiff eval: %s is a %s-conditioned run on '%s'; the judge scores "
                        "shapes runs (for other data: gmmdiff classifier eval --run)\n", run,
                gd_cond_mode_name(tc.cond), ds.source);
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
    if (eo.classifier && eo.classifier_scale != 0.0f) {
        json_object_set_new(o, "classifier", json_string(eo.classifier));
        json_object_set_new(o, "classifier_scale", json_real(eo.classifier_scale));
    }
    json_object_set_new(o, "seed", json_integer((json_int_t)eo.seed));
    json_object_set_new(o, "defect_rate", json_real(m->defect_rate));
    json_object_set_new(o, "exact_accuracy", json_real(m->exact_acc_any));
    for (int a = 0; a < GD_SHAPES_N_ATTRS; a++)
        json_object_set_new(acc, gd_shapes_attr_name(a), json_real(m->attr_acc_any[a]));
    json_object_set_new(o, "attribute_accuracy", acc);
    json_object_set_new(o, "exact_accuracy_defects_wrong", json_real(m->exact_acc));
    return emit(o, out);
}
