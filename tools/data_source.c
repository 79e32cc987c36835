/* data_source.c - the command line's data sets: "shapes", "fashion-mnist" or a folder, with the
 * options that make them, as stored in a run's run.json so a resumed run reopens the same data. */
#include "cli.h"
#include "gmmdiff/readers.h"
#include "gmmdiff/shapes.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void gd_cli_data_default(gd_cli_data *s) {
    memset(s, 0, sizeof *s);
    snprintf(s->source, sizeof s->source, "shapes");
    s->size = GD_SHAPES_DEFAULT_SIZE;
    s->n = 20000;
    s->seed = 1;
    s->channels = 1;
}

gd_status gd_cli_data_open(gd_dataset *d, const gd_cli_data *s, gd_error *err) {
    if (!strcmp(s->source, "shapes")) {
        if (!gd_shapes_size_ok(s->size))
            return gd_error_set(err, GD_ERR_ARG, "shapes: --image-size must be 16, 28 or 32");
        return gd_shapes_make(d, s->size, s->n, s->test ? s->seed + 1000 : s->seed,
                              s->test ? GD_SHAPES_ALL : GD_SHAPES_TRAIN, err);
    }
    if (!strcmp(s->source, "fashion-mnist")) {
        const char *dir = s->dir[0] ? s->dir : GD_FASHION_DIR;
        struct stat sb;
        if (stat(dir, &sb) != 0)
            return gd_error_set(err, GD_ERR_IO, "%s: not found; install Debian's package "
                                "dataset-fashion-mnist, or give --data-dir", dir);
        return gd_fashion_load(d, dir, !s->test, s->limit, err);
    }
    if (!strcmp(s->source, "celeba")) {
        if (!s->dir[0])
            return gd_error_set(err, GD_ERR_ARG, "celeba: --data-dir must name the folder holding "
                                "img_align_celeba/ and list_attr_celeba.txt");
        return gd_celeba_load(d, s->dir, s->test ? 2 : 0, s->size, s->limit, err);
    }
    struct stat sb;
    if (stat(s->source, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        gd_status st = gd_folder_load(d, s->source, NULL, s->channels, err);
        if (!st && s->limit > 0 && s->limit < d->n) d->n = s->limit;
        return st;
    }
    return gd_error_set(err, GD_ERR_ARG, "--data: '%s' is not shapes, fashion-mnist, celeba or "
                        "a folder", s->source);
}

const char gd_cli_data_help[] =
    "  --data NAME        shapes (built in, default) | fashion-mnist | celeba | a folder of\n"
    "                     PNGs with attributes.csv (docs/DATA.md)\n"
    "  --data-dir DIR     fashion-mnist: the IDX files (default " GD_FASHION_DIR ")\n"
    "                     celeba: the folder holding img_align_celeba/ and list_attr_celeba.txt\n"
    "  --image-size S     shapes: image side, 16, 28 or 32 (default 16); celeba: any (64)\n"
    "  --rgb              a folder: read the PNGs as RGB (default grey)\n"
    "  --n-data N         shapes: items generated (default 20000)\n"
    "  --data-seed S      shapes: the data set's seed (default 1)\n"
    "  --limit N          fashion-mnist / folder / celeba: use at most N items (default all)\n";

int gd_cli_data_flag(gd_cli_data *s, const char *a, const char *v) {
    if (!strcmp(a, "--rgb")) {
        s->channels = 3;
        return 1;
    }
    int known = !strcmp(a, "--data") || !strcmp(a, "--data-dir") || !strcmp(a, "--image-size") ||
                !strcmp(a, "--n-data") || !strcmp(a, "--data-seed") || !strcmp(a, "--limit");
    if (!known) return 0;
    if (!v) {
        fprintf(stderr, "gmmdiff: %s needs a value\n", a);
        exit(2);
    }
    if (!strcmp(a, "--data")) snprintf(s->source, sizeof s->source, "%s", v);
    else if (!strcmp(a, "--data-dir")) snprintf(s->dir, sizeof s->dir, "%s", v);
    else if (!strcmp(a, "--image-size")) s->size = gd_cli_int(a, v, 1, 1024);
    else if (!strcmp(a, "--n-data")) s->n = gd_cli_int(a, v, 1, 10000000);
    else if (!strcmp(a, "--data-seed")) s->seed = (uint64_t)gd_cli_int(a, v, 0, 2147483647);
    else s->limit = gd_cli_int(a, v, 0, 100000000);
    return 2;
}

json_t *gd_cli_data_json(const gd_cli_data *s) {
    return json_pack("{s:s, s:s, s:i, s:i, s:I, s:i, s:i}", "source", s->source, "dir", s->dir,
                     "image_size", s->size, "n", s->n, "seed", (json_int_t)s->seed, "limit",
                     s->limit, "channels", s->channels);
}

gd_status gd_cli_data_from_json(gd_cli_data *s, const json_t *o, const char *what,
                                gd_error *err) {
    json_t *src = json_object_get(o, "source"), *sz = json_object_get(o, "image_size");
    json_t *n = json_object_get(o, "n"), *seed = json_object_get(o, "seed");
    json_t *lim = json_object_get(o, "limit"), *dir = json_object_get(o, "dir");
    json_t *ch = json_object_get(o, "channels");
    if (!json_is_string(src) || strlen(json_string_value(src)) >= sizeof s->source ||
        !json_is_integer(sz) || !json_is_integer(n) || !json_is_integer(seed) ||
        !json_is_integer(lim) || !json_is_string(dir) || !json_is_integer(ch) ||
        strlen(json_string_value(dir)) >= sizeof s->dir)
        return gd_error_set(err, GD_ERR_FORMAT, "%s: 'data_source' needs source, dir, image_size, "
                            "n, seed, limit and channels", what);
    snprintf(s->source, sizeof s->source, "%s", json_string_value(src));
    s->size = (int)json_integer_value(sz);
    s->n = (int)json_integer_value(n);
    s->seed = (uint64_t)json_integer_value(seed);
    s->limit = (int)json_integer_value(lim);
    snprintf(s->dir, sizeof s->dir, "%s", json_string_value(dir));
    s->channels = (int)json_integer_value(ch);
    return GD_OK;
}
