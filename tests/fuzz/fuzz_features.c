/* fuzz_features.c - libFuzzer harness for the feature strings of the command line:
 * gd_condition_parse_features (`sample --features`, with a condition built once from the shapes
 * data) and gd_classifier_parse_values (classifier guidance's values, with the classifier config
 * gd_classifier_config_for gives the same data). The input, NUL-terminated, is the string. */
#include "fuzz_shapes.h"

#include "gmmdiff/classifier.h"
#include "gmmdiff/condition.h"

static gd_condition cond;
static gd_classifier_config ccfg;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    gd_dataset d;
    gd_error err = {0};
    fuzz_shapes_data(&d, 96);
    FUZZ_OK(gd_condition_build(&cond, &d, 16, 0.1f, 3, 1, &err), err);
    FUZZ_OK(gd_classifier_config_for(&ccfg, &d, 0, &err), err);
    gd_dataset_free(&d);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *spec = fuzz_cstr(data, size);
    gd_error err = {0};
    int rows[GD_DATA_MAX_ATTRS];
    if (fuzz_note(gd_condition_parse_features(&cond, spec, rows, &err), &err) == GD_OK)
        for (int a = 0; a < cond.n_attrs; a++) {
            const gd_cond_attr *ca = &cond.attrs[a];
            FUZZ_CHECK(rows[a] == -1 || (rows[a] >= ca->row0 && rows[a] < ca->row0 + ca->n));
        }
    int values[GD_CLS_MAX_HEADS];
    if (fuzz_note(gd_classifier_parse_values(&ccfg, spec, values, &err), &err) == GD_OK)
        for (int h = 0; h < ccfg.n_heads; h++)
            FUZZ_CHECK(values[h] >= 0 && values[h] < ccfg.head_values[h]);
    free(spec);
    return 0;
}
