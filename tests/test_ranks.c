/* test_ranks.c - data-parallel training without MPI: R trainers in R threads, each taking its
 * slice of every global batch and summing through shared memory (the contract of
 * gd_trainer_set_ranks), end with the same weights as one trainer of batch R * B, for class and
 * feature conditioning; a NaN on one rank stops every rank at the same step. */
#include "gmmdiff/shapes.h"
#include "gmmdiff/train.h"
#include "testutil.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAXR = 4 };

/* the sum over ranks: every rank copies its buffer in, rank 0 adds them in rank order, every
 * rank copies the sum out (a deterministic order, as tools/mpi_run.c does it) */
typedef struct shared {
    pthread_barrier_t bar;
    int ranks;
    float *in[MAXR];
    float *out;
} shared;

typedef struct worker {
    shared *sh;
    int rank;
    gd_trainer *t;
    int steps, nan_at, ok;
    int64_t stopped_at;
} worker;

static __thread int my_rank;

static gd_status sum_threads(float *buf, size_t n, void *ctx, gd_error *err) {
    (void)err;
    shared *sh = ctx;
    sh->in[my_rank] = buf;
    pthread_barrier_wait(&sh->bar);
    if (my_rank == 0) {
        for (size_t j = 0; j < n; j++) {
            float s = 0;
            for (int r = 0; r < sh->ranks; r++) s += sh->in[r][j];
            sh->out[j] = s;
        }
    }
    pthread_barrier_wait(&sh->bar);
    memcpy(buf, sh->out, sizeof(float) * n);
    pthread_barrier_wait(&sh->bar); /* nobody writes in[] again before all have read out */
    return GD_OK;
}

static void *run_worker(void *arg) {
    worker *w = arg;
    my_rank = w->rank;
    gd_error err = {0};
    w->ok = 1;
    w->stopped_at = -1;
    for (int s = 0; s < w->steps; s++) {
        if (s + 1 == w->nan_at && w->rank == w->sh->ranks - 1) gd_trainer_poison(w->t);
        float l, gn;
        if (gd_trainer_step(w->t, &l, &gn, &err)) {
            w->stopped_at = gd_trainer_steps_done(w->t);
            if (err.status != GD_ERR_NUMERIC) w->ok = 0;
            break;
        }
    }
    return NULL;
}

static void config(gd_train_config *c, gd_unet_config *u, const gd_dataset *d, gd_cond_mode m,
                   int batch) {
    gd_train_config_default(c);
    c->seed = 5;
    c->steps = 20;
    c->batch = batch;
    c->lr = 2e-3f;
    c->warmup = 5;
    c->cond = m;
    gd_train_default_unet(u, d, m);
}

/* R ranks of batch B against one trainer of batch R * B; returns the worst relative difference
 * of the weights after `steps` steps */
static double compare(const gd_dataset *d, gd_cond_mode m, int R, int B, int steps) {
    gd_error err = {0};
    gd_train_config c1, cr;
    gd_unet_config u;
    config(&c1, &u, d, m, R * B);
    config(&cr, &u, d, m, B);
    gd_trainer *one = NULL;
    TEST_COND("one trainer", gd_trainer_new(&one, &c1, &u, d, &err) == GD_OK);
    for (int s = 0; s < steps; s++) {
        float l, gn;
        if (gd_trainer_step(one, &l, &gn, &err)) {
            printf("step: %s\n", err.msg);
            break;
        }
    }
    shared sh = {.ranks = R};
    pthread_barrier_init(&sh.bar, NULL, (unsigned)R);
    worker w[MAXR];
    pthread_t th[MAXR];
    for (int r = 0; r < R; r++) {
        w[r] = (worker){&sh, r, NULL, steps, 0, 0, 0};
        TEST_COND("rank trainer", gd_trainer_new(&w[r].t, &cr, &u, d, &err) == GD_OK);
        TEST_COND("set ranks", gd_trainer_set_ranks(w[r].t, r, R, sum_threads, &sh, &err) == GD_OK);
    }
    size_t P;
    gd_trainer_ema(one, &P);
    sh.out = malloc(sizeof(float) * (P + 100000));
    for (int r = 0; r < R; r++) pthread_create(&th[r], NULL, run_worker, &w[r]);
    for (int r = 0; r < R; r++) pthread_join(th[r], NULL);
    double worst = 0;
    const float *e1 = gd_trainer_ema(one, NULL);
    for (int r = 0; r < R; r++) {
        TEST_COND("every rank trained", w[r].ok && w[r].stopped_at < 0 &&
                                            gd_trainer_steps_done(w[r].t) == steps);
        const float *er = gd_trainer_ema(w[r].t, NULL);
        double num = 0, den = 0;
        for (size_t j = 0; j < P; j++) {
            num += (double)(er[j] - e1[j]) * (er[j] - e1[j]);
            den += (double)e1[j] * e1[j];
        }
        double rel = sqrt(num / den);
        if (rel > worst) worst = rel;
        if (r > 0) { /* ranks hold bit-identical weights: every rank applied the same sum */
            const float *e0 = gd_trainer_ema(w[0].t, NULL);
            TEST_COND("ranks hold identical weights", memcmp(e0, er, sizeof(float) * P) == 0);
        }
    }
    /* and they moved: the comparison is not of two untouched initialisations */
    gd_trainer *fresh = NULL;
    gd_trainer_new(&fresh, &c1, &u, d, &err);
    const float *e0 = gd_trainer_ema(fresh, NULL);
    double moved = 0, den = 0;
    for (size_t j = 0; j < P; j++) {
        moved += (double)(e1[j] - e0[j]) * (e1[j] - e0[j]);
        den += (double)e0[j] * e0[j];
    }
    printf("%s, %d ranks x batch %d vs 1 x batch %d, %d steps: weights differ by %.2e "
           "(relative L2), training moved them by %.2e\n", gd_cond_mode_name(m), R, B, R * B,
           steps, worst, sqrt(moved / den));
    TEST_COND("training moved the weights", sqrt(moved / den) > 1e-3);
    gd_trainer_free(fresh);
    gd_trainer_free(one);
    for (int r = 0; r < R; r++) gd_trainer_free(w[r].t);
    pthread_barrier_destroy(&sh.bar);
    free(sh.out);
    return worst;
}

int main(void) {
    gd_set_num_threads(1); /* one thread per rank: the ranks are the parallelism here */
    gd_error err = {0};
    gd_dataset d = {0};
    TEST_COND("shapes", gd_shapes_make(&d, 16, 200, 1, GD_SHAPES_TRAIN, &err) == GD_OK);
    TEST_COND("class: 2 ranks of batch 4 = 1 of batch 8 after 20 steps",
              compare(&d, GD_COND_CLASS, 2, 4, 20) < 1e-4);
    TEST_COND("feature: 2 ranks of batch 4 = 1 of batch 8 after 10 steps",
              compare(&d, GD_COND_FEATURE, 2, 4, 10) < 1e-4);
    TEST_COND("class: 3 ranks of batch 2 = 1 of batch 6 after 6 steps",
              compare(&d, GD_COND_CLASS, 3, 2, 6) < 1e-4);

    /* a NaN on the last rank at step 4: every rank stops there, none updates its weights */
    {
        gd_train_config c;
        gd_unet_config u;
        config(&c, &u, &d, GD_COND_CLASS, 4);
        shared sh = {.ranks = 2};
        pthread_barrier_init(&sh.bar, NULL, 2);
        worker w[2];
        pthread_t th[2];
        for (int r = 0; r < 2; r++) {
            w[r] = (worker){&sh, r, NULL, 10, 4, 0, 0};
            gd_trainer_new(&w[r].t, &c, &u, &d, &err);
            gd_trainer_set_ranks(w[r].t, r, 2, sum_threads, &sh, &err);
        }
        size_t P;
        gd_trainer_ema(w[0].t, &P);
        sh.out = malloc(sizeof(float) * (P + 100000));
        for (int r = 0; r < 2; r++) pthread_create(&th[r], NULL, run_worker, &w[r]);
        for (int r = 0; r < 2; r++) pthread_join(th[r], NULL);
        printf("NaN on rank 1 at step 4: rank 0 stopped after %lld steps, rank 1 after %lld\n",
               (long long)w[0].stopped_at, (long long)w[1].stopped_at);
        TEST_COND("a NaN on one rank stops every rank at the same step",
                  w[0].ok && w[1].ok && w[0].stopped_at == 3 && w[1].stopped_at == 3);
        for (int r = 0; r < 2; r++) gd_trainer_free(w[r].t);
        pthread_barrier_destroy(&sh.bar);
        free(sh.out);
    }
    gd_error e2 = {0};
    gd_trainer *t = NULL;
    gd_train_config c;
    gd_unet_config u;
    config(&c, &u, &d, GD_COND_CLASS, 4);
    gd_trainer_new(&t, &c, &u, &d, &err);
    TEST_COND("a rank outside the ranks is refused",
              gd_trainer_set_ranks(t, 2, 2, sum_threads, NULL, &e2) == GD_ERR_ARG);
    gd_trainer_free(t);
    gd_dataset_free(&d);
    return gd_test_report("ranks");
}
