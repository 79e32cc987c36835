/* gmmdiff.c - the command-line tool: dispatches subcommands. */
#include "cli.h"
#include "gmmdiff/core.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "gmmdiff %s - diffusion models conditioned on Gaussian mixtures over features\n"
            "\n"
            "usage: gmmdiff <command> [options]\n"
            "\n"
            "commands:\n"
            "  bench conv   time conv2d forward+backward at the shapes of a 28x28 UNet\n"
            "  classifier   train an attribute classifier on real data; score data or samples\n"
            "  eval         score a trained run: the shapes judge, controllability of continuous\n"
            "               features, cluster accuracy (JSON)\n"
            "  demo         train a class-conditioned model on the built-in shapes data and judge it\n"
            "  ngmg lines   the negative Gaussian mixture gradient on the parallel-lines example\n"
            "  report       compare training runs on one page: tables, loss curves, samples (HTML\n"
            "               and Markdown)\n"
            "  init         a new, randomly initialised UNet2DModel directory from a config\n"
            "  forward      one denoiser evaluation on a batch (.npy in and out)\n"
            "  gmm          fit, score, predict with and sample from Gaussian mixtures (EM)\n"
            "  sample       draw samples from a model into a PNG grid\n"
            "  train        train a denoiser on a data set into a resumable run directory\n"
            "  version      print the version\n"
            "  help         this text; `gmmdiff <command> --help` for a command's flags\n",
            GD_VERSION_STRING);
}

int gd_cli_int(const char *flag, const char *value, int lo, int hi) {
    if (!value) {
        fprintf(stderr, "gmmdiff: %s needs a value\n", flag);
        exit(2);
    }
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || *end || end == value || v < lo || v > hi) {
        fprintf(stderr, "gmmdiff: %s: '%s' is not an integer in [%d, %d]\n", flag, value, lo, hi);
        exit(2);
    }
    return (int)v;
}

double gd_cli_num(const char *flag, const char *value, double lo, double hi) {
    if (!value) {
        fprintf(stderr, "gmmdiff: %s needs a value\n", flag);
        exit(2);
    }
    char *end;
    double v = strtod(value, &end);
    if (*end || end == value || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "gmmdiff: %s: '%s' is not a number in [%g, %g]\n", flag, value, lo, hi);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("gmmdiff %s\n", GD_VERSION_STRING);
        return 0;
    }
    if (!strcmp(cmd, "demo")) return gd_cmd_demo(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return gd_cmd_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "init")) return gd_cmd_init(argc - 1, argv + 1);
    if (!strcmp(cmd, "forward")) return gd_cmd_forward(argc - 1, argv + 1);
    if (!strcmp(cmd, "sample")) return gd_cmd_sample(argc - 1, argv + 1);
    if (!strcmp(cmd, "train")) return gd_cmd_train(argc - 1, argv + 1);
    if (!strcmp(cmd, "gmm")) return gd_cmd_gmm(argc - 1, argv + 1);
    if (!strcmp(cmd, "classifier")) return gd_cmd_classifier(argc - 1, argv + 1);
    if (!strcmp(cmd, "eval")) return gd_cmd_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "ngmg")) return gd_cmd_ngmg(argc - 1, argv + 1);
    if (!strcmp(cmd, "report")) return gd_cmd_report(argc - 1, argv + 1);
    fprintf(stderr, "gmmdiff: unknown command '%s' (try `gmmdiff help`)\n", cmd);
    return 2;
}
