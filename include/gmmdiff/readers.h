/* readers.h - the readers that fill a gd_dataset (data.h) from files, and the measured image
 * features used both as Fashion-MNIST's continuous attributes and to score generated samples.
 *
 *  - Fashion-MNIST: the four IDX files of Debian's dataset-fashion-mnist (gzipped or not).
 *  - A folder of PNG images with an attributes CSV, for a user's own data.
 *  - CelebA as distributed: img_align_celeba/ JPEGs, list_attr_celeba.txt and
 *    list_eval_partition.txt.
 *
 * Every reader fills images [n, c, h, w] in [-1, 1] (a byte b becomes b / 127.5 - 1). On any
 * failure it returns a status, leaves *d zeroed (nothing to free) and puts in err a message
 * naming the file (and line, for text files) and the problem. Sizes read from a file are
 * checked against the limits below before anything is allocated from them.
 */
#ifndef GMMDIFF_READERS_H
#define GMMDIFF_READERS_H

#include "gmmdiff/data.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GD_READER_MAX_ITEMS (1 << 20)             /* items in one data set */
#define GD_READER_MAX_FLOATS ((size_t)4 << 30)    /* n * c * h * w: 16 GiB of floats */
#define GD_READER_MAX_TEXT ((size_t)256 << 20)    /* bytes of a CSV or attribute list */
#define GD_READER_MAX_SIDE 4096                   /* width or height of one input image */

/* ---- Measured features -----------------------------------------------------------------------
 * gd_image_features: four numbers measured from one image img [c, h, w] with values in [-1, 1]:
 *   intensity(y, x) = clamp((mean over the c channels of img[:, y, x] + 1) / 2, 0, 1)
 *   a pixel is ink when intensity > GD_FEATURE_INK_THRESHOLD
 *   out[GD_FEATURE_INK]       = (number of ink pixels) / (h * w), in [0, 1]
 *   out[GD_FEATURE_MEAN]      = mean intensity over the ink pixels only, in (threshold, 1];
 *                               0 when there is no ink
 *   out[GD_FEATURE_WIDTH]     = last - first + 1 over the columns holding an ink pixel (the
 *                               bounding box of the ink, in pixels); 0 when there is no ink
 *   out[GD_FEATURE_HEIGHT]    = the same over rows
 * For Fashion-MNIST (dark background, bright garment) ink is the garment; the attribute names
 * are gd_feature_names[]. A NaN pixel counts as background. */
#define GD_FEATURE_INK_THRESHOLD 0.2f
enum { GD_FEATURE_INK, GD_FEATURE_MEAN, GD_FEATURE_WIDTH, GD_FEATURE_HEIGHT, GD_FEATURE_COUNT };
extern const char *const gd_feature_names[GD_FEATURE_COUNT]; /* ink, mean_intensity, width, height */
void gd_image_features(const float *img, int c, int h, int w, float out[GD_FEATURE_COUNT]);

/* ---- Fashion-MNIST ---------------------------------------------------------------------------
 * Reads dir/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz (train = 1: train, 0: t10k), or the
 * same names without .gz when the .gz file is absent; either name may hold gzipped or plain
 * bytes. Checks the magic numbers (2051 images, 2049 labels), 28x28 images, equal counts in the
 * two files, labels in [0, 10) and truncation. limit > 0 keeps only the first limit items (only
 * those are read). Result: n items of 1x28x28; attributes: label (categorical, the 10 class
 * names in label order) then ink, mean_intensity, width, height (continuous, from
 * gd_image_features); cls = label, n_classes = 10. */
#define GD_FASHION_DIR "/usr/share/datasets/fashion-mnist"
gd_status gd_fashion_load(gd_dataset *d, const char *dir, int train, int limit, gd_error *err);

/* ---- A folder of PNGs with an attributes CSV ------------------------------------------------
 * csv (NULL: dir/attributes.csv) has a header `file,<attr>,...` and one row per image: a PNG
 * path relative to dir, then one value per column. Fields are split at commas and trimmed of
 * spaces and tabs; blank lines are skipped; a field with a double quote is refused (quoted
 * fields are not supported). A column is continuous when every value parses as a number
 * (strtod, the whole field), and then every value must be finite; otherwise it is categorical,
 * its values named in order of first appearance (at most GD_DATA_MAX_VALUES). An optional
 * column named `class` is not an attribute: its values, integers in [0, GD_FOLDER_MAX_CLASSES),
 * give cls, and n_classes = largest + 1. Without it cls is the combination index over the
 * categorical attributes (mixed radix, first column most significant), n_classes their product;
 * when there are none, or the product exceeds GD_FOLDER_MAX_CLASSES, cls = 0 and n_classes = 1.
 * channels (1 or 3) is what every image is converted to; all images must have the size of the
 * first. */
#define GD_FOLDER_MAX_CLASSES 4096
gd_status gd_folder_load(gd_dataset *d, const char *dir, const char *csv, int channels,
                         gd_error *err);

/* ---- CelebA ----------------------------------------------------------------------------------
 * root holds img_align_celeba/<file>.jpg, list_attr_celeba.txt (line 1: the count N; line 2: the
 * attribute names; then N lines `file v1 ... vK` with values 1 or -1, whitespace separated) and,
 * when partition >= 0, list_eval_partition.txt (`file p`, p: 0 train, 1 valid, 2 test; it must
 * list every file of the attribute list exactly once). partition -1 keeps every item, else those
 * of that partition, in attribute-list order; limit > 0 keeps the first limit of them.
 * Each JPEG (any libjpeg warning, e.g. a truncated file, is an error) is decoded to RGB, cropped
 * to the centred square of side s = min(W, H) at x0 = (W - s) / 2, y0 = (H - s) / 2 (integer
 * division; for the aligned 178x218 images: columns 0..177, rows 20..197) and area-resized
 * (each output pixel the exact overlap-weighted mean of the source pixels its square covers) to
 * size x size, 1 <= size <= s. Attributes: the K names of line 2 (K <= GD_DATA_MAX_ATTRS; 40 in
 * CelebA), each categorical with values {no, yes} (-1 -> no, 1 -> yes). No class: a combination
 * index over 40 binary attributes means nothing, so cls = 0 and n_classes = 1. */
gd_status gd_celeba_load(gd_dataset *d, const char *root, int partition, int size, int limit,
                         gd_error *err);

#ifdef __cplusplus
}
#endif
#endif
