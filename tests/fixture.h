/* fixture.h - loading named float tensors from a safetensors fixture in tests. */
#ifndef GMMDIFF_TEST_FIXTURE_H
#define GMMDIFF_TEST_FIXTURE_H

#include "gmmdiff/safetensors.h"

/* opens dir/name or exits the test with the loader's message */
void fx_open(gd_safetensors *st, const char *dir, const char *name);
/* a malloc'd copy of tensor `name` (numel in *n if n); exits the test with a message when the
 * tensor is missing */
float *fx_get(const gd_safetensors *st, const char *name, size_t *n);
/* a zeroed buffer of n floats */
float *fx_zeros(size_t n);

#endif
