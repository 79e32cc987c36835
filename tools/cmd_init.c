/* cmd_init.c - `gmmdiff init`: a new, randomly initialised UNet2DModel directory from a
 * config.json (diffusers' keys), loadable by diffusers' UNet2DModel.from_pretrained. */
#include "cli.h"
#include "gmmdiff/unet.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static void init_help(void) {
    printf("usage: gmmdiff init --config FILE --out DIR [--seed S]\n"
           "  --config FILE  a UNet2DModel config.json (diffusers' keys)\n"
           "  --out DIR      the model directory to write (created if missing)\n"
           "  --seed S       seed of the initial weights (default 0)\n");
}

int gd_cmd_init(int argc, char **argv) {
    const char *config = NULL, *out = NULL;
    long long seed = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) { init_help(); return 0; }
        else if (!strcmp(a, "--config") && v) { config = v; i++; }
        else if (!strcmp(a, "--out") && v) { out = v; i++; }
        else if (!strcmp(a, "--seed")) { seed = gd_cli_int(a, v, 0, 2147483647); i++; }
        else {
            fprintf(stderr, "gmmdiff init: unknown or incomplete flag '%s' (see --help)\n", a);
            return 2;
        }
    }
    if (!config || !out) {
        fprintf(stderr, "gmmdiff init: --config and --out are required (see --help)\n");
        return 2;
    }
    gd_error err = {0};
    gd_unet_config c;
    if (gd_unet_config_load(&c, config, &err)) {
        fprintf(stderr, "gmmdiff init: %s\n", err.msg);
        return 1;
    }
    if (mkdir(out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "gmmdiff init: %s: cannot create: %s\n", out, strerror(errno));
        return 1;
    }
    gd_graph *g = gd_graph_new();
    gd_unet_declare(g, &c, 1, c.sample_size, c.sample_size);
    gd_status s = gd_graph_plan_inference(g, &err);
    if (!s) {
        gd_rng rng;
        gd_rng_seed(&rng, (uint64_t)seed);
        gd_unet_init(g, &rng);
        s = gd_unet_save(g, &c, out, &err);
    }
    if (s) fprintf(stderr, "gmmdiff init: %s\n", err.msg);
    else printf("wrote %s (config.json, diffusion_pytorch_model.safetensors)\n", out);
    gd_graph_free(g);
    return s ? 1 : 0;
}
