/* test_resume.c - gd_trainer_resume on bad training states: a tiny feature-conditioned trainer
 * (16x16 shapes, a one-block UNet of 2 channels) saves its state, which resumes and trains on;
 * copies rewritten with one thing wrong (format, step, config, a tensor's size or presence, the
 * file cut short) are refused naming the file, and a refused state leaves the step as it was. */
#include "gmmdiff/safetensors.h"
#include "gmmdiff/shapes.h"
#include "gmmdiff/train.h"
#include "testutil.h"
#include "tiny_unet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/gd_test_resume_XXXXXX";

static const char *at(const char *name) {
    static char buf[4][512];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, 512, "%s/%s", dir, name);
    return b;
}

/* the saved state's tensors and metadata, to write altered copies from */
typedef struct state {
    int n;
    char *name[8];
    float *data[8];
    int64_t numel[8];
    char meta[4][8192];
} state;

static const char *const meta_keys[4] = {"format", "version", "step", "config"};

static void state_read(state *s, const char *path) {
    gd_safetensors st;
    gd_error err = {0};
    memset(s, 0, sizeof *s);
    TEST_COND("the saved state opens", gd_st_open(&st, path, &err) == GD_OK);
    for (int i = 0; i < st.n && i < 8; i++) {
        s->name[i] = strdup(st.tensors[i].name);
        s->numel[i] = (int64_t)st.tensors[i].numel;
        s->data[i] = malloc(sizeof(float) * st.tensors[i].numel);
        gd_st_read_f32(&st, s->name[i], s->data[i], 0, NULL, &err);
        s->n++;
    }
    for (int k = 0; k < 4; k++)
        TEST_COND("the saved state has its metadata",
                  gd_st_meta(&st, meta_keys[k], s->meta[k], sizeof s->meta[k]) != NULL);
    gd_st_close(&st);
}

static void state_free(state *s) {
    for (int i = 0; i < s->n; i++) {
        free(s->name[i]);
        free(s->data[i]);
    }
}

/* run dir `sub` with a copy of s: metadata key `key` set to value (NULL: as saved), tensor
 * `drop` left out, tensor `shrink` one element shorter */
static const char *state_write(const state *s, const char *sub, const char *key,
                               const char *value, const char *drop, const char *shrink) {
    const char *d = at(sub);
    mkdir(d, 0755);
    char path[600];
    snprintf(path, sizeof path, "%s/state.safetensors", d);
    gd_st_entry e[8];
    int64_t shapes[8];
    int n = 0;
    for (int i = 0; i < s->n; i++) {
        if (drop && !strcmp(s->name[i], drop)) continue;
        shapes[n] = s->numel[i] - (shrink && !strcmp(s->name[i], shrink));
        e[n] = (gd_st_entry){s->name[i], s->data[i], 1, &shapes[n]};
        n++;
    }
    const char *vals[4];
    for (int k = 0; k < 4; k++) vals[k] = key && !strcmp(key, meta_keys[k]) ? value : s->meta[k];
    gd_error err = {0};
    TEST_COND("an altered state is written", gd_st_write_meta(path, e, n, meta_keys, vals, 4,
                                                              &err) == GD_OK);
    return d;
}

/* resuming from run dir d is refused, naming its state file and needle; the step stays */
static void refused(gd_trainer *t, const char *label, const char *d, const char *needle) {
    gd_error err = {0};
    int64_t before = gd_trainer_steps_done(t);
    gd_status s = gd_trainer_resume(t, d, &err);
    char l[300];
    snprintf(l, sizeof l, "%s: refused, naming state.safetensors and '%s'", label, needle);
    TEST_COND(l, s != GD_OK && strstr(err.msg, d) && strstr(err.msg, "state.safetensors") &&
                     strstr(err.msg, needle) && gd_trainer_steps_done(t) == before);
    printf("  %s -> %s\n", label, err.msg);
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    gd_error err = {0};
    gd_dataset d;
    TEST_COND("shapes data", gd_shapes_make(&d, 16, 32, 7, GD_SHAPES_ALL, &err) == GD_OK);
    gd_train_config c;
    gd_train_config_default(&c);
    c.seed = 11;
    c.steps = 4;
    c.batch = 2;
    c.cond = GD_COND_FEATURE;
    gd_unet_config u;
    tiny_unet(&u, &d, c.cond);
    gd_trainer *t = NULL;
    TEST_COND("trainer", gd_trainer_new(&t, &c, &u, &d, &err) == GD_OK);
    if (!t) {
        printf("  %s\n", err.msg);
        return gd_test_report("test_resume");
    }
    float loss, gn;
    TEST_COND("one step", gd_trainer_step(t, &loss, &gn, &err) == GD_OK);
    mkdir(at("good"), 0755);
    TEST_COND("save", gd_trainer_save(t, at("good"), &err) == GD_OK);
    TEST_COND("the saved state resumes at step 1",
              gd_trainer_resume(t, at("good"), &err) == GD_OK && gd_trainer_steps_done(t) == 1);
    TEST_COND("and trains on", gd_trainer_step(t, &loss, &gn, &err) == GD_OK);

    state s;
    char path[600];
    snprintf(path, sizeof path, "%s/state.safetensors", at("good"));
    state_read(&s, path);
    TEST_COND("an unaltered copy resumes",
              gd_trainer_resume(t, state_write(&s, "copy", NULL, NULL, NULL, NULL), &err) == GD_OK &&
                  gd_trainer_steps_done(t) == 1);
    refused(t, "another format", state_write(&s, "fmt", "format", "gmmdiff-other", NULL, NULL),
            "not a gmmdiff training state");
    refused(t, "version 2", state_write(&s, "ver", "version", "2", NULL, NULL), "version 1");
    refused(t, "negative step", state_write(&s, "neg", "step", "-1", NULL, NULL), "'step'");
    refused(t, "step not a number", state_write(&s, "nan", "step", "12x", NULL, NULL), "'step'");
    /* the step counter's arithmetic overflowed on the next step (UBSan, under the fuzzer) */
    refused(t, "step 2^63 - 1", state_write(&s, "big", "step", "9223372036854775807", NULL, NULL),
            "'step'");
    refused(t, "config not JSON", state_write(&s, "cfg", "config", "{\"lr\": ", NULL, NULL),
            "JSON");
    refused(t, "another configuration", state_write(&s, "cfg2", "config", "{\"lr\": 0.5}", NULL,
                                                    NULL), "another training configuration");
    refused(t, "adam_v missing", state_write(&s, "drop", NULL, NULL, "adam_v", NULL), "adam_v");
    refused(t, "cond_ema missing", state_write(&s, "dropc", NULL, NULL, "cond_ema", NULL),
            "cond_ema");
    refused(t, "ema one element short", state_write(&s, "short", NULL, NULL, NULL, "ema"),
            "'ema' has shape");
    /* the saved file cut in its data */
    const char *cut = state_write(&s, "cut", NULL, NULL, NULL, NULL);
    snprintf(path, sizeof path, "%s/state.safetensors", cut);
    struct stat sb;
    stat(path, &sb);
    TEST_COND("cut", truncate(path, sb.st_size - 100) == 0);
    refused(t, "file cut short", cut, "truncated");
    refused(t, "no state file", at("none"), "cannot open");
    state_free(&s);
    gd_trainer_free(t);
    gd_dataset_free(&d);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) printf("warning: could not remove %s\n", dir);
    return gd_test_report("test_resume");
}
