/* fuzz_condition.c - libFuzzer harness for the files a conditioned model keeps beside its UNet:
 * gd_condition_load (condition.json + condition.safetensors) and gd_cluster_load
 * (cluster_gmm.json + cluster.safetensors). Valid pairs are built once at start-up from the
 * shapes data (a condition with categorical and continuous attributes, a cluster model of 3
 * components over 4 principal directions). The first byte's low two bits choose which of the
 * four files the rest of the input replaces: 0 condition.json, 1 condition.safetensors,
 * 2 cluster_gmm.json, 3 cluster.safetensors. */
#include "fuzz_shapes.h"

#include "gmmdiff/cluster.h"
#include "gmmdiff/condition.h"

#include <math.h>

static int fd = -1;
static char dirs[4][4096];
static const char *const names[4] = {"condition.json", "condition.safetensors",
                                     "cluster_gmm.json", "cluster.safetensors"};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    gd_error err = {0};
    char mem[64], ref_cond[4096], ref_clus[4096], p[4200], q[4200];
    fd = fuzz_memfd("condition", mem);
    gd_set_num_threads(1); /* one small model at a time: threads would only add overhead */
    gd_dataset d;
    fuzz_shapes_data(&d, 96);
    gd_condition c;
    FUZZ_OK(gd_condition_build(&c, &d, 8, 0.1f, 2, 1, &err), err);
    float *means = malloc(sizeof(float) * (size_t)c.rows * c.dim);
    FUZZ_CHECK(means);
    gd_rng rng;
    gd_rng_seed(&rng, 3);
    gd_condition_init_means(&c, means, &rng);
    fuzz_tmp_path(ref_cond, sizeof ref_cond, "ref_condition");
    FUZZ_CHECK(mkdir(ref_cond, 0700) == 0);
    FUZZ_OK(gd_condition_save(&c, means, ref_cond, &err), err);
    free(means);
    gd_cluster_model m = {0};
    FUZZ_OK(gd_cluster_fit(&m, &d, 3, 4, 5, &err), err);
    fuzz_tmp_path(ref_clus, sizeof ref_clus, "ref_cluster");
    FUZZ_CHECK(mkdir(ref_clus, 0700) == 0);
    FUZZ_OK(gd_cluster_save(&m, ref_clus, &err), err);
    gd_cluster_free(&m);
    gd_dataset_free(&d);
    /* dirs[k]: names[k] is the input, its partner a link to the valid file */
    for (int k = 0; k < 4; k++) {
        char sub[32];
        snprintf(sub, sizeof sub, "in%d", k);
        fuzz_tmp_path(dirs[k], sizeof dirs[k], sub);
        FUZZ_CHECK(mkdir(dirs[k], 0700) == 0);
        const char *ref = k < 2 ? ref_cond : ref_clus;
        int partner = k ^ 1;
        snprintf(p, sizeof p, "%s/%s", dirs[k], names[k]);
        fuzz_link_memfd(fd, p);
        snprintf(p, sizeof p, "%s/%s", ref, names[partner]);
        snprintf(q, sizeof q, "%s/%s", dirs[k], names[partner]);
        fuzz_link(p, q);
        snprintf(p, sizeof p, "%s/%s", ref, names[k]);
        fuzz_export_seed(p, names[k]);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int k = data[0] & 3;
    fuzz_memfd_set(fd, data + 1, size - 1);
    gd_error err = {0};
    if (k < 2) {
        gd_condition c;
        float *means = NULL;
        if (fuzz_note(gd_condition_load(&c, &means, dirs[k], &err), &err) == GD_OK) {
            /* whatever loads must be usable: compose every attribute's first row */
            int rows[GD_DATA_MAX_ATTRS];
            for (int a = 0; a < c.n_attrs; a++) rows[a] = c.attrs[a].row0;
            float *out = malloc(sizeof(float) * (size_t)c.dim);
            FUZZ_CHECK(out);
            gd_condition_compose(&c, means, rows, NULL, out);
            gd_condition_null(&c, means, out);
            for (int a = 0; a < c.n_attrs; a++)
                if (c.attrs[a].kind == GD_ATTR_CONTINUOUS) {
                    int r = gd_condition_cont_row(&c, a, 0.5, -1.0);
                    FUZZ_CHECK(r >= c.attrs[a].row0 && r < c.attrs[a].row0 + c.attrs[a].n);
                }
            free(out);
            free(means);
        } else {
            FUZZ_CHECK(means == NULL);
        }
    } else {
        gd_cluster_model m;
        if (fuzz_note(gd_cluster_load(&m, dirs[k], &err), &err) == GD_OK) {
            FUZZ_CHECK(m.k >= 2 && m.dims >= 1 && m.in_dim >= 1);
            /* assign one image of zeros */
            if (m.in_dim <= (1 << 16)) {
                float *img = calloc((size_t)m.in_dim, sizeof(float));
                int label = -1;
                FUZZ_CHECK(img);
                if (gd_cluster_assign(&m, img, 1, &label, &err) == GD_OK)
                    FUZZ_CHECK(label >= 0 && label < m.k);
                free(img);
            }
        }
        gd_cluster_free(&m);
    }
    return 0;
}
