/* cmd_eval.c - `gmmdiff eval`: scores a trained run, results as one JSON object. On shapes: the
 * judge's defect rate and attribute accuracy of conditional samples, for the trained
 * combinations and (feature models) the held-out ones. A feature model of other data: the
 * controllability error of its continuous features. A cluster model: cluster accuracy. With
 * --score-classifier, any run with classes: conditional accuracy, FD and precision/recall in a
 * real-data classifier's feature space. */
#include "cli.h"
#include "eval_classes.h"
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
           "  --run RUN          a training run directory (gmmdiff train); --model RUN or\n"
           "                     --model RUN/model say the same\n"
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
           "  --score-classifier DIR  a classifier trained on real data (gmmdiff classifier\n"
           "                     train) scores class-conditional samples (any run but a\n"
           "                     cluster run): conditional accuracy of each head, FD and k-NN\n"
           "                     precision/recall (k 5) against as many real items of the\n"
           "                     evaluation split, in its feature space (JSON object \"scored\")\n"
           "  --score-per-class N  samples per class for it (default 50; DDIM, --steps, --cfg)\n"
           "  --seed S           sampling seed (default 0)\n"
           "  --grid FILE        a PNG of the samples\n"
           "  --out FILE         also write the JSON object to FILE\n"
           "  --threads T        threads (default: all cores)\n"
           "A class-conditioned run on other data is scored by --score-classifier alone.\n");
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

/* a feature model of image data or a cluster model: their scores into o */
static gd_status eval_features(const char *run, const gd_train_config *tc, const gd_cli_data *ds,
                               const gd_eval_shapes_opts *eo, int per, int pool,
                               const char *sampler, json_t *o, gd_error *err) {
    gd_eval_features_opts fo = {per, pool, eo->sampler, eo->steps, eo->cfg, eo->seed, eo->grid};
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
    gd_status s = gd_cli_data_open(&real, &test, err);
    if (!s && tc->cond == GD_COND_CLUSTER) {
        s = gd_eval_clusters(run, &real, &fo, o, err);
    } else if (!s) {
        json_object_set_new(o, "pool", json_integer(pool));
        s = gd_eval_controllability(run, &real, &fo, o, err);
    }
    gd_dataset_free(&real);
    return s;
}

/* a shapes model: the judge's scores into o */
static gd_status eval_judge(const char *run, const gd_train_config *tc,
                            const gd_eval_shapes_opts *eo, const char *sampler, json_t *o,
                            gd_error *err) {
    gd_eval_shapes_result r;
    gd_status s = gd_eval_shapes(run, eo, &r, err);
    if (s) return s;
    const gd_shapes_summary *m = &r.summary;
    json_t *acc = json_object();
    json_object_set_new(o, "run", json_string(run));
    json_object_set_new(o, "cond", json_string(gd_cond_mode_name(tc->cond)));
    json_object_set_new(o, "combinations", json_string(eo->heldout ? "held-out" : "trained"));
    json_object_set_new(o, "samples", json_integer(r.n));
    json_object_set_new(o, "sampler", json_string(sampler));
    json_object_set_new(o, "steps", json_integer(eo->steps));
    json_object_set_new(o, "cfg", json_real(eo->cfg));
    if (eo->classifier && eo->classifier_scale != 0.0f) {
        json_object_set_new(o, "classifier", json_string(eo->classifier));
        json_object_set_new(o, "classifier_scale", json_real(eo->classifier_scale));
    }
    json_object_set_new(o, "seed", json_integer((json_int_t)eo->seed));
    json_object_set_new(o, "defect_rate", json_real(m->defect_rate));
    json_object_set_new(o, "exact_accuracy", json_real(m->exact_acc_any));
    for (int a = 0; a < GD_SHAPES_N_ATTRS; a++)
        json_object_set_new(acc, gd_shapes_attr_name(a), json_real(m->attr_acc_any[a]));
    json_object_set_new(o, "attribute_accuracy", acc);
    json_object_set_new(o, "exact_accuracy_defects_wrong", json_real(m->exact_acc));
    return GD_OK;
}

/* conditional accuracy, FD and k-NN precision/recall of class-conditional samples, scored by a
 * classifier trained on real data: the object "scored" of o */
static gd_status eval_scored(const char *run, gd_classifier *m, const char *clf_dir,
                             const gd_eval_classes_opts *co, json_t *o, gd_error *err) {
    gd_eval_classes_result r;
    gd_status s = gd_eval_classes(run, m, co, &r, err);
    if (s) return s;
    json_t *c = gd_eval_classes_json(&r);
    json_object_set_new(c, "classifier", json_string(clf_dir));
    json_object_set_new(o, "scored", c);
    return GD_OK;
}

int gd_cmd_eval(int argc, char **argv) {
    const char *run = NULL, *out = NULL, *sampler = "ddim";
    int threads = 0;
    gd_eval_shapes_opts eo = {8, GD_SAMPLER_DDIM, 50, 2.0f, 0, NULL, 0, NULL, 0.0f};
    int per_given = 0, pool = 64, score_per = 50;
    const char *score = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) { eval_help(); return 0; }
        else if (!strcmp(a, "--heldout")) { eo.heldout = 1; continue; }
        else if ((!strcmp(a, "--run") || !strcmp(a, "--model")) && v) run = v;
        else if (!strcmp(a, "--out") && v) out = v;
        else if (!strcmp(a, "--grid") && v) eo.grid = v;
        else if (!strcmp(a, "--classifier") && v) eo.classifier = v;
        else if (!strcmp(a, "--score-classifier") && v) score = v;
        else if (!strcmp(a, "--score-per-class")) score_per = gd_cli_int(a, v, 1, 100000);
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
    /* --model RUN/model names the run that holds it (the data set is in run.json) */
    char parent[4096];
    size_t rl = strlen(run);
    while (rl > 1 && run[rl - 1] == '/') rl--;
    if (rl >= 6 && rl < sizeof parent && !strncmp(run + rl - 6, "/model", 6)) {
        snprintf(parent, sizeof parent, "%.*s", (int)(rl - 6), run);
        run = parent;
    } else if (rl == 5 && !strncmp(run, "model", 5)) {
        run = ".";
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
    const int shapes = !strcmp(ds.source, "shapes");
    const int features = tc.cond == GD_COND_CLUSTER || (tc.cond == GD_COND_FEATURE && !shapes);
    if (!shapes && !features && !score) {
        fprintf(stderr, "gmmdiff eval: %s is a %s-conditioned run on '%s'; the judge scores "
                        "shapes runs; give --score-classifier DIR to score it with a classifier "
                        "trained on real data\n", run, gd_cond_mode_name(tc.cond), ds.source);
        return 2;
    }
    if (score && tc.cond == GD_COND_CLUSTER) {
        fprintf(stderr, "gmmdiff eval: %s is a cluster run: it has no classes for "
                        "--score-classifier\n", run);
        return 2;
    }
    gd_classifier clf = {0}; /* opened first: a bad directory is refused before any sampling */
    if (score && gd_classifier_open(&clf, score, 100, &err)) {
        fprintf(stderr, "gmmdiff eval: --score-classifier: %s\n", err.msg);
        return 1;
    }
    json_t *o = json_object();
    gd_status s = GD_OK;
    if (features)
        s = eval_features(run, &tc, &ds, &eo, per_given ? eo.per_class : 16, pool, sampler, o,
                          &err);
    else if (shapes)
        s = eval_judge(run, &tc, &eo, sampler, o, &err);
    else {
        json_object_set_new(o, "run", json_string(run));
        json_object_set_new(o, "cond", json_string(gd_cond_mode_name(tc.cond)));
        json_object_set_new(o, "data", json_string(ds.source));
    }
    if (!s && score) {
        /* --grid: the scored samples, when no other evaluation draws it */
        gd_eval_classes_opts co = {score_per, eo.steps, eo.cfg, eo.seed, 64,
                                   shapes || features ? NULL : eo.grid};
        s = eval_scored(run, &clf, score, &co, o, &err);
    }
    gd_classifier_close(&clf);
    if (s) {
        json_decref(o);
        fprintf(stderr, "gmmdiff eval: %s\n", err.msg);
        return 1;
    }
    return emit(o, out);
}
