# blas_coretype.sh - sourced by the benchmarks. Debian's OpenBLAS 0.3.21 falls back to its slow
# SSE3 (Prescott) kernels on CPUs it does not know, and the peers (PyTorch's matrix products,
# numpy under scikit-learn) use it: give them the kernels gmmdiff's own loader picks
# (src/core/blas.c), unless OPENBLAS_CORETYPE is set already.
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
    if grep -q avx512bw /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX
    elif grep -q avx2 /proc/cpuinfo; then export OPENBLAS_CORETYPE=Haswell; fi
fi
