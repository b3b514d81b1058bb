"""Benchmarks: scenarios that print JSON results (see `perf.runner`)."""

import os

# numpy's BLAS threads spin after use and steal the second core from the code under test;
# set before numpy is first imported by any benchmark.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
