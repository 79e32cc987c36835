/* cmd_classifier.c - `gmmdiff classifier train|eval`: the attribute classifier of
 * include/gmmdiff/classifier.h, trained on real data; its accuracy on a data set, and the class
 * accuracy of a trained diffusion run's class-conditional samples. */
#include "cli.h"
#include "eval_classes.h"
#include "gmmdiff/classifier.h"
#include "gmmdiff/ops.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void classifier_help(void) {
    printf("usage: gmmdiff classifier train --out DIR [data flags] [options]\n"
           "       gmmdiff classifier eval --model DIR [data flags] [--split train|test] [--n N]\n"
           "       gmmdiff classifier eval --model DIR --run RUN [--per-class N] [--cfg W] ...\n"
           "\n"
           "An image classifier with one head per categorical attribute of the data (for\n"
           "Fashion-MNIST: the label; for shapes: shape, size, position, intensity).\n"
           "`train` trains it on the training split, saves DIR/config.json and\n"
           "DIR/classifier.safetensors, and prints its accuracy on the evaluation split\n"
           "(Fashion-MNIST t10k; CelebA partition 2; shapes: all 48 combinations, another seed).\n"
           "`eval --run RUN` draws class-conditional samples from RUN/model for every class\n"
           "of RUN's data set and prints the classifier's accuracy on them (a JSON line too).\n"
           "\n"
           "data (train, eval without --run):\n%s"
           "  --split S          eval: train | test (default test)\n"
           "  --n N              eval: at most N items (default all)\n"
           "train:\n"
           "  --out DIR          the classifier's directory (created)\n"
           "  --steps N          optimizer steps (default 1500)\n"
           "  --batch B          batch size (default 64)\n"
           "  --lr X             peak learning rate, warmup then cosine (default 2e-3)\n"
           "  --weight-decay X   AdamW weight decay (default 0)\n"
           "  --seed S           seed of weights and data order (default 0)\n"
           "  --noisy            time-conditioned, trained on noisy x_t (t ~ U{0..999}, linear\n"
           "                     schedule) for classifier guidance; default clean images\n"
           "  --loss L           bce | ngmg (default bce): NGMG trains each output by the\n"
           "                     gradient of a negative Gaussian mixture potential around its\n"
           "                     target (docs/NGMG.md)\n"
           "  --ngmg-min S       NGMG: smallest width of the ladder (default 0.5)\n"
           "  --ngmg-max S       NGMG: largest width (default 8)\n"
           "  --ngmg-widths J    NGMG: widths, geometric from min to max (default 5; 1: the\n"
           "                     single width --ngmg-min)\n"
           "  --log FILE         a JSON record of the run: every step's loss and gradient norm\n"
           "                     (before clipping), the evaluation accuracy per attribute, and\n"
           "                     (--noisy) the accuracy on x_t at t = 300\n"
           "eval --run:\n"
           "  --run RUN          a class-conditioned training run directory (gmmdiff train)\n"
           "  --per-class N      samples per class (default 50)\n"
           "  --steps N          DDIM steps (default 50)\n"
           "  --cfg W            classifier-free guidance scale (default 2; 1 off)\n"
           "  --seed S           sampling seed (default 0)\n"
           "  --grid FILE        a PNG of the samples, one row per class\n"
           "common:\n"
           "  --threads T        threads (default: all cores)\n",
           gd_cli_data_help);
}

static int cmd_train(int argc, char **argv) {
    gd_cli_data ds;
    gd_cli_data_default(&ds);
    gd_classifier_train_opts o = gd_classifier_train_defaults();
    const char *out = NULL;
    int noisy = 0, threads = 0, widths = 5;
    const char *log_path = NULL;
    float s_min = 0.5f, s_max = 8.0f;
    gd_classifier_loss loss = GD_CLS_LOSS_BCE;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int took = gd_cli_data_flag(&ds, a, v);
        if (took) { i += took - 1; continue; }
        if (!strcmp(a, "--help")) { classifier_help(); return 0; }
        else if (!strcmp(a, "--out") && v) out = v;
        else if (!strcmp(a, "--steps")) o.steps = gd_cli_int(a, v, 1, 10000000);
        else if (!strcmp(a, "--batch")) o.batch = gd_cli_int(a, v, 1, 65536);
        else if (!strcmp(a, "--lr")) o.lr = (float)gd_cli_num(a, v, 1e-8, 10);
        else if (!strcmp(a, "--weight-decay")) o.weight_decay = (float)gd_cli_num(a, v, 0, 10);
        else if (!strcmp(a, "--seed")) o.seed = (uint64_t)gd_cli_int(a, v, 0, 2147483647);
        else if (!strcmp(a, "--threads")) threads = gd_cli_int(a, v, 1, 1024);
        else if (!strcmp(a, "--noisy")) { noisy = 1; continue; }
        else if (!strcmp(a, "--loss") && v) {
            if (gd_classifier_loss_parse(v, &loss)) {
                fprintf(stderr, "gmmdiff classifier train: --loss: '%s' is not bce or ngmg\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--ngmg-min")) s_min = (float)gd_cli_num(a, v, 1e-6, 1e6);
        else if (!strcmp(a, "--ngmg-max")) s_max = (float)gd_cli_num(a, v, 1e-6, 1e6);
        else if (!strcmp(a, "--ngmg-widths")) widths = gd_cli_int(a, v, 1, GD_NGMG_MAX_WIDTHS);
        else if (!strcmp(a, "--log") && v) log_path = v;
        else {
            fprintf(stderr, "gmmdiff classifier train: unknown or incomplete flag '%s' (see "
                            "--help)\n", a);
            return 2;
        }
        i++;
    }
    if (!out) {
        fprintf(stderr, "gmmdiff classifier train: --out DIR is required (see --help)\n");
        return 2;
    }
    if (s_max < s_min) {
        fprintf(stderr, "gmmdiff classifier train: --ngmg-max %g is below --ngmg-min %g\n",
                (double)s_max, (double)s_min);
        return 2;
    }
    gd_set_num_threads(threads);
    o.noisy = noisy;
    o.log_every = 100;
    gd_error err = {0};
    gd_dataset d = {0}, test = {0};
    gd_classifier m = {0};
    gd_classifier_config c;
    int rc = 1;
    if (mkdir(out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "gmmdiff classifier train: %s: cannot create: %s\n", out, strerror(errno));
        return 1;
    }
    if (gd_cli_data_open(&d, &ds, &err) || gd_classifier_config_for(&c, &d, noisy, &err))
        goto fail;
    c.loss = loss;
    c.ngmg_min = s_min;
    c.ngmg_max = s_max;
    c.ngmg_widths = widths;
    if (gd_classifier_create(&m, &c, o.batch, o.seed, &err)) goto fail;
    printf("classifier: %d heads, %d items of %s, %d steps, batch %d\n", c.n_heads, d.n, d.name,
           o.steps, o.batch);
    if (log_path) {
        o.loss_log = calloc((size_t)o.steps, sizeof(float));
        o.gnorm_log = calloc((size_t)o.steps, sizeof(float));
        if (!o.loss_log || !o.gnorm_log) {
            err.msg[0] = 0;
            gd_error_set(&err, GD_ERR_NOMEM, "out of memory");
            goto fail;
        }
    }
    float final_loss;
    if (gd_classifier_train(&m, &d, &o, &final_loss, &err) || gd_classifier_save(&m, out, &err))
        goto fail;
    gd_dataset_free(&d);
    ds.test = 1;
    if (gd_cli_data_open(&test, &ds, &err)) goto fail;
    double acc[GD_CLS_MAX_HEADS];
    if (gd_classifier_accuracy(&m, &test, 0, acc, &err)) goto fail;
    printf("final loss %.5f; accuracy on %d evaluation items:", final_loss, test.n);
    for (int h = 0; h < c.n_heads; h++) printf(" %s %.4f", c.head_names[h], acc[h]);
    printf("\n");
    if (log_path) {
        double nacc[GD_CLS_MAX_HEADS];
        if (noisy && gd_classifier_accuracy_noisy(&m, &test, 0, 300, 17, nacc, &err)) goto fail;
        json_t *o2 = json_object(), *ls = json_array(), *gs = json_array(), *a1 = json_object();
        for (int i = 0; i < o.steps; i++) {
            json_array_append_new(ls, json_real(o.loss_log[i]));
            json_array_append_new(gs, json_real(o.gnorm_log[i]));
        }
        for (int h = 0; h < c.n_heads; h++) json_object_set_new(a1, c.head_names[h], json_real(acc[h]));
        json_object_set_new(o2, "loss_type", json_string(gd_classifier_loss_name(c.loss)));
        json_object_set_new(o2, "lr", json_real(o.lr));
        json_object_set_new(o2, "seed", json_integer((json_int_t)o.seed));
        json_object_set_new(o2, "steps", json_integer(o.steps));
        json_object_set_new(o2, "loss", ls);
        json_object_set_new(o2, "grad_norm", gs);
        json_object_set_new(o2, "accuracy", a1);
        if (noisy) {
            json_t *a2 = json_object();
            for (int h = 0; h < c.n_heads; h++)
                json_object_set_new(a2, c.head_names[h], json_real(nacc[h]));
            json_object_set_new(o2, "accuracy_noisy_t300", a2);
        }
        char *text = json_dumps(o2, JSON_COMPACT | JSON_REAL_PRECISION(7));
        json_decref(o2);
        gd_status ws = text ? gd_write_text_atomic(log_path, text, &err)
                            : gd_error_set(&err, GD_ERR_NOMEM, "%s: out of memory", log_path);
        free(text);
        if (ws) goto fail;
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "gmmdiff classifier train: %s\n", err.msg);
done:
    free(o.loss_log);
    free(o.gnorm_log);
    gd_classifier_close(&m);
    gd_dataset_free(&d);
    gd_dataset_free(&test);
    return rc;
}

static int cmd_eval(int argc, char **argv) {
    gd_cli_data ds;
    gd_cli_data_default(&ds);
    ds.test = 1;
    const char *model = NULL, *run = NULL;
    int threads = 0, max_n = 0, data_given = 0;
    gd_eval_classes_opts eo = {50, 50, 2.0f, 0, 100, NULL};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int took = gd_cli_data_flag(&ds, a, v);
        if (took) { i += took - 1; data_given = 1; continue; }
        if (!strcmp(a, "--help")) { classifier_help(); return 0; }
        else if (!strcmp(a, "--model") && v) model = v;
        else if (!strcmp(a, "--run") && v) run = v;
        else if (!strcmp(a, "--split") && v) {
            if (strcmp(v, "train") && strcmp(v, "test")) {
                fprintf(stderr, "gmmdiff classifier eval: --split: '%s' is not train or test\n", v);
                return 2;
            }
            ds.test = !strcmp(v, "test");
        } else if (!strcmp(a, "--n")) max_n = gd_cli_int(a, v, 1, 100000000);
        else if (!strcmp(a, "--per-class")) eo.per_class = gd_cli_int(a, v, 1, 100000);
        else if (!strcmp(a, "--steps")) eo.steps = gd_cli_int(a, v, 1, 1000);
        else if (!strcmp(a, "--cfg")) eo.cfg = (float)gd_cli_num(a, v, 0, 100);
        else if (!strcmp(a, "--seed")) eo.seed = (uint64_t)gd_cli_int(a, v, 0, 2147483647);
        else if (!strcmp(a, "--grid") && v) eo.grid = v;
        else if (!strcmp(a, "--threads")) threads = gd_cli_int(a, v, 1, 1024);
        else {
            fprintf(stderr, "gmmdiff classifier eval: unknown or incomplete flag '%s' (see "
                            "--help)\n", a);
            return 2;
        }
        i++;
    }
    if (!model) {
        fprintf(stderr, "gmmdiff classifier eval: --model DIR is required (see --help)\n");
        return 2;
    }
    if (run && data_given) {
        fprintf(stderr, "gmmdiff classifier eval: --run takes its data set from the run; give "
                        "no data flags with it\n");
        return 2;
    }
    gd_set_num_threads(threads);
    gd_error err = {0};
    gd_classifier m = {0};
    gd_dataset d = {0};
    int rc = 1;
    if (gd_classifier_open(&m, model, 100, &err)) goto fail;
    if (run) {
        gd_eval_classes_result r;
        if (gd_eval_classes(run, &m, &eo, &r, &err)) goto fail;
        printf("%d samples (%d per class, %d classes), DDIM %d, cfg %.2f, seed %llu:", r.n,
               eo.per_class, r.n_classes, eo.steps, (double)eo.cfg, (unsigned long long)eo.seed);
        for (int h = 0; h < r.n_heads; h++) printf(" %s %.4f", r.head_names[h], r.acc[h]);
        printf(" exact %.4f; FD %.4f, precision %.3f, recall %.3f against %d real items\n",
               r.exact, r.fd, r.precision, r.recall, r.n_real);
        json_t *o = gd_eval_classes_json(&r);
        json_object_set_new(o, "run", json_string(run));
        char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
        printf("%s\n", text ? text : "{}");
        free(text);
        json_decref(o);
    } else {
        if (gd_cli_data_open(&d, &ds, &err)) goto fail;
        double acc[GD_CLS_MAX_HEADS];
        if (gd_classifier_accuracy(&m, &d, max_n, acc, &err)) goto fail;
        int n = max_n > 0 && max_n < d.n ? max_n : d.n;
        printf("accuracy on %d %s items of %s:", n, ds.test ? "evaluation" : "training", d.name);
        for (int h = 0; h < m.config.n_heads; h++)
            printf(" %s %.4f", m.config.head_names[h], acc[h]);
        printf("\n");
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "gmmdiff classifier eval: %s\n", err.msg);
done:
    gd_classifier_close(&m);
    gd_dataset_free(&d);
    return rc;
}

int gd_cmd_classifier(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        classifier_help();
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "train")) return cmd_train(argc, argv);
    if (!strcmp(argv[1], "eval")) return cmd_eval(argc, argv);
    fprintf(stderr, "gmmdiff classifier: unknown subcommand '%s' (train or eval)\n", argv[1]);
    return 2;
}
