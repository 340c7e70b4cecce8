"""The Numba backend: fused programs equal eager (property-based), buffers never alias results the
caller holds, variables update correctly, kernels are introspectable and cached across processes."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import tracejit as tf
from conftest import assert_close

pytestmark = pytest.mark.skipif(tf.config.backend() != "numba", reason="tests of the numba backend")

UNARY = [tf.exp, tf.tanh, tf.sigmoid, tf.abs, tf.square, tf.nn.relu, tf.negative, tf.math.sin, tf.nn.softplus]
BINARY = [tf.add, tf.subtract, tf.multiply, tf.maximum, tf.minimum]
SHAPES = [(3, 4), (4,), (1, 4), (3, 1), ()]


@st.composite
def programs(draw):
    """A random elementwise program over broadcastable inputs: (input shapes, steps)."""
    n_inputs = draw(st.integers(1, 3))
    shapes = [(3, 4)] + [draw(st.sampled_from(SHAPES)) for _ in range(n_inputs - 1)]
    steps = []
    for i in range(draw(st.integers(2, 6))):
        available = n_inputs + i
        if draw(st.booleans()):
            steps.append(("u", draw(st.integers(0, len(UNARY) - 1)), draw(st.integers(0, available - 1))))
        else:
            steps.append(("b", draw(st.integers(0, len(BINARY) - 1)), draw(st.integers(0, available - 1)),
                          draw(st.integers(0, available - 1))))
    return shapes, steps


def run_program(steps, *inputs):
    values = list(inputs)
    for step in steps:
        if step[0] == "u":
            values.append(UNARY[step[1]](values[step[2]]))
        else:
            values.append(BINARY[step[1]](values[step[2]], values[step[3]]))
    return values[-1], values[len(inputs)]       # the last value and an intermediate one (multiple exports)


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.sampled_from([np.float32, np.float64]))
def test_random_fused_programs_match_eager(program, dtype):
    shapes, steps = program
    rng = np.random.default_rng(0)
    inputs = [tf.constant(rng.uniform(-2, 2, s).astype(dtype)) for s in shapes]
    eager = run_program(steps, *inputs)
    compiled = tf.function(lambda *xs: run_program(steps, *xs))(*inputs)
    for c, e in zip(compiled, eager):
        assert_close(c.numpy(), e.numpy(), tf.as_dtype(dtype))


def test_results_held_by_the_caller_are_never_overwritten():
    f = tf.function(lambda x: tf.tanh(x) * 2.0 + 1.0)
    first = f(tf.constant([0.0, 1.0]))
    second = f(tf.constant([2.0, 3.0]))
    np.testing.assert_allclose(first.numpy(), np.tanh([0.0, 1.0]) * 2 + 1, rtol=1e-6)
    np.testing.assert_allclose(second.numpy(), np.tanh([2.0, 3.0]) * 2 + 1, rtol=1e-6)
    assert first.numpy() is not second.numpy()


def test_buffers_are_reused_when_free():
    f = tf.function(lambda x: tf.exp(x) * 2.0 - 1.0)
    x = tf.constant(np.ones(1000, np.float32))
    f(x)                                   # result dropped: its buffer is free again
    pool = f.get_concrete_function(x)._executable._pool
    before = [id(b) for b in pool]
    f(x)
    assert [id(b) for b in pool] == before


def test_training_step_updates_variables_with_ping_pong_buffers():
    w = tf.Variable(np.ones(5, np.float32))
    m = tf.Variable(np.zeros(5, np.float32))

    @tf.function
    def step(g):
        m.assign(0.9 * m + 0.1 * g)
        w.assign_sub(0.5 * m)
        return w.read_value()
    g = tf.constant(np.arange(5, dtype=np.float32))
    w_ref, m_ref = np.ones(5, np.float32), np.zeros(5, np.float32)
    snapshots = []
    for _ in range(4):
        held = w.read_value()                        # an eager read taken before the step
        out = step(g)
        m_ref = np.float32(0.9) * m_ref + np.float32(0.1) * g.numpy()
        snapshots.append((held, w_ref.copy()))
        w_ref = w_ref - np.float32(0.5) * m_ref
        np.testing.assert_allclose(out.numpy(), w_ref, rtol=1e-6)
    for held, expected in snapshots:                 # reads stay snapshots: never written in place
        np.testing.assert_allclose(held.numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(w.numpy(), w_ref, rtol=1e-6)
    np.testing.assert_allclose(m.numpy(), m_ref, rtol=1e-6)


def test_kernel_introspection_and_debug_source(capsys):
    f = tf.function(lambda x, b: tf.nn.relu(x + b) * 3.0, debug=3)
    concrete = f.get_concrete_function(tf.zeros([8, 4]), tf.zeros([4]))
    (kernel,) = concrete.kernels
    assert kernel.members == ["add", "relu", "multiply"] and kernel.shape == (8, 4) and kernel.dtype == "float32"
    assert kernel.flops == 96 and kernel.bytes == (32 + 4 + 32) * 4
    assert "def kernel(a0, a1, a2, out0):" in kernel.source and "relu(t0)" in kernel.source
    err = capsys.readouterr().err
    assert kernel.name in err and "def kernel(" in err and "driver:" in err


def test_large_kernels_run_in_parallel_and_match():
    x = tf.constant(np.random.default_rng(0).uniform(-3, 3, 1 << 19).astype(np.float32))
    f = tf.function(lambda x: tf.tanh(x) * x + 1.0)
    (kernel,) = f.get_concrete_function(x).kernels
    assert kernel.parallel and "prange" in kernel.source
    assert_close(f(x).numpy(), (tf.tanh(x) * x + 1.0).numpy(), tf.float32)


def test_backend_switch_gives_the_same_results():
    def model(x):
        return tf.reduce_sum(tf.nn.softmax(tf.matmul(x, x, transpose_b=True)) * 2.0 + 1.0, axis=1)
    x = tf.constant(np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32))
    compiled = tf.function(model)(x)
    tf.config.set_backend("numpy")
    try:
        interpreted = tf.function(model)(x)
    finally:
        tf.config.set_backend("numba")
    assert_close(compiled.numpy(), interpreted.numpy(), tf.float32)
    with pytest.raises(ValueError, match="unknown backend"):
        tf.config.set_backend("cuda")


def _run(code, cache_dir):
    env = dict(os.environ, TRACEJIT_CACHE_DIR=str(cache_dir))
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


SCRIPT = """
    import json, numpy as np, tracejit as tf
    tf.config.set_min_kernel_elements(0)
    f = tf.function(lambda x, y: tf.tanh(x * y) + x * 0.5)
    x = tf.constant(np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4))
    out = f(x, x)
    concrete = f.get_concrete_function(x, x)
    kernel = concrete._executable._namespace["K0"]
    print(json.dumps({"sum": float(tf.reduce_sum(out)), "hits": sum(kernel.stats.cache_hits.values()),
                      "misses": sum(kernel.stats.cache_misses.values())}))
"""


def test_second_process_loads_kernels_from_the_disk_cache(tmp_path):
    first = json.loads(_run(SCRIPT, tmp_path).strip().splitlines()[-1])
    second = json.loads(_run(SCRIPT, tmp_path).strip().splitlines()[-1])
    assert first["hits"] == 0 and first["misses"] == 1
    assert second["hits"] == 1 and second["misses"] == 0
    assert second["sum"] == first["sum"]
    info = json.loads(subprocess.run([sys.executable, "-m", "tracejit", "cache", "info"], capture_output=True,
                                     text=True, env=dict(os.environ, TRACEJIT_CACHE_DIR=str(tmp_path))).stdout)
    assert info["kernel_modules"] == 1 and info["bytes"] > 0
    cleared = subprocess.run([sys.executable, "-m", "tracejit", "cache", "clear"], capture_output=True, text=True,
                             env=dict(os.environ, TRACEJIT_CACHE_DIR=str(tmp_path)))
    assert "removed 1 kernel module(s)" in cleared.stdout and list(tmp_path.iterdir()) == []


def test_optimizer_updates_write_into_the_variable_buffer():
    w, m = tf.Variable(np.ones(64, np.float32)), tf.Variable(np.zeros(64, np.float32))

    @tf.function
    def step(g):
        m.assign(0.9 * m + g)
        w.assign_sub(0.1 * m)
    g = tf.constant(np.ones(64, np.float32))
    step(g)
    buffers = (id(w._value), id(m._value))                         # ids: holding the arrays would force copies
    step(g)
    assert (id(w._value), id(m._value)) == buffers                 # updated in place, no new arrays
    held = w.read_value()                                          # an outside reference: copy, not overwrite
    step(g)
    assert id(w._value) != buffers[0] and id(m._value) == buffers[1]
    np.testing.assert_allclose(held.numpy(), 1 - 0.1 * (1 + 1.9))
    np.testing.assert_allclose(w.numpy(), 1 - 0.1 * (1 + 1.9 + 2.71), rtol=1e-6)
    kernel = step.get_concrete_function(g).kernels[0]
    assert "out0" not in kernel.source.split("\n")[0]             # results are stored through the inputs


@pytest.mark.parametrize("reduce", [tf.reduce_sum, tf.reduce_mean, tf.reduce_max, tf.reduce_min])
@pytest.mark.parametrize("axis,keepdims", [(None, False), (1, False), (0, True), ((0, 2), False), (-1, True)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_reductions_fuse_into_the_elementwise_loop(reduce, axis, keepdims, dtype):
    x = tf.constant(np.random.default_rng(2).uniform(-2, 2, (3, 4, 5)).astype(dtype))
    b = tf.constant(np.random.default_rng(3).uniform(-1, 1, (5,)).astype(dtype))

    def f(x, b):
        return reduce(tf.exp(x) * b - x, axis=axis, keepdims=keepdims)
    traced = tf.function(f)
    if dtype == np.float16:
        # eager float16 rounds every op and partial sum; the kernel accumulates in float64, so allow the
        # eager rounding error of a sum: eps16 * (number of terms) * largest term
        terms = np.abs((np.exp(x.numpy().astype(np.float64)) * b.numpy() - x.numpy()))
        np.testing.assert_allclose(traced(x, b).numpy(), f(x, b).numpy(), rtol=1e-2, atol=1e-3 * 20 * terms.max())
    else:
        assert_close(traced(x, b).numpy(), f(x, b).numpy(), tf.as_dtype(dtype))
    (kernel,) = traced.get_concrete_function(x, b).kernels
    assert kernel.members[-1] == reduce.__name__ and kernel.members[:3] == ["exp", "multiply", "subtract"]


def test_reduction_fusion_propagates_nan_and_keeps_float32_accuracy():
    x = np.full(1 << 20, 0.1, np.float32)
    f = tf.function(lambda x: tf.reduce_sum(x * 1.0 + 0.0) + tf.reduce_max(tf.abs(x) * 2.0))
    assert_close(f(tf.constant(x)).numpy(), np.float32(np.sum(x.astype(np.float64)) + 0.2), tf.float32)
    x[7] = np.nan
    g = tf.function(lambda x: tf.reduce_max(tf.abs(x) * 2.0))
    assert np.isnan(g(tf.constant(x)).numpy())


def test_small_groups_run_on_numpy_by_default_and_match():
    tf.config.set_min_kernel_elements(1024)
    small, large = tf.constant(np.ones((4, 8), np.float32)), tf.constant(np.ones((64, 32), np.float32))
    f = tf.function(lambda x: tf.exp(x) * 2.0 + 1.0)
    assert_close(f(small).numpy(), (tf.exp(small) * 2.0 + 1.0).numpy(), tf.float32)
    assert f.get_concrete_function(small).kernels == []
    assert len(f.get_concrete_function(large).kernels) == 1


def test_same_shape_kernels_compile_once_for_every_rank():
    f = tf.function(lambda a, b: a * 0.9 + b * 0.1)
    shapes = [(6, 4), (24,), (2, 3, 4)]
    kernels = [f.get_concrete_function(tf.ones(s), tf.ones(s)).kernels[0] for s in shapes]
    assert len({k.name for k in kernels}) == 1 and all(k.flat for k, s in zip(kernels, shapes) if len(s) > 1)
    for s in shapes:
        assert f(tf.ones(s), tf.ones(s)).shape == s


def test_tiered_compilation_compiles_small_groups_once_hot(capsys):
    tf.config.set_min_kernel_elements(1024)
    tf.config.set_tier_up_calls(3)
    try:
        f = tf.function(lambda x: tf.exp(x) * 2.0 + 1.0, debug=1)
        x = tf.constant(np.linspace(0, 1, 8, dtype=np.float32))
        expected = (tf.exp(x) * 2.0 + 1.0).numpy()
        concrete = f.get_concrete_function(x)
        for call in range(5):
            assert_close(f(x).numpy(), expected, tf.float32)
            assert len(concrete.kernels) == (0 if call < 2 else 1)    # the third call tiers up
        assert "tier-up: <lambda> is hot" in capsys.readouterr().err
    finally:
        tf.config.set_tier_up_calls(20)


def test_reduction_assigned_to_a_variable_it_reads_runs_as_a_kernel():
    v = tf.Variable(np.ones(3, np.float32))
    x = tf.constant(np.arange(12, dtype=np.float32).reshape(4, 3))

    @tf.function
    def step():
        v.assign(tf.reduce_sum(x * v, axis=0))
    for _ in range(2):
        step()
    np.testing.assert_allclose(v.numpy(), np.arange(12).reshape(4, 3).sum(0) ** 2)
    executable = step.get_concrete_function()._executable
    assert executable.fallbacks == [] and executable.kernels[0].members == ["multiply", "reduce_sum"]
