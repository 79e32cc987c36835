/* cmd_forward.c - `gmmdiff forward`: one denoiser evaluation on a batch, .npy in and out, for
 * checks against other tools. */
#include "cli.h"
#include "gmmdiff/npy.h"
#include "gmmdiff/unet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void forward_help(void) {
    printf("usage: gmmdiff forward --model DIR --in X.npy --t T --out Y.npy [--class K | --cond C.npy]\n"
           "  --model DIR    a UNet2DModel directory (config.json + diffusion_pytorch_model.safetensors)\n"
           "  --in X.npy     the noisy batch, [N, in_channels, H, W]\n"
           "  --t T          the timestep (a number; the same for the whole batch)\n"
           "  --class K      class label for every item (models with a class embedding)\n"
           "  --cond C.npy   per-item condition: [N] labels or numbers, or [N, 4*block_out_channels[0]]\n"
           "                 vectors for class_embed_type identity\n"
           "  --out Y.npy    the model output, [N, out_channels, H, W]\n"
           "  --threads T    threads (default: all cores)\n");
}

int gd_cmd_forward(int argc, char **argv) {
    const char *model = NULL, *in = NULL, *out = NULL, *cond = NULL, *tstr = NULL;
    const char *cls = NULL;
    int threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) { forward_help(); return 0; }
        else if (!strcmp(a, "--model") && v) { model = v; i++; }
        else if (!strcmp(a, "--in") && v) { in = v; i++; }
        else if (!strcmp(a, "--out") && v) { out = v; i++; }
        else if (!strcmp(a, "--t") && v) { tstr = v; i++; }
        else if (!strcmp(a, "--class") && v) { cls = v; i++; }
        else if (!strcmp(a, "--cond") && v) { cond = v; i++; }
        else if (!strcmp(a, "--threads")) { threads = gd_cli_int(a, v, 1, 1024); i++; }
        else {
            fprintf(stderr, "gmmdiff forward: unknown or incomplete flag '%s' (see --help)\n", a);
            return 2;
        }
    }
    if (!model || !in || !out || !tstr) {
        fprintf(stderr, "gmmdiff forward: --model, --in, --t and --out are required\n");
        return 2;
    }
    if (cls && cond) {
        fprintf(stderr, "gmmdiff forward: give --class or --cond, not both\n");
        return 2;
    }
    char *end;
    double t = strtod(tstr, &end);
    if (*end || end == tstr || !isfinite(t) || t < 0) {
        fprintf(stderr, "gmmdiff forward: --t: '%s' is not a non-negative number\n", tstr);
        return 2;
    }
    gd_set_num_threads(threads);
    gd_error err = {0};
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", model);
    gd_unet_config c;
    if (gd_unet_config_load(&c, path, &err)) {
        fprintf(stderr, "gmmdiff forward: %s\n", err.msg);
        return 1;
    }
    gd_npy x = {0}, cv = {0};
    if (gd_npy_read(&x, in, &err)) {
        fprintf(stderr, "gmmdiff forward: %s\n", err.msg);
        return 1;
    }
    int rc = 1;
    gd_graph *g = NULL;
    int down = 1 << (c.n_blocks - 1);
    if (x.ndim != 4 || x.shape[1] != c.in_channels || x.shape[0] < 1 || x.shape[0] > 65536 ||
        x.shape[2] < 1 || x.shape[3] < 1 || x.shape[2] % down || x.shape[3] % down ||
        x.shape[2] > 8192 || x.shape[3] > 8192) {
        fprintf(stderr,
                "gmmdiff forward: %s: expected [N, %d, H, W] with H and W divisible by %d\n", in,
                c.in_channels, down);
        goto done;
    }
    for (size_t i = 0; i < x.numel; i++)
        if (!isfinite(x.data[i])) {
            fprintf(stderr, "gmmdiff forward: %s: element %zu is not finite\n", in, i);
            goto done;
        }
    int N = (int)x.shape[0];
    if (c.class_embed == GD_CLASS_EMBED_NONE && (cls || cond)) {
        fprintf(stderr, "gmmdiff forward: %s has no class embedding; drop --class/--cond\n", model);
        rc = 2;
            goto done;
    }
    if (c.class_embed != GD_CLASS_EMBED_NONE && !cls && !cond) {
        fprintf(stderr, "gmmdiff forward: %s is class-conditioned: give --class or --cond\n", model);
        rc = 2;
            goto done;
    }
    g = gd_graph_new();
    gd_unet_io io = gd_unet_declare(g, &c, N, (int)x.shape[2], (int)x.shape[3]);
    if (gd_graph_plan_inference(g, &err) || gd_unet_load_weights(g, model, &err)) {
        fprintf(stderr, "gmmdiff forward: %s\n", err.msg);
        goto done;
    }
    memcpy(gd_data(g, io.x), x.data, sizeof(float) * x.numel);
    for (int n = 0; n < N; n++) gd_data(g, io.t)[n] = (float)t;
    if (io.cls >= 0) {
        float *cd = gd_data(g, io.cls);
        size_t need = gd_numel(g, io.cls);
        if (cls) {
            if (c.class_embed == GD_CLASS_EMBED_IDENTITY) {
                fprintf(stderr, "gmmdiff forward: identity class embedding needs --cond vectors\n");
                rc = 2;
            goto done;
            }
            double k = strtod(cls, &end);
            if (*end || end == cls || !isfinite(k)) {
                fprintf(stderr, "gmmdiff forward: --class: '%s' is not a number\n", cls);
                rc = 2;
            goto done;
            }
            for (int n = 0; n < N; n++) cd[n] = (float)k;
        } else {
            if (gd_npy_read(&cv, cond, &err)) {
                fprintf(stderr, "gmmdiff forward: %s\n", err.msg);
                goto done;
            }
            if (cv.numel != need || cv.shape[0] != N) {
                fprintf(stderr, "gmmdiff forward: %s: expected %zu values ([%d%s]), got %zu\n",
                        cond, need, N, need > (size_t)N ? ", D" : "", cv.numel);
                goto done;
            }
            memcpy(cd, cv.data, sizeof(float) * need);
        }
        if (c.class_embed == GD_CLASS_EMBED_TABLE)
            for (int n = 0; n < N; n++)
                if (cd[n] != floorf(cd[n]) || cd[n] < 0 || cd[n] >= c.num_class_embeds) {
                    fprintf(stderr, "gmmdiff forward: class %g is not an integer in [0, %d)\n",
                            (double)cd[n], c.num_class_embeds);
                    rc = cls ? 2 : 1;
                    goto done;
                }
        for (size_t i = 0; i < need; i++)
            if (!isfinite(cd[i])) {
                fprintf(stderr, "gmmdiff forward: the condition has a non-finite value\n");
                goto done;
            }
    }
    gd_graph_forward(g);
    int64_t shape[4] = {N, c.out_channels, x.shape[2], x.shape[3]};
    if (gd_npy_write(out, gd_data(g, io.out), 4, shape, &err)) {
        fprintf(stderr, "gmmdiff forward: %s\n", err.msg);
        goto done;
    }
    rc = 0;
done:
    gd_graph_free(g);
    gd_npy_free(&x);
    gd_npy_free(&cv);
    return rc;
}
