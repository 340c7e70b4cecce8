"""Machine ceilings, measured once at the start of a run: sgemm GFLOP/s on one thread and on all
OpenBLAS threads (as configured by the environment), and memory bandwidth GB/s (large np.copyto,
counting read + write). Best of a few tries: these are peaks, not typical values."""
import os
import subprocess
import sys
import time

import numpy as np


def sgemm_gflops(n=2048, tries=10):
    a, b = (np.random.default_rng(i).random((n, n), dtype=np.float32) for i in (0, 1))
    out = np.empty((n, n), np.float32)
    np.dot(a, b, out=out)
    best = min(_seconds(lambda: np.dot(a, b, out=out)) for _ in range(tries))
    return 2 * n ** 3 / best / 1e9


def bandwidth_gbs(nbytes=256 << 20, tries=5):
    src = np.ones(nbytes // 4, np.float32)
    dst = np.zeros_like(src)
    best = min(_seconds(lambda: np.copyto(dst, src)) for _ in range(tries))
    return 2 * nbytes / best / 1e9


def _seconds(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure():
    """{"sgemm_1t", "sgemm_all": GFLOP/s, "bandwidth": GB/s}; one thread in a subprocess (OpenBLAS
    reads its thread count at load time)."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    code = f"import sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); " \
           "import ceilings; print(ceilings.sgemm_gflops())"
    single = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return {"sgemm_1t": float(single.stdout.split()[-1]), "sgemm_all": sgemm_gflops(),
            "bandwidth": bandwidth_gbs()}
