/* cli.h - shared helpers of the command-line tool (the only place that calls exit). */
#ifndef GMMDIFF_CLI_H
#define GMMDIFF_CLI_H

int gd_cmd_bench(int argc, char **argv);
int gd_cmd_init(int argc, char **argv);
int gd_cmd_forward(int argc, char **argv);
int gd_cmd_sample(int argc, char **argv);
/* parses a positive integer flag value or exits with a message naming the flag */
int gd_cli_int(const char *flag, const char *value, int lo, int hi);

#endif
