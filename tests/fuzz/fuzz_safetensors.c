/* fuzz_safetensors.c - libFuzzer harness for the safetensors reader: gd_st_open on the input,
 * then every tensor through gd_st_read_f32 and a few metadata keys through gd_st_meta. */
#include "fuzz_util.h"

#include "gmmdiff/safetensors.h"

static int fd = -1;
static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (fd < 0) fd = fuzz_memfd("safetensors", path);
    fuzz_memfd_set(fd, data, size);
    gd_safetensors st;
    gd_error err = {0};
    if (fuzz_note(gd_st_open(&st, path, &err), &err) != GD_OK) return 0;
    for (int i = 0; i < st.n; i++) {
        const gd_st_tensor *t = &st.tensors[i];
        /* the reader promises numel matches the bytes in the file, so this is bounded by size */
        FUZZ_CHECK(t->nbytes <= size);
        float *dst = malloc(sizeof(float) * (t->numel ? t->numel : 1));
        FUZZ_CHECK(dst);
        gd_st_read_f32(&st, t->name, dst, 0, NULL, &err);
        gd_st_read_f32(&st, t->name, dst, t->ndim, t->shape, &err);
        free(dst);
    }
    /* a lookup of a name that is absent, and a shape that disagrees */
    int64_t shape[1] = {1};
    float one;
    gd_st_read_f32(&st, "no such tensor", &one, 1, shape, &err);
    const char *keys[] = {"format", "version", "step", "config", ""};
    char buf[64];
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) gd_st_meta(&st, keys[k], buf, sizeof buf);
    gd_st_close(&st);
    return 0;
}
