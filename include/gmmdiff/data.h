/* data.h - data sets in memory: images with attribute vectors, and the readers that make them.
 *
 * Every data set becomes one gd_dataset: images [n, c, h, w] in [-1, 1] (channels first, as the
 * UNet wants them), and per item one value per attribute. An attribute is categorical (binary is
 * categorical with two values) or continuous. A categorical attribute's value is an index into
 * its value names; a continuous one is a float (NaN for a categorical attribute's slot).
 *
 * `cls` is the item's class: for shapes, the index of its full attribute combination
 * (mixed radix over the categorical attributes, first attribute most significant); for
 * Fashion-MNIST the label; for a PNG folder, the class column of its CSV if it has one, else
 * the combination index. Class conditioning embeds it with a table of n_classes rows.
 */
#ifndef GMMDIFF_DATA_H
#define GMMDIFF_DATA_H

#include "gmmdiff/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GD_DATA_MAX_ATTRS 48
#define GD_DATA_MAX_VALUES 64
#define GD_DATA_NAME_MAX 48

typedef enum gd_attr_kind { GD_ATTR_CATEGORICAL, GD_ATTR_CONTINUOUS } gd_attr_kind;

typedef struct gd_attr {
    char name[GD_DATA_NAME_MAX];
    gd_attr_kind kind;
    int n_values; /* categorical: the number of values; continuous: 0 */
    char values[GD_DATA_MAX_VALUES][GD_DATA_NAME_MAX]; /* categorical value names */
} gd_attr;

typedef struct gd_dataset {
    char name[GD_DATA_NAME_MAX];
    int n, c, h, w;
    float *images;        /* [n, c, h, w] in [-1, 1] */
    int n_attrs;
    gd_attr attrs[GD_DATA_MAX_ATTRS];
    int *labels;          /* [n, n_attrs]: categorical value index; -1 in continuous slots */
    float *cont;          /* [n, n_attrs]: continuous values; NaN in categorical slots */
    int *cls;             /* [n] class index in [0, n_classes) */
    int n_classes;
} gd_dataset;

/* Allocates the arrays of a data set of n items (images zeroed, labels -1, cont NaN, cls 0);
 * the caller fills in attrs. */
gd_status gd_dataset_alloc(gd_dataset *d, int n, int c, int h, int w, int n_attrs, gd_error *err);
void gd_dataset_free(gd_dataset *d); /* safe on a zeroed or freed data set */
/* the index of the attribute called name, or -1; of a value of a categorical attribute, or -1 */
int gd_dataset_attr_index(const gd_dataset *d, const char *name);
int gd_attr_value_index(const gd_attr *a, const char *value);
/* first [n_classes]: the first item of each class, -1 for a class with no item */
void gd_dataset_class_firsts(const gd_dataset *d, int *first);
/* Replaces d's attributes by one categorical attribute `name` of n_values values (names
 * values[k]), item i taking value[i]; an item's class becomes its value (n_classes =
 * n_values). */
gd_status gd_dataset_single_attribute(gd_dataset *d, const char *name, int n_values,
                                      char (*values)[GD_DATA_NAME_MAX], const int *value,
                                      gd_error *err);
/* The classes as the one attribute "class" (class components, --cond class --cond-sigma > 0):
 * a class is named by its first item's categorical values joined by '+' (shapes:
 * "circle+small+top_left+dark"; Fashion-MNIST: "Sneaker") when the names are distinct and fit,
 * else by its number. At most GD_DATA_MAX_VALUES classes. */
gd_status gd_dataset_class_attribute(gd_dataset *d, gd_error *err);

#ifdef __cplusplus
}
#endif
#endif
