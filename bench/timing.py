"""Interleaved timing: every variant of a case runs in turn within each repetition, so load from
other processes on this shared 2-core machine hits them alike; results are medians."""
import itertools
import time

import numpy as np


def cycling(step, batches):
    """A no-argument callable running step(*batch) on the next batch of the pool, round robin."""
    pool = itertools.cycle(batches)
    return lambda: step(*next(pool))


def warm_up(variants, calls=5):
    """Reach steady state before timing: run.py sets tracejit's compile mode to "sync", so the first
    call already runs native code (and @njit baselines compile here, outside the timings)."""
    for fn in variants.values():
        for _ in range(calls):
            fn()


def samples(variants, repetitions, calls_per_sample=1):
    """{name: [seconds per call]}, the variants taking turns within each repetition. One untimed
    round first: the first call after another case pays for waking (or waiting out) BLAS threads."""
    warm_up(variants, 1)
    times = {name: [] for name in variants}
    for _ in range(repetitions):
        for name, fn in variants.items():
            start = time.perf_counter()
            for _ in range(calls_per_sample):
                fn()
            times[name].append((time.perf_counter() - start) / calls_per_sample)
    return times


def interleaved_medians(variants, repetitions, calls_per_sample=1, warmup=5):
    """{name: median seconds per call}; `variants` maps names to no-argument callables."""
    warm_up(variants, warmup)
    return {name: float(np.median(t)) for name, t in samples(variants, repetitions, calls_per_sample).items()}


def tier(function, *args):
    """"native", or "interpreter: why" for the concrete function of a tracejit @function."""
    executable = function.get_concrete_function(*args)._executable
    executable.wait_compiled()
    return executable.tier if executable.tier == "native" else f"{executable.tier}: {executable.reason}"
