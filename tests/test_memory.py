"""@function keeps no call's arguments alive, and nothing unreachable stays alive: traces record
argument shapes and dtypes, not arrays; a dropped Function, or the instance of a decorated method,
is collected with its concrete functions and variables."""
import gc
import tracemalloc
import weakref

import numpy as np
import pytest

import tracejit as tf

MIB = 1 << 20


@pytest.fixture
def traced_memory():
    tracemalloc.start()
    yield lambda: (gc.collect(), tracemalloc.get_traced_memory()[0])[1]
    tracemalloc.stop()


@tf.function
def _scaled_sum(x):
    return tf.reduce_sum(x * 2.0)


@pytest.mark.parametrize("as_tensor", [False, True], ids=["ndarray", "tensor"])
def test_a_64_mib_argument_is_freed_after_the_call(traced_memory, as_tensor):
    _scaled_sum(np.ones((2, 2), np.float32))       # first compiled call: imports the compiler (tens of MiB)
    for rows in (4096, 4096, 2048):                # a trace, a cached call, a retrace
        before = traced_memory()
        array = np.ones((rows, 4096), np.float32)
        argument = tf.constant(array) if as_tensor else array
        del array
        alive = weakref.ref(argument)
        result = _scaled_sum(argument)
        assert float(result) == 2.0 * rows * 4096
        del argument, result
        after = traced_memory()
        assert alive() is None, gc.get_referrers(alive())
        assert after - before < 4 * MIB, f"{(after - before) / MIB:.1f} MiB still allocated after a call with {rows} rows"
    assert _scaled_sum.experimental_get_tracing_count() == 3


def test_traces_remember_shapes_not_arrays():
    @tf.function
    def double(x):
        return x * 2

    double(np.zeros((3, 4), np.float32))
    double(np.zeros((5, 4), np.float32))
    for trace in double._history:
        assert [argument.value for argument in trace.arguments] == [None]
        assert trace.arguments[0].describe().startswith("float32[")
    assert "x: float32[3,4] -> float32[5,4]" in str(double.retraces[-1])      # retraces still explained


def test_a_dropped_function_frees_its_concrete_functions():
    @tf.function
    def double(x):
        return x * 2
    double(np.zeros(3, np.float32))
    double(np.zeros(4, np.float32))
    concretes = [weakref.ref(c) for c in double._cache.concretes()]
    assert len(concretes) == 2
    del double
    gc.collect()
    assert [c() for c in concretes] == [None, None]


def test_decorated_methods_do_not_keep_their_instance_alive():
    class Scaler:
        def __init__(self):
            self.scale = tf.Variable(np.full(3, 2.0, np.float32))

        @tf.function
        def __call__(self, x):
            return x * self.scale

    scaler = Scaler()
    assert scaler(np.ones(3, np.float32)).numpy().tolist() == [2.0, 2.0, 2.0]
    assert type(scaler).__call__.__get__(scaler, Scaler) is type(scaler).__call__.__get__(scaler, Scaler)
    instance, variable = weakref.ref(scaler), weakref.ref(scaler.scale)
    concrete = weakref.ref(next(iter(type(scaler).__call__.__get__(scaler, Scaler)._cache.concretes())))
    del scaler
    gc.collect()
    assert instance() is None and variable() is None and concrete() is None
