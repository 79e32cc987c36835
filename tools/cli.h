/* cli.h - shared helpers of the command-line tool (the only place that calls exit). */
#ifndef GMMDIFF_CLI_H
#define GMMDIFF_CLI_H

int gd_cmd_bench(int argc, char **argv);
int gd_bench_train(int argc, char **argv); /* bench train, bench sample (bench_train.c) */
int gd_bench_gmm(int argc, char **argv);   /* bench gmm (bench_gmm.c) */
/* the benchmarks' clock (monotonic, ms) and qsort comparison of doubles (cmd_bench.c) */
double gd_bench_now_ms(void);
int gd_bench_cmp_double(const void *a, const void *b);
int gd_cmd_init(int argc, char **argv);
int gd_cmd_forward(int argc, char **argv);
int gd_cmd_sample(int argc, char **argv);
int gd_cmd_train(int argc, char **argv);
int gd_cmd_demo(int argc, char **argv);
int gd_cmd_gmm(int argc, char **argv);
int gd_cmd_classifier(int argc, char **argv);
int gd_cmd_eval(int argc, char **argv);
int gd_cmd_ngmg(int argc, char **argv);
int gd_cmd_report(int argc, char **argv);

/* the data set of a run, as flags give it and run.json stores it */
#include "gmmdiff/data.h"
#include <jansson.h>
typedef struct gd_cli_data {
    char source[1024]; /* shapes, fashion-mnist, celeba, or a folder of PNGs with attributes.csv */
    char dir[1024];    /* fashion-mnist (default: Debian's path), celeba: the files' folder */
    int size;          /* shapes, celeba: image side */
    int channels;      /* a folder: 1 (grey) or 3 (RGB) */
    int n;             /* shapes: items generated */
    uint64_t seed;     /* shapes: the data set's seed */
    int limit;         /* fashion-mnist / folder: at most this many items (0: all) */
    int test;          /* the evaluation split: fashion-mnist t10k, celeba partition 2, shapes
                        * all 48 combinations from seed + 1000 (not stored in run.json) */
} gd_cli_data;
/* parses one data flag (--data, --data-dir, --image-size, --rgb, --n-data, --data-seed,
 * --limit) at argv[i]; returns the number of arguments it took, 0 when a is not a data flag
 * (bad values exit with a message) */
int gd_cli_data_flag(gd_cli_data *s, const char *a, const char *v);
/* the help lines of those flags */
extern const char gd_cli_data_help[];
void gd_cli_data_default(gd_cli_data *s);
gd_status gd_cli_data_open(gd_dataset *d, const gd_cli_data *s, gd_error *err);
json_t *gd_cli_data_json(const gd_cli_data *s);
gd_status gd_cli_data_from_json(gd_cli_data *s, const json_t *o, const char *what, gd_error *err);
/* parses a finite number flag value or exits with a message naming the flag */
double gd_cli_num(const char *flag, const char *value, double lo, double hi);

/* parses a positive integer flag value or exits with a message naming the flag */
int gd_cli_int(const char *flag, const char *value, int lo, int hi);

#endif
