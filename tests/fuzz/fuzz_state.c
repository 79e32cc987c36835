/* fuzz_state.c - libFuzzer harness for the training state, gd_trainer_resume on a run folder
 * whose state.safetensors is the input. The trainer is made once at start-up: 16x16 shapes data
 * with feature conditioning (so the condition's tensors are read too) and a one-block UNet of 2
 * channels, small enough that a real state file, saved by gd_trainer_save after one step, is a
 * seed of a few tens of kilobytes. A state that resumes is trained on for one step. */
#include "fuzz_shapes.h"

#include "gmmdiff/train.h"
#include "../tiny_unet.h"

static int fd = -1;
static char run_dir[4096];
static gd_dataset data;
static gd_trainer *trainer;

static void fuzz_state_free(void) {
    gd_trainer_free(trainer);
    gd_dataset_free(&data);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    gd_error err = {0};
    char mem[64], saved[4096], p[4200];
    fd = fuzz_memfd("state", mem);
    gd_set_num_threads(1); /* one input at a time: threads would only add start-up and spinning */
    fuzz_shapes_data(&data, 32);
    gd_train_config c;
    gd_train_config_default(&c);
    c.seed = 11;
    c.steps = 2;
    c.batch = 2;
    c.cond = GD_COND_FEATURE;
    c.cond_components = 2;
    gd_unet_config u;
    tiny_unet(&u, &data, c.cond);
    FUZZ_OK(gd_trainer_new(&trainer, &c, &u, &data, &err), err);
    atexit(fuzz_state_free);
    float loss, gn;
    FUZZ_OK(gd_trainer_step(trainer, &loss, &gn, &err), err);
    fuzz_tmp_path(saved, sizeof saved, "saved");
    FUZZ_CHECK(mkdir(saved, 0700) == 0);
    FUZZ_OK(gd_trainer_save(trainer, saved, &err), err);
    snprintf(p, sizeof p, "%s/state.safetensors", saved);
    fuzz_export_seed(p, "state.safetensors");
    /* the saved state loads back: the harness and the seed are sound */
    FUZZ_OK(gd_trainer_resume(trainer, saved, &err), err);
    fuzz_tmp_path(run_dir, sizeof run_dir, "run");
    FUZZ_CHECK(mkdir(run_dir, 0700) == 0);
    snprintf(p, sizeof p, "%s/state.safetensors", run_dir);
    fuzz_link_memfd(fd, p);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data_in, size_t size) {
    fuzz_memfd_set(fd, data_in, size);
    gd_error err = {0};
    if (fuzz_note(gd_trainer_resume(trainer, run_dir, &err), &err) == GD_OK) {
        /* what resumes must train on: one step from the loaded state (weights the file made
         * non-finite stop it with GD_ERR_NUMERIC, which is fine) */
        float loss, gn;
        FUZZ_CHECK(gd_trainer_steps_done(trainer) >= 0);
        gd_trainer_lr(trainer);
        gd_status s = gd_trainer_step(trainer, &loss, &gn, &err);
        FUZZ_CHECK(s == GD_OK || s == GD_ERR_NUMERIC);
    }
    return 0;
}
