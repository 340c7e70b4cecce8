"""The trace cache: exact cache_info() counts, LRU eviction (evicted concrete functions are
collected), and large captured arrays passed by reference instead of baked in as constants."""
import gc
import weakref

import numpy as np
import pytest

import tracejit as tf
from tracejit.ir.graph import CONST


def test_cache_info_counts_are_exact():
    f = tf.function(lambda x: tf.exp(x) * 2.0 + 1.0)
    assert f.cache_info()[:6] == (0, None, 0, 0, 0, 0)
    for shape in ([2, 3], [2, 3], [4], [2, 3], [4], [4]):
        f(tf.ones(shape))                           # fast path (positional eager tensors)
    f(x=tf.ones([4]))                               # keyword call: the slow path, same entry
    f.get_concrete_function(tf.ones([9]))           # traces, but is not a call
    info = f.cache_info()
    assert (info.entries, info.max_size, info.hits, info.misses, info.evictions, info.traces) == (3, None, 5, 2, 0, 3)
    assert info.kernels == 3                        # one fused[exp,multiply,add] per concrete function
    assert info.constant_bytes == 3 * 2 * 4         # two float32 scalars per graph
    assert info.captured_bytes == 0 and info.compile_seconds > 0 and not info.eager_fallback
    text = str(info)
    assert text.startswith("3 entries (unbounded), 5 hits, 2 misses, 0 evictions, 3 traces")


def test_lru_eviction_frees_the_evicted_concrete_function():
    f = tf.function(lambda x: x * 2.0, cache_size=2)
    f(tf.ones([1]))
    first = weakref.ref(f.get_concrete_function(tf.ones([1])))
    f(tf.ones([2]))
    second = weakref.ref(f.get_concrete_function(tf.ones([2])))
    f(tf.ones([1]))                 # [1] is now the most recently used: [2] goes next
    f(tf.ones([3]))
    gc.collect()
    assert second() is None and first() is not None
    info = f.cache_info()
    assert (info.entries, info.evictions, info.hits, info.misses) == (2, 1, 1, 3)
    f(tf.ones([2]))                 # traced again, explained as an eviction
    record = f.retraces[-1]
    assert record.differences[0].kind == "evicted" and "cache_size" in record.fix
    gc.collect()
    assert first() is None          # [1] was least recently used when [2] came back
    assert f(tf.ones([2])).numpy().tolist() == [2.0, 2.0]


def test_relaxed_entries_are_cached_and_evicted_like_exact_ones():
    f = tf.function(lambda x, n: x * n, reduce_retracing=True, cache_size=1)
    f(tf.ones([2]), 1)
    f(tf.ones([3]), 1)              # relaxed trace: x: [None]; evicts the first
    f(tf.ones([5]), 1)              # served by the relaxed entry
    assert f(tf.ones([6]), 2).numpy().tolist() == [2.0] * 6      # n differs: not the relaxed entry
    info = f.cache_info()
    assert (info.entries, info.traces, info.hits, info.evictions) == (1, 3, 1, 2)


def test_cache_size_is_validated():
    with pytest.raises(ValueError, match="cache_size must be at least 1"):
        tf.function(lambda x: x, cache_size=0)


def test_large_captured_array_is_a_graph_input_not_a_constant():
    table = np.arange(512 * 1024, dtype=np.float32).reshape(512, 1024)      # 2 MiB
    small = np.full((4,), 3.0, np.float32)
    f = tf.function(lambda x: tf.reduce_sum(x * table) + tf.reduce_sum(small * 2.0))
    x = tf.ones([512, 1024])
    expected = float(table.sum()) + 24.0
    assert float(f(x)) == pytest.approx(expected, rel=1e-5)
    concrete = f.get_concrete_function(x)
    (captured_value, captured_array), = concrete.graph.captures
    assert np.array_equal(captured_array, table) and concrete.captured_inputs[0] is captured_array
    assert captured_value in concrete.graph.inputs and len(concrete.graph.inputs) == 2
    assert "captures(%" in str(concrete.graph) and "f32[512,1024]" in str(concrete.graph).splitlines()[0]
    constants = [n.params["value"] for n in concrete.graph.nodes if n.op == "const"]
    assert all(c.nbytes < 1 << 20 for c in constants)          # the table is not baked in
    # the small constant is still folded: small * 2.0 -> [6, 6, 6, 6] -> 24
    folded = [n.params["value"] for n in concrete.optimized_graph.nodes if n.prim is CONST]
    assert any(np.array_equal(c, 24.0) for c in folded)
    info = f.cache_info()
    assert info.captured_bytes == table.nbytes and info.constant_bytes < 1024
    # as in TF, the graph holds the value the array had when traced (converting an ndarray copies it)
    table[0, 0] += 1000.0
    assert float(f(x)) == pytest.approx(expected, rel=1e-5)
    assert f.experimental_get_tracing_count() == 1


def test_capture_threshold_is_configurable():
    array = np.ones((8,), np.float32)
    f = tf.function(lambda x: x + array)
    tf.config.set_max_constant_bytes(16)
    try:
        concrete = f.get_concrete_function(tf.ones([8]))
    finally:
        tf.config.set_max_constant_bytes(1 << 20)
    (captured,) = [a for _, a in concrete.graph.captures]
    assert np.array_equal(captured, array)
    assert f(tf.ones([8])).numpy().tolist() == [2.0] * 8


def test_captured_tensors_inside_cond_branches_and_gradients():
    weights = tf.constant(np.full((600, 600), 0.5, np.float32))          # an eager tensor, 1.4 MB
    x = tf.Variable(np.ones((600, 600), np.float32))

    @tf.function
    def f(flag):
        with tf.GradientTape() as tape:
            y = tf.cond(flag, lambda: tf.reduce_sum(x * weights), lambda: tf.reduce_sum(x))
        return y, tape.gradient(y, x)
    y, grad = f(tf.constant(True))
    assert float(y) == pytest.approx(0.5 * 600 * 600)
    assert np.allclose(grad.numpy(), 0.5)
    assert len(f.get_concrete_function(tf.constant(True)).graph.captures) == 1
