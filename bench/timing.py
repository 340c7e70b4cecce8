"""Interleaved timing: every variant of a case runs in turn within each repetition, so load from
other processes on this shared 2-core machine hits them alike; results are medians."""
import itertools
import time

import numpy as np


def cycling(step, batches):
    """A no-argument callable running step(*batch) on the next batch of the pool, round robin."""
    pool = itertools.cycle(batches)
    return lambda: step(*next(pool))


def interleaved_medians(variants, repetitions, calls_per_sample=1, warmup=5):
    """{name: median seconds per call}; `variants` maps names to no-argument callables. The warm-up
    calls must reach steady state: run.py sets tracejit's compile mode to "sync", so the first call
    already runs native code (and @njit baselines compile there, outside the timings)."""
    time.sleep(0.3)       # let OpenBLAS worker threads from the previous case stop spinning
    for fn in variants.values():
        for _ in range(warmup):
            fn()
    samples = {name: [] for name in variants}
    for _ in range(repetitions):
        for name, fn in variants.items():
            start = time.perf_counter()
            for _ in range(calls_per_sample):
                fn()
            samples[name].append((time.perf_counter() - start) / calls_per_sample)
    return {name: float(np.median(times)) for name, times in samples.items()}


def tier(function, *args):
    """"native" or "interpreter (reason)" for the concrete function of a tracejit @function."""
    executable = function.get_concrete_function(*args)._executable
    executable.wait_compiled()
    return executable.tier if executable.tier == "native" else f"{executable.tier} ({executable.reason})"
