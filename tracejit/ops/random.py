"""Random ops with TF's seeding rules: tracejit.random.set_seed(global) + optional op seed.

Each (global seed, op seed) pair owns a stream; every execution draws fresh numbers from it,
in eager mode and inside compiled graphs alike, and set_seed restarts all streams.
"""
import itertools

import numpy as np

from .. import dtypes as dt
from ..errors import InvalidArgumentError
from ..primitive import RANDOM
from .core import op, static_shape

_DEFAULT_GLOBAL_SEED = 87654321
_global_seed = None
_op_counter = itertools.count()
_streams = {}


class SeedStream:
    """One generator per (global seed, op seed): successive draws continue its sequence, so a
    seeded program repeats exactly; creating a generator per draw cost ~30 us per random op."""

    def __init__(self, seeds):
        self.seeds = seeds
        self._generator = np.random.default_rng(None if seeds is None else list(seeds))

    def next_generator(self):
        return self._generator

    def __repr__(self):
        return f"seed{self.seeds}" if self.seeds else "unseeded"


def set_seed(seed):
    global _global_seed, _op_counter
    _global_seed = None if seed is None else int(seed)
    _op_counter = itertools.count()
    _streams.clear()


def get_global_generator_seed():
    return _global_seed


def get_seed(op_seed):
    """TF's (global seed, op seed) for an op created now, or None when neither is set (then the op
    is nondeterministic). With only a global seed, each op takes the next number of a counter that
    set_seed restarts, so a program repeats after set_seed; with only an op seed the global seed
    is a fixed default."""
    if _global_seed is None and op_seed is None:
        return None
    return (_DEFAULT_GLOBAL_SEED if _global_seed is None else _global_seed,
            next(_op_counter) if op_seed is None else int(op_seed))


def _stream(seed):
    key = get_seed(seed)
    if key is None:
        return SeedStream(None)
    return _streams.setdefault(key, SeedStream(key))


def _rule(shape, dtype, stream, **_):
    return shape, dtype


def _declare(name, impl):
    prim = op(name, RANDOM, differentiable=False, stateful=True, sample="random")(_rule)
    prim.impl = impl
    return prim


def _uniform_impl(shape, dtype, stream, minval, maxval):
    rng = stream.next_generator()
    if dtype.is_integer:
        return rng.integers(minval, maxval, size=shape, dtype=dtype.np)
    return (minval + (maxval - minval) * rng.random(size=shape)).astype(dtype.np)


def _normal_impl(shape, dtype, stream, mean, stddev):
    return (mean + stddev * stream.next_generator().standard_normal(size=shape)).astype(dtype.np)


def _truncated_normal_impl(shape, dtype, stream, mean, stddev):
    rng = stream.next_generator()
    z = rng.standard_normal(size=shape)
    outside = np.abs(z) > 2
    while outside.any():         # TF redraws values more than 2 stddevs from the mean
        z[outside] = rng.standard_normal(size=int(outside.sum()))
        outside = np.abs(z) > 2
    return (mean + stddev * z).astype(dtype.np)


_uniform = _declare("random_uniform", _uniform_impl)
_normal = _declare("random_normal", _normal_impl)
_truncated_normal = _declare("truncated_normal", _truncated_normal_impl)


def _check(name, dtype, allowed):
    dtype = dt.as_dtype(dtype)
    if dtype not in allowed:
        raise InvalidArgumentError(f"{name}: dtype {dtype.name} is not supported "
                                   f"(supported: {', '.join(d.name for d in allowed)})")
    return dtype


def uniform(shape, minval=0, maxval=None, dtype=dt.float32, seed=None, name=None):
    dtype = _check("random.uniform", dtype, dt.NUMERIC)
    if maxval is None:
        if dtype.is_integer:
            raise InvalidArgumentError("random.uniform: maxval must be specified for integer dtype "
                                       f"{dtype.name}")
        maxval = 1
    if dtype.is_integer and not minval < maxval:
        raise InvalidArgumentError(f"random.uniform: need minval < maxval, got {minval} >= {maxval}")
    return _uniform(shape=static_shape("random.uniform", shape), dtype=dtype, stream=_stream(seed),
                    minval=minval, maxval=maxval)


def normal(shape, mean=0.0, stddev=1.0, dtype=dt.float32, seed=None, name=None):
    return _normal(shape=static_shape("random.normal", shape), dtype=_check("random.normal", dtype, dt.FLOATS),
                   stream=_stream(seed), mean=float(mean), stddev=float(stddev))


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=dt.float32, seed=None, name=None):
    return _truncated_normal(shape=static_shape("random.truncated_normal", shape),
                             dtype=_check("random.truncated_normal", dtype, dt.FLOATS), stream=_stream(seed),
                             mean=float(mean), stddev=float(stddev))
