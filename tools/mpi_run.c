/* mpi_run.c - the ranks of a data-parallel training run (see mpi_run.h). */
#include "mpi_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef GD_MPI
#include <mpi.h>
#endif

enum { CHUNK = 1 << 20 }; /* floats per gather: bounds rank 0's buffer at size * 4 MB */

/* the job size a launcher announced in the environment (OpenMPI's mpirun, PMI/PMIx as Slurm's
 * srun and MPICH's launchers set them); 0 when none did */
static int launched_size(void) {
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v && atoi(v) > 0) return atoi(v);
    }
    return getenv("PMIX_RANK") ? -1 : 0; /* PMIx without a size: let MPI tell */
}

gd_status gd_mpi_start(gd_mpi *m, int *argc, char ***argv, gd_error *err) {
    memset(m, 0, sizeof *m);
    m->size = m->local_size = 1;
    int n = launched_size();
    if (n == 0 || n == 1) return GD_OK;
#ifdef GD_MPI
    if (MPI_Init(argc, argv) != MPI_SUCCESS)
        return gd_error_set(err, GD_ERR_IO, "MPI_Init failed");
    m->active = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &m->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &m->size);
    MPI_Comm local;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local);
    MPI_Comm_size(local, &m->local_size);
    MPI_Comm_free(&local);
    const char *tv = getenv("GMMDIFF_MPI_TIMING");
    m->timing = tv && *tv && strcmp(tv, "0");
    if (m->rank == 0 && m->size > 1) {
        m->gather = malloc(sizeof(float) * (size_t)m->size * CHUNK);
        if (!m->gather)
            return gd_error_set(err, GD_ERR_NOMEM, "out of memory for the sum over %d ranks",
                                m->size);
    }
    return GD_OK;
#else
    (void)argc;
    (void)argv;
    return gd_error_set(err, GD_ERR_ARG, "started as one of %d ranks, but this gmmdiff was "
                        "built without MPI (install libopenmpi-dev and rebuild; "
                        "docs/DISTRIBUTED.md)", n);
#endif
}

gd_status gd_mpi_sum(float *buf, size_t n, void *ctx, gd_error *err) {
    gd_mpi *m = ctx;
    if (m->size == 1) return GD_OK;
#ifdef GD_MPI
    double t0 = 0, t1 = 0;
    if (m->timing) {
        t0 = MPI_Wtime();
        MPI_Barrier(MPI_COMM_WORLD);
        t1 = MPI_Wtime();
    }
    for (size_t off = 0; off < n; off += CHUNK) {
        const int c = (int)(n - off < CHUNK ? n - off : CHUNK);
        if (MPI_Gather(buf + off, c, MPI_FLOAT, m->gather, c, MPI_FLOAT, 0, MPI_COMM_WORLD) !=
            MPI_SUCCESS)
            return gd_error_set(err, GD_ERR_IO, "rank %d: MPI_Gather failed", m->rank);
        if (m->rank == 0)
            for (int j = 0; j < c; j++) {
                float s = m->gather[j];
                for (int r = 1; r < m->size; r++) s += m->gather[(size_t)r * c + j];
                buf[off + j] = s;
            }
        if (MPI_Bcast(buf + off, c, MPI_FLOAT, 0, MPI_COMM_WORLD) != MPI_SUCCESS)
            return gd_error_set(err, GD_ERR_IO, "rank %d: MPI_Bcast failed", m->rank);
    }
    if (m->timing) {
        m->t_wait += t1 - t0;
        m->t_sum += MPI_Wtime() - t1;
        m->sums++;
        m->floats = n;
    }
    return GD_OK;
#else
    (void)buf;
    (void)n;
    return gd_error_set(err, GD_ERR_ARG, "built without MPI");
#endif
}

void gd_mpi_finish(gd_mpi *m, int rc) {
    free(m->gather);
    m->gather = NULL;
#ifdef GD_MPI
    if (!m->active) return;
    if (m->timing && m->rank == 0 && m->sums)
        fprintf(stderr, "sum over %d ranks: %ld steps, %.3f ms per step waiting for the slowest "
                        "rank, %.3f ms per step summing %zu floats\n", m->size, m->sums,
                1e3 * m->t_wait / m->sums, 1e3 * m->t_sum / m->sums, m->floats);
    if (rc == 0 || rc == 130) {
        MPI_Finalize();
    } else {
        fflush(stdout);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, rc);
    }
#else
    (void)rc;
#endif
}
