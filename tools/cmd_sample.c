/* cmd_sample.c - `gmmdiff sample`: draws a batch from a UNet2DModel directory and writes a PNG
 * grid (and optionally the raw samples as .npy). Same seed, same bytes. */
#include "cli.h"
#include "gmmdiff/classifier.h"
#include "gmmdiff/condition.h"
#include "gmmdiff/diffusion.h"
#include "gmmdiff/image.h"
#include "gmmdiff/npy.h"
#include "gmmdiff/unet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void sample_help(void) {
    printf(
        "usage: gmmdiff sample --model DIR --out GRID.png [options]\n"
        "  --model DIR        a UNet2DModel directory (config.json, diffusion_pytorch_model.safetensors,\n"
        "                     optional scheduler_config.json) or a diffusers pipeline directory\n"
        "                     (unet/, scheduler/)\n"
        "  --out GRID.png     the sample grid\n"
        "  --npy FILE         also write the samples, [n, C, H, W] in [-1, 1]\n"
        "  --n N              number of samples (default 16)\n"
        "  --cols C           grid columns (default ceil(sqrt(n)))\n"
        "  --sampler S        ddpm | ddim | dpm++2m (default ddim)\n"
        "  --steps K          sampling steps (default 50)\n"
        "  --eta E            DDIM noise, 0..1 (default 0)\n"
        "  --spacing S        leading | trailing | linspace (default: the sampler's diffusers default)\n"
        "  --no-clip          do not clamp x0 predictions to [-1, 1] (DDPM, DDIM)\n"
        "  --clipped-eps      DDIM: recompute eps from the clamped x0 (diffusers'\n"
        "                     use_clipped_model_output); recommended for data that saturates\n"
        "                     at -1 or 1, docs/MODELS.md\n"
        "  --prediction P     epsilon | v_prediction | sample (default: scheduler_config.json, else epsilon)\n"
        "  --seed S           seed of the initial noise and the sampler noise (default 0)\n"
        "  --class K          class label (or number, for class_embed_type timestep) for every sample;\n"
        "                     table-conditioned models cycle through all classes by default\n"
        "  --cond FILE.npy    condition vectors, [D] or [n, D] (class_embed_type identity)\n"
        "  --features SPEC    a feature-conditioned model (gmmdiff train --cond feature):\n"
        "                     attribute=value pairs, e.g. \"shape=circle,size=large\"; a\n"
        "                     continuous attribute takes a number; attributes not named are\n"
        "                     drawn per sample from the data's distribution (all of them\n"
        "                     when --features is not given); see docs/CONDITIONING.md\n"
        "  --cfg W            classifier-free guidance scale (default 1: off)\n"
        "  --null-class K     the class label reserved as the learned null condition; without it the\n"
        "                     null condition is a zero class embedding\n"
        "  --classifier DIR   classifier guidance by this classifier (gmmdiff classifier train\n"
        "                     --noisy, BCE or NGMG) toward the values of --guide\n"
        "  --guide SPEC       the classifier's target for every sample: a value for each of its\n"
        "                     attributes, e.g. \"shape=circle,size=large,position=top_left,\n"
        "                     intensity=bright\"\n"
        "  --classifier-scale S  the guidance scale s: eps -= s sqrt(1 - alpha_bar_t) d log p / dx\n"
        "                     (default 1 when --classifier is given)\n"
        "  --threads T        threads (default: all cores)\n");
}

typedef struct {
    gd_graph *g;
    gd_unet_io io;
    size_t n, ncls;
    float *cond, *null; /* class-input values for the conditional and the null pass */
} unet_ctx;

static int is_file(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int parse_num(const char *flag, const char *v, double *out) {
    char *end;
    if (!v) { fprintf(stderr, "gmmdiff sample: %s needs a value\n", flag); return 0; }
    *out = strtod(v, &end);
    if (*end || end == v || !isfinite(*out)) {
        fprintf(stderr, "gmmdiff sample: %s: '%s' is not a number\n", flag, v);
        return 0;
    }
    return 1;
}

int gd_cmd_sample(int argc, char **argv) {
    const char *model = NULL, *out = NULL, *npy = NULL, *cond_path = NULL;
    const char *sampler = "ddim", *spacing = NULL, *pred = NULL;
    int n = 16, cols = 0, steps = 50, threads = 0, no_clip = 0, seed = 0, clipped_eps = 0;
    const char *features = NULL, *clf_dir = NULL, *guide_spec = NULL;
    int have_class = 0, have_null = 0;
    double eta = 0, cfg = 1, cls = 0, null_cls = 0, clf_scale = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) { sample_help(); return 0; }
        else if (!strcmp(a, "--model") && v) { model = v; i++; }
        else if (!strcmp(a, "--out") && v) { out = v; i++; }
        else if (!strcmp(a, "--npy") && v) { npy = v; i++; }
        else if (!strcmp(a, "--cond") && v) { cond_path = v; i++; }
        else if (!strcmp(a, "--sampler") && v) { sampler = v; i++; }
        else if (!strcmp(a, "--spacing") && v) { spacing = v; i++; }
        else if (!strcmp(a, "--prediction") && v) { pred = v; i++; }
        else if (!strcmp(a, "--n")) { n = gd_cli_int(a, v, 1, 1024); i++; }
        else if (!strcmp(a, "--cols")) { cols = gd_cli_int(a, v, 1, 1024); i++; }
        else if (!strcmp(a, "--steps")) { steps = gd_cli_int(a, v, 1, 100000); i++; }
        else if (!strcmp(a, "--seed")) { seed = gd_cli_int(a, v, 0, 2147483647); i++; }
        else if (!strcmp(a, "--threads")) { threads = gd_cli_int(a, v, 1, 1024); i++; }
        else if (!strcmp(a, "--no-clip")) no_clip = 1;
        else if (!strcmp(a, "--clipped-eps")) clipped_eps = 1;
        else if (!strcmp(a, "--features") && v) { features = v; i++; }
        else if (!strcmp(a, "--classifier") && v) { clf_dir = v; i++; }
        else if (!strcmp(a, "--guide") && v) { guide_spec = v; i++; }
        else if (!strcmp(a, "--classifier-scale")) { if (!parse_num(a, v, &clf_scale)) return 2; i++; }
        else if (!strcmp(a, "--eta")) { if (!parse_num(a, v, &eta)) return 2; i++; }
        else if (!strcmp(a, "--cfg")) { if (!parse_num(a, v, &cfg)) return 2; i++; }
        else if (!strcmp(a, "--class")) { if (!parse_num(a, v, &cls)) return 2; have_class = 1; i++; }
        else if (!strcmp(a, "--null-class")) { if (!parse_num(a, v, &null_cls)) return 2; have_null = 1; i++; }
        else {
            fprintf(stderr, "gmmdiff sample: unknown or incomplete flag '%s' (see --help)\n", a);
            return 2;
        }
    }
    if (!model || !out) {
        fprintf(stderr, "gmmdiff sample: --model and --out are required (see --help)\n");
        return 2;
    }
    if (!clf_dir != !guide_spec) {
        fprintf(stderr, "gmmdiff sample: --classifier and --guide go together (see --help)\n");
        return 2;
    }
    gd_sampler_kind kind;
    if (gd_sampler_parse(sampler, &kind)) {
        fprintf(stderr, "gmmdiff sample: --sampler: '%s' is not ddpm, ddim or dpm++2m\n", sampler);
        return 2;
    }
    gd_sampler_config sc = gd_sampler_defaults(kind);
    if (spacing && gd_spacing_parse(spacing, &sc.spacing)) {
        fprintf(stderr, "gmmdiff sample: --spacing: '%s' is not leading, trailing or linspace\n", spacing);
        return 2;
    }
    if (eta < 0 || eta > 1 || (eta > 0 && kind != GD_SAMPLER_DDIM)) {
        fprintf(stderr, "gmmdiff sample: --eta must be in [0, 1] and is for ddim only\n");
        return 2;
    }
    if (cond_path && have_class) {
        fprintf(stderr, "gmmdiff sample: give --class or --cond, not both\n");
        return 2;
    }
    gd_set_num_threads(threads);

    /* the model directory, plain or a pipeline's */
    char udir[4096], path[4200], spath[4200];
    snprintf(path, sizeof path, "%s/unet/config.json", model);
    int pipeline = is_file(path);
    snprintf(udir, sizeof udir, pipeline ? "%s/unet" : "%s", model);
    snprintf(spath, sizeof spath, pipeline ? "%s/scheduler/scheduler_config.json"
                                           : "%s/scheduler_config.json", model);
    snprintf(path, sizeof path, "%s/config.json", udir);
    gd_error err = {0};
    gd_unet_config c;
    gd_scheduler_config schc;
    gd_scheduler_config_default(&schc);
    if (gd_unet_config_load(&c, path, &err) ||
        (is_file(spath) && gd_scheduler_config_load(&schc, spath, &err))) {
        fprintf(stderr, "gmmdiff sample: %s\n", err.msg);
        return 1;
    }
    sc.prediction = schc.prediction;
    if (pred && gd_prediction_parse(pred, &sc.prediction)) {
        fprintf(stderr, "gmmdiff sample: --prediction: '%s' is not epsilon, v_prediction or sample\n", pred);
        return 2;
    }
    if (kind != GD_SAMPLER_DPMPP_2M) sc.clip_sample = schc.clip_sample && !no_clip;
    sc.clip_range = schc.clip_sample_range;
    sc.use_clipped_model_output = clipped_eps;
    sc.steps = steps;
    sc.eta = (float)eta;

    int rc = 1;
    unet_ctx u = {0};
    gd_npy cv = {0};
    float *x = NULL, *target = NULL;
    gd_classifier clf = {0};
    int clf_open = 0;
    gd_noise_schedule sched = {0};
    int S = c.sample_size;
    u.g = gd_graph_new();
    u.io = gd_unet_declare(u.g, &c, n, S, S);
    u.n = (size_t)n * c.in_channels * S * S;
    if (gd_graph_plan_inference(u.g, &err) || gd_unet_load_weights(u.g, udir, &err) ||
        gd_schedule_from_config(&sched, &schc, &err)) {
        fprintf(stderr, "gmmdiff sample: %s\n", err.msg);
        goto done;
    }
    if (u.io.cls < 0 && (have_class || cond_path || have_null || cfg != 1)) {
        fprintf(stderr, "gmmdiff sample: %s has no class embedding: --class, --cond, --cfg and "
                        "--null-class do not apply\n", udir);
        rc = 2;
        goto done;
    }
    if (u.io.cls >= 0) {
        u.ncls = gd_numel(u.g, u.io.cls);
        u.cond = calloc(u.ncls, sizeof(float));
        u.null = calloc(u.ncls, sizeof(float));
        if (!u.cond || !u.null) goto done;
        size_t per = u.ncls / (size_t)n;
        snprintf(path, sizeof path, "%s/condition.json", udir);
        if (c.class_embed == GD_CLASS_EMBED_IDENTITY && is_file(path) && !cond_path) {
            /* a feature-conditioned model: compose the condition of --features */
            gd_condition cnd;
            float *means = NULL;
            if (have_null || have_class) {
                fprintf(stderr, "gmmdiff sample: --class and --null-class do not apply to a "
                                "feature model (use --features; its null condition is learned)\n");
                rc = 2;
                goto done;
            }
            if (gd_condition_load(&cnd, &means, udir, &err)) {
                fprintf(stderr, "gmmdiff sample: %s\n", err.msg);
                goto done;
            }
            int rows[GD_DATA_MAX_ATTRS];
            if ((size_t)cnd.dim != per ||
                gd_condition_parse_features(&cnd, features ? features : "", rows, &err)) {
                if ((size_t)cnd.dim != per)
                    fprintf(stderr, "gmmdiff sample: %s/condition.json: dim %d, the UNet takes "
                                    "%zu\n", udir, cnd.dim, per);
                else fprintf(stderr, "gmmdiff sample: %s\n", err.msg);
                free(means);
                rc = cnd.dim != (int)per ? 1 : 2;
                goto done;
            }
            gd_rng fr; /* the unnamed attributes and the components' noise: their own stream */
            gd_rng_seed(&fr, (uint64_t)seed * 2654435761u + 17);
            for (int i = 0; i < n; i++) {
                int ri[GD_DATA_MAX_ATTRS];
                memcpy(ri, rows, sizeof rows);
                gd_condition_fill_rows(&cnd, ri, &fr);
                gd_condition_compose(&cnd, means, ri, &fr, u.cond + (size_t)i * per);
                gd_condition_null(&cnd, means, u.null + (size_t)i * per);
            }
            free(means);
        } else if (features) {
            fprintf(stderr, "gmmdiff sample: --features needs a feature-conditioned model "
                            "(%s/condition.json)\n", udir);
            rc = 2;
            goto done;
        } else if (c.class_embed == GD_CLASS_EMBED_IDENTITY) {
            if (!cond_path) {
                fprintf(stderr, "gmmdiff sample: class_embed_type identity needs --cond\n");
                rc = 2;
                goto done;
            }
            if (gd_npy_read(&cv, cond_path, &err)) {
                fprintf(stderr, "gmmdiff sample: %s\n", err.msg);
                goto done;
            }
            if (cv.numel != per && cv.numel != u.ncls) {
                fprintf(stderr, "gmmdiff sample: %s: expected [%zu] or [%d, %zu] values\n",
                        cond_path, per, n, per);
                goto done;
            }
            for (size_t i = 0; i < u.ncls; i++) u.cond[i] = cv.data[i % cv.numel];
            if (have_null) {
                fprintf(stderr, "gmmdiff sample: --null-class does not apply to identity "
                                "embeddings (the null is the zero vector)\n");
                rc = 2;
                goto done;
            }
        } else {
            if (cond_path) {
                if (gd_npy_read(&cv, cond_path, &err)) {
                    fprintf(stderr, "gmmdiff sample: %s\n", err.msg);
                    goto done;
                }
                if (cv.numel != (size_t)n) {
                    fprintf(stderr, "gmmdiff sample: %s: expected %d labels\n", cond_path, n);
                    goto done;
                }
                memcpy(u.cond, cv.data, sizeof(float) * (size_t)n);
            } else if (have_class) {
                for (int i = 0; i < n; i++) u.cond[i] = (float)cls;
            } else if (c.class_embed == GD_CLASS_EMBED_TABLE) {
                for (int i = 0; i < n; i++) u.cond[i] = (float)(i % c.num_class_embeds);
            } else {
                fprintf(stderr, "gmmdiff sample: this model needs --class (a number)\n");
                rc = 2;
                goto done;
            }
            if (!have_null && c.class_embed == GD_CLASS_EMBED_TIMESTEP && cfg != 1) {
                fprintf(stderr, "gmmdiff sample: --cfg with a timestep class embedding needs "
                                "--null-class\n");
                rc = 2;
                goto done;
            }
            for (int i = 0; i < n; i++) u.null[i] = have_null ? (float)null_cls : -1.0f;
            if (c.class_embed == GD_CLASS_EMBED_TABLE)
                for (int i = 0; i < n; i++) {
                    float k = u.cond[i], z = u.null[i];
                    if (k != floorf(k) || k < 0 || k >= c.num_class_embeds ||
                        z != floorf(z) || z < -1 || z >= c.num_class_embeds) {
                        fprintf(stderr, "gmmdiff sample: class labels must be integers in [0, %d)\n",
                                c.num_class_embeds);
                        rc = 2;
                        goto done;
                    }
                }
        }
    }
    x = malloc(sizeof(float) * u.n);
    if (!x) goto done;
    gd_guidance gg = {(float)cfg, clf_dir ? (float)clf_scale : 0.0f};
    gd_rng rng;
    gd_rng_seed(&rng, (uint64_t)seed);
    if (clf_dir) {
        if (gd_classifier_open_guide(&clf, clf_dir, n, -1, &err)) {
            fprintf(stderr, "gmmdiff sample: %s\n", err.msg);
            goto done;
        }
        clf_open = 1;
        int vals[GD_CLS_MAX_HEADS];
        if (clf.config.in_channels != c.in_channels || clf.config.sample_size != S) {
            fprintf(stderr, "gmmdiff sample: %s reads %dx%dx%d images, the model makes %dx%dx%d\n",
                    clf_dir, clf.config.in_channels, clf.config.sample_size,
                    clf.config.sample_size, c.in_channels, S, S);
            rc = 2;
            goto done;
        }
        if (gd_classifier_parse_values(&clf.config, guide_spec, vals, &err)) {
            fprintf(stderr, "gmmdiff sample: --guide: %s\n", err.msg);
            rc = 2;
            goto done;
        }
        int n_out = gd_classifier_n_out(&clf.config);
        target = malloc(sizeof(float) * (size_t)n * n_out);
        if (!target) goto done;
        for (int i = 0; i < n; i++) gd_classifier_target_row(&clf.config, vals, target + (size_t)i * n_out);
    }
    gd_classifier_guide gc = {&clf, target};
    if (gd_unet_sample_guided(u.g, &u.io, &sc, &sched, u.cond, u.null, &gg,
                              clf_dir ? gd_classifier_guide_grad : NULL, &gc, x, &rng, &err)) {
        fprintf(stderr, "gmmdiff sample: %s\n", err.msg);
        goto done;
    }
    if (!cols) cols = (int)ceil(sqrt((double)n));
    if (gd_png_write_grid(out, x, n, c.in_channels, S, S, cols, &err)) {
        fprintf(stderr, "gmmdiff sample: %s\n", err.msg);
        goto done;
    }
    int64_t shape[4] = {n, c.in_channels, S, S};
    if (npy && gd_npy_write(npy, x, 4, shape, &err)) {
        fprintf(stderr, "gmmdiff sample: %s\n", err.msg);
        goto done;
    }
    printf("wrote %s (%d samples, %s, %d steps, seed %d)\n", out, n, sampler, steps, seed);
    rc = 0;
done:
    if (clf_open) gd_classifier_close(&clf);
    free(target);
    free(x);
    free(u.cond);
    free(u.null);
    gd_npy_free(&cv);
    gd_schedule_free(&sched);
    gd_graph_free(u.g);
    return rc;
}
