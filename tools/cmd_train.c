/* cmd_train.c - `gmmdiff train`: trains a UNet2DModel on a data set into a self-describing,
 * resumable run directory (run.json, model/, state.safetensors, metrics, sample grids). */
#include "cli.h"
#include "mpi_run.h"
#include "gmmdiff/classifier.h"
#include "gmmdiff/cluster.h"
#include "gmmdiff/image.h"
#include "gmmdiff/metrics.h"
#include "gmmdiff/train.h"
#include "train_run.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static void train_help(void) {
    printf(
        "usage: gmmdiff train --out DIR [options]        a new run\n"
        "       gmmdiff train --resume DIR [--steps N]   continue a run from its last checkpoint\n"
        "data:\n"
        "  --data NAME        shapes (built in, default) | fashion-mnist | celeba | a folder of\n"
        "                     PNGs with attributes.csv (docs/DATA.md)\n"
        "  --data-dir DIR     fashion-mnist: the IDX files (default " "/usr/share/datasets/fashion-mnist)\n"
        "                     celeba: the folder holding img_align_celeba/ and list_attr_celeba.txt\n"
        "  --image-size S     shapes: image side, 16, 28 or 32 (default 16); celeba: any (64)\n"
        "  --rgb              a folder: read the PNGs as RGB (default grey)\n"
        "  --n-data N         shapes: items generated (default 20000)\n"
        "  --data-seed S      shapes: the data set's seed (default 1)\n"
        "  --limit N          fashion-mnist / folder: use at most N items (default all)\n"
        "model:\n"
        "  --cond MODE        none | class | feature | cluster (default class): feature composes\n"
        "                     one Gaussian component per attribute value; cluster needs no\n"
        "                     labels: the components of a GMM over a PCA of the images\n"
        "                     (docs/CONDITIONING.md)\n"
        "  --unet-config F    a UNet2DModel config.json (default: 3 levels 32,64,64, attention at\n"
        "                     the lowest level, sized to the data)\n"
        "  --channels A,B,..  block_out_channels of the default UNet\n"
        "  --layers-per-block N  of the default UNet (default 1)\n"
        "  --prediction P     epsilon | v_prediction | sample (default epsilon)\n"
        "  --beta-schedule B  linear | scaled_linear | squaredcos_cap_v2 (default linear)\n"
        "  --timesteps T      num_train_timesteps (default 1000)\n"
        "optimisation:\n"
        "  --steps N          optimizer steps (default 1000)\n"
        "  --batch B          batch size (default 64)\n"
        "  --lr X             peak learning rate (default 1e-3)\n"
        "  --warmup N         linear warmup steps (default 100)\n"
        "  --lr-schedule S    cosine | constant after warmup (default cosine)\n"
        "  --weight-decay X   AdamW decoupled weight decay (default 0)\n"
        "  --clip X           max gradient norm, 0 off (default 1)\n"
        "  --ema-decay X      EMA max decay, warmup power 3/4 (default 0.999)\n"
        "  --cond-drop P      probability of the null condition per item (default 0.1)\n"
        "  --cond-sigma S     sigma of each component N(mu, S^2 I): feature and cluster\n"
        "                     (default 0.1); class (default 0: diffusers' class table; > 0:\n"
        "                     one component per class, the attribute \"class\")\n"
        "  --cond-components K  feature: 1-D GMM components per continuous attribute (3)\n"
        "  --clusters K       cluster: GMM components (default 10)\n"
        "  --aux-weight L     the feature-consistency term's weight (default 0: off): each x0\n"
        "                     prediction goes through --aux-classifier, whose loss flows back\n"
        "                     into the denoiser, weighted L * alpha_bar_t (docs/NGMG.md)\n"
        "  --aux-classifier D a classifier of the data's attributes (gmmdiff classifier\n"
        "                     train), frozen\n"
        "  --aux-loss L       bce | ngmg: the term's signal (default: the classifier's loss)\n"
        "  --cluster-dims N   cluster: principal directions the GMM is fitted in (default 16)\n"
        "  --seed S           seed of weights, data order, noise and dropout (default 0)\n"
        "run:\n"
        "  --ckpt-every N     checkpoint every N steps and at the end (default 250)\n"
        "  --sample-every N   write samples/step_N.png every N steps, 0 off (default: ckpt-every)\n"
        "  --log-every N      metrics line every N steps (default 10)\n"
        "  --stop-at N        checkpoint and stop after step N of the schedule (resume later)\n"
        "  --progress M       auto | bar | plain | none (default auto: bar on a terminal)\n"
        "  --threads T        threads (default: all cores)\n"
        "Ctrl-C stops after the current step and writes a checkpoint; a NaN or Inf loss stops\n"
        "with a message and keeps the last checkpoint. See docs/TRAINING.md.\n");
}

static volatile sig_atomic_t g_stop = 0;
static void on_signal(int sig) { g_stop = sig; }

static int parse_channels(const char *v, gd_unet_config *u) {
    int n = 0;
    const char *p = v;
    while (p && *p && n < GD_UNET_MAX_BLOCKS) {
        char *end;
        long c = strtol(p, &end, 10);
        if (end == p || c < 1 || c > 4096 || (*end && *end != ',')) return 0;
        u->block_out_channels[n++] = (int)c;
        p = *end ? end + 1 : end;
    }
    if (n < 1 || *p) return 0;
    u->n_blocks = n;
    for (int i = 0; i < n; i++) {
        u->down_attn[i] = n > 1 && i == n - 1;
        u->up_attn[i] = n > 1 && i == 0;
    }
    return 1;
}

int gd_cmd_train(int argc, char **argv) {
    gd_train_config tc;
    gd_train_config_default(&tc);
    gd_cli_data ds;
    gd_cli_data_default(&ds);
    gd_train_run_opts ro = gd_train_run_defaults();
    const char *out = NULL, *resume = NULL, *unet_path = NULL, *channels = NULL;
    int lpb = 1, steps_given = 0, other_given = 0, threads = 0, size_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1, other = 1;
        if (!strcmp(a, "--help")) { train_help(); return 0; }
        else if (!strcmp(a, "--out") && v) { out = v; other = 0; }
        else if (!strcmp(a, "--resume") && v) { resume = v; other = 0; }
        else if (!strcmp(a, "--data") && v) snprintf(ds.source, sizeof ds.source, "%s", v);
        else if (!strcmp(a, "--image-size")) { ds.size = gd_cli_int(a, v, 1, 1024); size_given = 1; }
        else if (!strcmp(a, "--data-dir") && v) snprintf(ds.dir, sizeof ds.dir, "%s", v);
        else if (!strcmp(a, "--rgb")) { ds.channels = 3; takes = 0; }
        else if (!strcmp(a, "--n-data")) ds.n = gd_cli_int(a, v, 1, 10000000);
        else if (!strcmp(a, "--data-seed")) ds.seed = (uint64_t)gd_cli_int(a, v, 0, 2147483647);
        else if (!strcmp(a, "--limit")) ds.limit = gd_cli_int(a, v, 0, 100000000);
        else if (!strcmp(a, "--cond") && v) {
            if (gd_cond_mode_parse(v, &tc.cond)) {
                fprintf(stderr, "gmmdiff train: --cond: '%s' is not none, class, feature or cluster\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--unet-config") && v) unet_path = v;
        else if (!strcmp(a, "--channels") && v) channels = v;
        else if (!strcmp(a, "--layers-per-block")) lpb = gd_cli_int(a, v, 1, 8);
        else if (!strcmp(a, "--prediction") && v) {
            if (gd_prediction_parse(v, &tc.sched.prediction)) {
                fprintf(stderr, "gmmdiff train: --prediction: '%s' is not epsilon, v_prediction "
                                "or sample\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--beta-schedule") && v) {
            if (gd_beta_schedule_parse(v, &tc.sched.beta_schedule)) {
                fprintf(stderr, "gmmdiff train: --beta-schedule: '%s' is not linear, "
                                "scaled_linear or squaredcos_cap_v2\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--timesteps")) tc.sched.num_train_timesteps = gd_cli_int(a, v, 2, 100000);
        else if (!strcmp(a, "--steps")) { tc.steps = gd_cli_int(a, v, 1, 100000000); steps_given = 1; other = 0; }
        else if (!strcmp(a, "--batch")) tc.batch = gd_cli_int(a, v, 1, 65536);
        else if (!strcmp(a, "--lr")) tc.lr = (float)gd_cli_num(a, v, 1e-12, 10);
        else if (!strcmp(a, "--warmup")) tc.warmup = gd_cli_int(a, v, 0, 100000000);
        else if (!strcmp(a, "--lr-schedule") && v) {
            if (gd_lr_schedule_parse(v, &tc.lr_schedule)) {
                fprintf(stderr, "gmmdiff train: --lr-schedule: '%s' is not cosine or constant\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--weight-decay")) tc.weight_decay = (float)gd_cli_num(a, v, 0, 10);
        else if (!strcmp(a, "--clip")) tc.clip = (float)gd_cli_num(a, v, 0, 1e9);
        else if (!strcmp(a, "--ema-decay")) tc.ema_max_decay = (float)gd_cli_num(a, v, 0, 1);
        else if (!strcmp(a, "--cond-drop")) tc.cond_drop = (float)gd_cli_num(a, v, 0, 1);
        else if (!strcmp(a, "--cond-sigma")) tc.cond_sigma = (float)gd_cli_num(a, v, 0, 100);
        else if (!strcmp(a, "--cond-components")) tc.cond_components = gd_cli_int(a, v, 1, 16);
        else if (!strcmp(a, "--clusters")) tc.clusters = gd_cli_int(a, v, 2, GD_CLUSTER_MAX_K);
        else if (!strcmp(a, "--aux-weight")) tc.aux_weight = (float)gd_cli_num(a, v, 0, 1e6);
        else if (!strcmp(a, "--aux-classifier") && v) {
            if (strlen(v) >= sizeof tc.aux_classifier) {
                fprintf(stderr, "gmmdiff train: --aux-classifier: path too long\n");
                return 2;
            }
            snprintf(tc.aux_classifier, sizeof tc.aux_classifier, "%s", v);
        } else if (!strcmp(a, "--aux-loss") && v) {
            gd_classifier_loss al;
            if (gd_classifier_loss_parse(v, &al)) {
                fprintf(stderr, "gmmdiff train: --aux-loss: '%s' is not bce or ngmg\n", v);
                return 2;
            }
            tc.aux_loss = (int)al;
        }
        else if (!strcmp(a, "--cluster-dims"))
            tc.cluster_dims = gd_cli_int(a, v, 1, GD_CLUSTER_MAX_DIMS);
        else if (!strcmp(a, "--seed")) tc.seed = (uint64_t)gd_cli_int(a, v, 0, 2147483647);
        else if (!strcmp(a, "--ckpt-every")) { ro.ckpt_every = gd_cli_int(a, v, 1, 100000000); other = 0; }
        else if (!strcmp(a, "--sample-every")) { ro.sample_every = gd_cli_int(a, v, 0, 100000000); other = 0; }
        else if (!strcmp(a, "--stop-at")) { ro.stop_at = gd_cli_int(a, v, 1, 100000000); other = 0; }
        else if (!strcmp(a, "--log-every")) { ro.log_every = gd_cli_int(a, v, 1, 100000000); other = 0; }
        else if (!strcmp(a, "--threads")) { threads = gd_cli_int(a, v, 1, 1024); other = 0; }
        else if (!strcmp(a, "--progress") && v) {
            if (gd_run_progress_parse(v, &ro.progress)) {
                fprintf(stderr, "gmmdiff train: --progress: '%s' is not auto, bar, plain or none\n", v);
                return 2;
            }
            other = 0;
        } else {
            fprintf(stderr, "gmmdiff train: unknown or incomplete flag '%s' (see --help)\n", a);
            return 2;
        }
        if (takes) i++;
        other_given |= other;
    }
    if (tc.aux_weight > 0 && !tc.aux_classifier[0]) {
        fprintf(stderr, "gmmdiff train: --aux-weight needs --aux-classifier DIR\n");
        return 2;
    }
    if (!out == !resume) {
        fprintf(stderr, "gmmdiff train: give --out DIR for a new run or --resume DIR (see --help)\n");
        return 2;
    }
    if (resume && other_given) {
        fprintf(stderr, "gmmdiff train: --resume continues %s with its own configuration; only "
                        "--steps and the run flags (--ckpt-every, --sample-every, --log-every, "
                        "--stop-at, --progress, --threads) may be given\n", resume);
        return 2;
    }
    if (ro.sample_every < 0) ro.sample_every = ro.ckpt_every;
    if (!strcmp(ds.source, "celeba") && !size_given) ds.size = 64;
    gd_error err = {0};
    gd_mpi mpi;
    if (gd_mpi_start(&mpi, &argc, &argv, &err)) {
        fprintf(stderr, "gmmdiff train: %s\n", err.msg);
        return 1;
    }
    ro.rank = mpi.rank;
    ro.ranks = mpi.size;
    ro.sum = gd_mpi_sum;
    ro.sum_ctx = &mpi;
    /* ranks on one machine share its cores unless told otherwise */
    if (!threads && mpi.local_size > 1) {
        threads = (int)sysconf(_SC_NPROCESSORS_ONLN) / mpi.local_size;
        if (threads < 1) threads = 1;
    }
    gd_set_num_threads(threads);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    ro.stop_flag = &g_stop;

    gd_unet_config u;
    gd_dataset d = {0};
    gd_cluster_model cl = {0};
    int rc = 1;
    const char *dir = resume ? resume : out;
    if (resume) {
        int steps = tc.steps;
        if (gd_train_run_read(dir, &tc, &ds, &u, &err)) goto fail;
        if (steps_given) tc.steps = steps;
    }
    if (gd_cli_data_open(&d, &ds, &err)) goto fail;
    if (tc.cond == GD_COND_CLUSTER) { /* a new run fits the clusters; a resumed one reads them */
        if (resume ? gd_cluster_load(&cl, dir, &err)
                   : gd_cluster_fit(&cl, &d, tc.clusters, tc.cluster_dims, tc.seed, &err))
            goto fail;
        if (gd_cluster_relabel(&d, &cl, &err)) goto fail;
    }
    if (tc.cond == GD_COND_CLASS && gd_train_gmm_condition(&tc) &&
        gd_dataset_class_attribute(&d, &err))
        goto fail;
    if (!resume) {
        if (unet_path) {
            if (gd_unet_config_load(&u, unet_path, &err)) goto fail;
        } else {
            gd_train_default_unet(&u, &d, gd_train_gmm_condition(&tc) ? GD_COND_FEATURE : tc.cond);
            u.layers_per_block = lpb;
            if (channels && !parse_channels(channels, &u)) {
                fprintf(stderr, "gmmdiff train: --channels: '%s' is not a list like 32,64,64\n",
                        channels);
                rc = 2;
                goto done;
            }
        }
        /* rank 0 writes the run; every rank computed the same configuration and clusters */
        if (mpi.rank == 0 && gd_train_run_create(dir, &tc, &ds, &u, &d, &err)) goto fail;
        if (mpi.rank == 0 && tc.cond == GD_COND_CLUSTER && gd_cluster_save(&cl, dir, &err))
            goto fail;
    }
    rc = gd_train_run(dir, &tc, &u, &d, resume != NULL, &ro, &err);
    if (rc == 1) goto fail;
    goto done;
fail:
    if (mpi.size > 1) fprintf(stderr, "gmmdiff train (rank %d of %d): %s\n", mpi.rank, mpi.size,
                              err.msg);
    else fprintf(stderr, "gmmdiff train: %s\n", err.msg);
    rc = 1;
done:
    gd_cluster_free(&cl);
    gd_dataset_free(&d);
    gd_mpi_finish(&mpi, rc);
    return rc;
}
