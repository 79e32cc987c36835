/* fuzz_config.c - libFuzzer harness for the JSON configurations: the same input to the UNet's
 * config.json, the scheduler's scheduler_config.json, the classifier's and the MLP's
 * config.json readers, and as a string to the training configuration's reader (run.json and
 * the training state's metadata). With GD_FUZZ_SEED_OUT set, start-up writes a valid file of each
 * kind there (the seeds). */
#include "fuzz_shapes.h"

#include "gmmdiff/classifier.h"
#include "gmmdiff/diffusion.h"
#include "gmmdiff/mlp.h"
#include "gmmdiff/train.h"
#include "gmmdiff/unet.h"

static int fd = -1;
static char path[64];

/* writes the text to dir/name and exports it as a seed */
static void export_text(const char *name, char *text) {
    char p[4200];
    gd_error err = {0};
    fuzz_tmp_path(p, sizeof p, name);
    FUZZ_OK(gd_write_text_atomic(p, text, &err), err);
    fuzz_export_seed(p, name);
    free(text);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    if (!getenv("GD_FUZZ_SEED_OUT")) return 0;
    gd_error err = {0};
    char p[4200];
    gd_dataset d;
    fuzz_shapes_data(&d, 48);
    gd_unet_config u;
    gd_train_default_unet(&u, &d, GD_COND_CLASS);
    export_text("unet_config.json", gd_unet_config_dumps(&u));
    gd_scheduler_config s;
    gd_scheduler_config_default(&s);
    fuzz_tmp_path(p, sizeof p, "scheduler_config.json");
    FUZZ_OK(gd_scheduler_config_save(&s, p, &err), err);
    fuzz_export_seed(p, "scheduler_config.json");
    gd_classifier_config c;
    FUZZ_OK(gd_classifier_config_for(&c, &d, 1, &err), err);
    fuzz_tmp_path(p, sizeof p, "classifier_config.json");
    FUZZ_OK(gd_classifier_config_save(&c, p, &err), err);
    fuzz_export_seed(p, "classifier_config.json");
    gd_mlp_config m;
    gd_mlp_config_default(&m);
    export_text("mlp_config.json", gd_mlp_config_dumps(&m));
    gd_train_config t;
    gd_train_config_default(&t);
    t.cond = GD_COND_FEATURE;
    export_text("run.json", gd_train_config_json(&t, &u, &d));
    gd_dataset_free(&d);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (fd < 0) fd = fuzz_memfd("config", path);
    fuzz_memfd_set(fd, data, size);
    gd_error err = {0};
    gd_unet_config u;
    gd_unet_config_default(&u);
    if (fuzz_note(gd_unet_config_load(&u, path, &err), &err) == GD_OK)
        FUZZ_CHECK(gd_unet_config_validate(&u, path, &err) == GD_OK);
    gd_scheduler_config s;
    gd_scheduler_config_default(&s);
    if (fuzz_note(gd_scheduler_config_load(&s, path, &err), &err) == GD_OK) {
        gd_noise_schedule ns;
        if (gd_schedule_from_config(&ns, &s, &err) == GD_OK) gd_schedule_free(&ns);
    }
    gd_classifier_config c;
    if (fuzz_note(gd_classifier_config_load(&c, path, &err), &err) == GD_OK)
        FUZZ_CHECK(gd_classifier_n_out(&c) >= 2);
    gd_mlp_config m;
    gd_mlp_config_default(&m);
    if (fuzz_note(gd_mlp_config_load(&m, path, &err), &err) == GD_OK)
        FUZZ_CHECK(gd_mlp_config_validate(&m, path, &err) == GD_OK);
    char *json = fuzz_cstr(data, size);
    gd_train_config t;
    gd_train_config_default(&t);
    fuzz_note(gd_train_config_from_json(&t, json, "fuzz input", &err), &err);
    free(json);
    return 0;
}
