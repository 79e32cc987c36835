/* mpi_run.h - `mpirun -np N gmmdiff train ...` (docs/DISTRIBUTED.md): the ranks of a
 * data-parallel run and the sum of each step's gradients over them. Built with MPI when CMake
 * finds it (GD_MPI); a process is a rank when a launcher (mpirun, srun) started it, else it runs
 * alone as rank 0 of 1 and never touches MPI. */
#ifndef GMMDIFF_MPI_RUN_H
#define GMMDIFF_MPI_RUN_H

#include "gmmdiff/core.h"

typedef struct gd_mpi {
    int rank, size;   /* 0 and 1 when not launched as ranks */
    int local_size;   /* ranks on this machine */
    int active;       /* MPI is initialised */
    float *gather;    /* rank 0: [size * chunk] */
    /* GMMDIFF_MPI_TIMING=1: a barrier before each sum separates waiting for the slowest rank
     * from the sum itself; rank 0 prints both per step at the end (docs/DISTRIBUTED.md) */
    int timing;
    long sums;
    double t_wait, t_sum;
    size_t floats;
} gd_mpi;

/* Joins the job when a launcher started this process (its environment says so). Exits with a
 * message when launched as one of several ranks by a gmmdiff built without MPI. */
gd_status gd_mpi_start(gd_mpi *m, int *argc, char ***argv, gd_error *err);
/* buf [n] := the sum over ranks, added in rank order on rank 0 and broadcast, so every rank
 * holds the same bits (a gd_rank_sum_fn; ctx is the gd_mpi) */
gd_status gd_mpi_sum(float *buf, size_t n, void *ctx, gd_error *err);
/* the end of a run: MPI_Finalize after success, MPI_Abort (every rank stops) after a failure */
void gd_mpi_finish(gd_mpi *m, int rc);

#endif
