"""The native backend: fused programs equal eager (property-based), buffers never alias results the
caller holds, variables update correctly, loops are introspectable, native code is cached across
processes and checked before use, and calls from several threads stay correct."""
import json
import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import tracejit as tf
from conftest import assert_close

pytestmark = pytest.mark.skipif(tf.config.backend() != "native", reason="tests of the native backend")

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


def test_output_buffers_are_reused_when_free():
    f = tf.function(lambda x: tf.exp(x) * 2.0 - 1.0)
    x = tf.constant(np.ones(1000, np.float32))
    first = id(f(x)._value)                 # the result is dropped at once: its buffer is free again
    assert id(f(x)._value) == first
    held = f(x)                             # held by the caller: the next call writes elsewhere
    assert id(f(x)._value) != id(held._value)


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



def native(f, *args):
    executable = f.get_concrete_function(*args)._executable
    assert executable.tier == "native", executable.reason
    return executable


def test_loop_introspection_and_debug_output(capsys):
    f = tf.function(lambda x, b: tf.nn.relu(x + b) * 3.0, debug=3)
    f(tf.zeros([8, 4]), tf.zeros([4]))
    (kernel,) = f.get_concrete_function(tf.zeros([8, 4]), tf.zeros([4])).kernels
    assert kernel.members == ["add", "relu", "multiply"] and kernel.shape == (8, 4) and kernel.dtype == "float32"
    assert kernel.flops == 96 and kernel.bytes == (32 + 4 + 32) * 4
    err = capsys.readouterr().err
    assert "native code ready" in err and "define i32 @\"segment_0\"" in err and "driver:" in err


def test_large_loops_run_in_parallel_and_match():
    x = tf.constant(np.random.default_rng(0).uniform(-3, 3, 1 << 19).astype(np.float32))
    f = tf.function(lambda x: tf.tanh(x) * x + 1.0)
    (kernel,) = native(f, x).kernels
    assert kernel.parallel and native(f, x).lowered.plan.parallel == {0}
    assert_close(f(x).numpy(), (tf.tanh(x) * x + 1.0).numpy(), tf.float32)


def test_graphs_with_matmul_keep_loops_serial():
    x = tf.constant(np.ones((512, 512), np.float32))
    f = tf.function(lambda x: tf.tanh(tf.matmul(x, x)) * 2.0)
    assert not any(k.parallel for k in native(f, x).kernels)


def test_short_segments_are_builtins_and_long_ones_release_the_gil():
    small = tf.function(lambda x: x * 2.0 + 1.0)
    x = tf.constant(np.arange(6, dtype=np.float32).reshape(2, 3))
    executable = native(small, x)
    assert executable.lowered.entries == {0} and type(executable._native.functions[0]).__name__ == \
        "builtin_function_or_method"
    assert ".flags" not in executable._native.driver_source      # the entry checks contiguity natively
    np.testing.assert_array_equal(small(x).numpy(), x.numpy() * 2 + 1)
    big = tf.constant(np.ones((256, 256), np.float32))
    large = tf.function(lambda x: tf.matmul(x, x) + 1.0)
    executable = native(large, big)
    assert executable.lowered.entries == set() and "0, 1)" in executable._native.driver_source
    np.testing.assert_array_equal(large(big).numpy(), np.full((256, 256), 257, np.float32))


@pytest.mark.parametrize("layout", ["transposed", "strided", "negative"])
def test_inputs_that_are_not_contiguous_are_copied_before_native_code(layout):
    base = np.arange(96, dtype=np.float32).reshape(8, 12)
    array = {"transposed": base[:4, :3].T, "strided": base[::2, ::3][:3, :4], "negative": base[::-1, ::-2][:3, :4]}[layout]
    assert not array.flags.c_contiguous and array.shape == (3, 4)
    f = tf.function(lambda x, y: x * 2.0 - y)
    y = np.ones((3, 4), np.float32)
    native(f, np.ascontiguousarray(array), y)
    np.testing.assert_array_equal(f(array, y).numpy(), array * 2 - 1)
    np.testing.assert_array_equal(f(tf.constant(array), y[:, ::1]).numpy(), array * 2 - 1)


def test_native_code_is_freed_with_its_function():
    import gc
    import weakref
    f = tf.function(lambda x: tf.exp(x) * 3.0)
    x = tf.constant(np.ones(5, np.float32))
    code = weakref.ref(native(f, x)._native.code)
    np.testing.assert_allclose(f(x).numpy(), np.exp(1.0) * 3, rtol=1e-6)
    del f
    gc.collect()
    assert code() is None
    g = tf.function(lambda x: tf.exp(x) * 3.0)          # the same code again, loaded anew: LLVM still works
    np.testing.assert_allclose(g(x).numpy(), np.exp(1.0) * 3, rtol=1e-6)


def test_backend_switch_gives_the_same_results():
    def model(x):
        return tf.reduce_sum(tf.nn.softmax(tf.matmul(x, x, transpose_b=True)) * 2.0 + 1.0, axis=1)
    x = tf.constant(np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32))
    compiled = tf.function(model)(x)
    tf.config.set_backend("numpy")
    try:
        interpreted = tf.function(model)(x)
    finally:
        tf.config.set_backend("native")
    assert_close(compiled.numpy(), interpreted.numpy(), tf.float32)
    with pytest.raises(ValueError, match="unknown backend"):
        tf.config.set_backend("cuda")


def _run(code, cache_dir, **env):
    environment = dict(os.environ, TRACEJIT_CACHE_DIR=str(cache_dir), **env)
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                            env=environment, timeout=300, cwd=os.path.join(os.path.dirname(__file__), ".."))
    assert result.returncode == 0, result.stderr
    return result.stdout


SCRIPT = """
    import json, sys, time, numpy as np, tracejit as tf
    tf.config.set_compile_mode("sync")
    f = tf.function(lambda x, y: tf.tanh(x * y) + x * 0.5)
    x = tf.constant(np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4))
    out = f(x, x)
    executable = f.get_concrete_function(x, x)._executable
    print(json.dumps({"sum": float(tf.reduce_sum(out)), "tier": executable.tier,
                      "compiled": executable.compile_seconds > 0, "llvm": "llvmlite.binding" in sys.modules,
                      "numba": "numba" in sys.modules}))
"""


def test_second_process_loads_native_code_from_the_disk_cache(tmp_path):
    first = json.loads(_run(SCRIPT, tmp_path).strip().splitlines()[-1])
    second = json.loads(_run(SCRIPT, tmp_path).strip().splitlines()[-1])
    assert first["tier"] == second["tier"] == "native"
    assert first["compiled"] and not second["compiled"] and not second["numba"]
    assert second["sum"] == first["sum"]
    env = dict(os.environ, TRACEJIT_CACHE_DIR=str(tmp_path))
    info = json.loads(subprocess.run([sys.executable, "-m", "tracejit", "cache", "info"], capture_output=True,
                                     text=True, env=env).stdout)
    assert info["native_entries"] == 1 and info["bytes"] > 0
    (tmp_path / "notes.txt").write_text("not ours")                  # stray files are left alone
    cleared = subprocess.run([sys.executable, "-m", "tracejit", "cache", "clear"], capture_output=True, text=True,
                             env=env)
    assert "removed 1 native code entries" in cleared.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_a_script_that_exits_during_a_background_compile_leaves_it_in_the_cache(tmp_path):
    script = SCRIPT.replace('tf.config.set_compile_mode("sync")', 'tf.config.set_compile_mode("background")')
    first = json.loads(_run(script, tmp_path).strip().splitlines()[-1])
    assert first["tier"] in ("interpreter", "native")   # the first call does not wait for LLVM...
    second = json.loads(_run(script, tmp_path).strip().splitlines()[-1])
    assert second["tier"] == "native" and not second["compiled"]     # ...but the exit does
    np.testing.assert_allclose(second["sum"], first["sum"], rtol=1e-6)


@pytest.mark.parametrize("damage", ["truncate", "flip", "manifest", "foreign"])
def test_damaged_cache_entries_are_rebuilt(tmp_path, damage):
    first = json.loads(_run(SCRIPT, tmp_path).strip().splitlines()[-1])
    (entry_dir,) = [p for p in tmp_path.iterdir() if p.name.startswith("native-")]
    (obj,) = entry_dir.glob("*.o")
    manifest = obj.with_suffix(".json")
    data = obj.read_bytes()
    if damage == "truncate":
        obj.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        obj.write_bytes(data[:100] + bytes([data[100] ^ 0xFF]) + data[101:])
    elif damage == "manifest":
        manifest.write_text("{not json")
    else:                                              # an entry written for another key
        text = json.loads(manifest.read_text())
        text["key"] = "0" * 32
        manifest.write_text(json.dumps(text))
    second = json.loads(_run(SCRIPT, tmp_path).strip().splitlines()[-1])
    third = json.loads(_run(SCRIPT, tmp_path).strip().splitlines()[-1])
    assert second["compiled"] and not third["compiled"]              # rebuilt once, then served again
    assert first["sum"] == second["sum"] == third["sum"]


def test_unwritable_cache_directory_falls_back_with_one_warning(tmp_path):
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("x")
    code = """
        import warnings, numpy as np, tracejit as tf
        tf.config.set_compile_mode("sync")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for n in (3, 4):
                print(float(tf.function(lambda x: tf.exp(x) * 2.0)(tf.ones([n])).numpy()[0]))
        print(sum("cannot be written" in str(w.message) for w in caught))
    """
    lines = _run(code, blocked / "cache").split()
    assert [float(v) for v in lines[:2]] == [pytest.approx(2 * np.e)] * 2 and lines[2] == "1"


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
    plan = native(step, g).lowered.plan
    assert {b.variable.name for b in plan.private} == {w.name, m.name} and plan.carries == []


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
        # eager float16 rounds every op and partial sum; native code accumulates in float64, so allow the
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


def test_float16_rounds_after_every_op_like_eager():
    """(x * x) / x at 300 overflows float16 in eager mode (and in TF): compiled code must not keep the
    float32 intermediate."""
    x = tf.constant(np.array([300.0, 2.0], np.float16))
    f = tf.function(lambda x: (x * x) / x)
    eager = (x * x) / x
    np.testing.assert_array_equal(f(x).numpy(), eager.numpy())
    assert np.isinf(f(x).numpy()[0]) and native(f, x).kernels


def test_reduction_assigned_to_a_variable_it_reads_is_native():
    v = tf.Variable(np.ones(3, np.float32))
    x = tf.constant(np.arange(12, dtype=np.float32).reshape(4, 3))

    @tf.function
    def step():
        v.assign(tf.reduce_sum(x * v, axis=0))
    for _ in range(2):
        step()
    np.testing.assert_allclose(v.numpy(), np.arange(12).reshape(4, 3).sum(0) ** 2)
    executable = native(step)
    assert executable.lowered.plan.host_steps == [] and executable.kernels[0].members == ["multiply", "reduce_sum"]


def test_background_compilation_runs_the_interpreter_until_native_code_is_ready():
    tf.config.set_compile_mode("background")
    f = tf.function(lambda x: tf.tanh(x) * 2.0 + 1.0)
    x = tf.constant(np.linspace(-1, 1, 16, dtype=np.float32))
    expected = (tf.tanh(x) * 2.0 + 1.0).numpy()
    assert_close(f(x).numpy(), expected, tf.float32)                 # the first call never waits for LLVM
    executable = f.get_concrete_function(x)._executable
    assert executable.wait_compiled(60) and executable.tier == "native"
    assert_close(f(x).numpy(), expected, tf.float32)


def test_host_steps_split_native_code_and_debug_names_them(capsys):
    def f(x):          # integer floor division raises on a zero divisor: it runs on NumPy, between native code
        quotient = tf.cast(tf.cast(x * 10.0, tf.int32) // tf.constant(3), tf.float32)
        return tf.reduce_sum(quotient) * 2.0 + tf.reduce_max(x)
    traced = tf.function(f, debug=1)
    x = tf.constant(np.array([0.1, 0.9, 0.7, 0.3], np.float32))
    assert float(traced(x)) == pytest.approx(float(f(x)))
    plan = native(traced, x).lowered.plan
    assert [n.op for n in plan.host_steps] == ["floordiv"] and sum(isinstance(s, list) for s in plan.segments) == 2
    assert "runs on the host between native segments: floordiv" in capsys.readouterr().err


def test_random_draws_run_before_native_code_without_splitting_it():
    tf.random.set_seed(3)
    f = tf.function(lambda x: tf.nn.relu(x + tf.random.uniform([4])) * 2.0)
    x = tf.zeros([4])
    first, second = f(x).numpy(), f(x).numpy()
    assert not np.array_equal(first, second)
    plan = native(f, x).lowered.plan
    assert [n.op for n in plan.hoisted] == ["random_uniform"] and sum(isinstance(s, list) for s in plan.segments) == 1


def test_calls_from_several_threads_apply_every_update():
    w = tf.Variable(np.zeros(256, np.float32))
    step = tf.function(lambda g: w.assign_add(g * 0.5))
    g = tf.constant(np.ones(256, np.float32))
    step(g)
    threads = [threading.Thread(target=lambda: [step(g) for _ in range(200)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    np.testing.assert_array_equal(w.numpy(), np.full(256, 0.5 * 801, np.float32))


def test_steady_state_calls_allocate_nothing_large():
    import tracemalloc
    x = tf.constant(np.ones((256, 256), np.float32))
    f = tf.function(lambda x: tf.reduce_sum(tf.tanh(tf.matmul(x, x)) * 2.0, axis=1))
    for _ in range(3):
        f(x)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(20):
        f(x)
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert grown < 64 * 1024, grown          # the 256 KiB matmul result lives in the workspace, reused
    memory = native(f, x).memory
    assert memory["workspace_bytes"] >= 256 * 256 * 4 and memory["intermediate_bytes"] >= memory["workspace_bytes"] // 2


MIXED_STEPS = ["unary", "binary", "reduce", "matmul", "slice", "gather", "transpose", "broadcast"]


@st.composite
def mixed_programs(draw):
    """Random graphs over a [4, 6] input mixing elementwise ops, reductions (keepdims, so shapes stay
    broadcastable), matmul, slicing, gather and transposes: each step appends one value."""
    steps = []
    for _ in range(draw(st.integers(2, 7))):
        kind = draw(st.sampled_from(MIXED_STEPS))
        steps.append((kind, draw(st.integers(0, 9)), draw(st.integers(0, 9)), draw(st.integers(0, 3))))
    return steps


def run_mixed(steps, x):
    values = [x]
    for kind, a, b, c in steps:
        u, v = values[a % len(values)], values[b % len(values)]
        if kind == "unary":
            values.append(UNARY[c % len(UNARY)](u))
        elif kind == "binary" and u.shape == v.shape:
            values.append(BINARY[c % len(BINARY)](u, v))
        elif kind == "reduce":
            values.append([tf.reduce_sum, tf.reduce_max, tf.reduce_mean, tf.reduce_min][c](u, axis=-1, keepdims=True)
                          * tf.ones_like(u))
        elif kind == "matmul" and u.ndim == 2:
            values.append(tf.matmul(tf.matmul(u, u, transpose_b=True), u) * 0.05)     # [4,4] @ [4,6]
        elif kind == "slice" and u.ndim == 2:
            values.append(tf.concat([u[:, 1:], u[:, :1]], axis=1))
        elif kind == "gather" and u.ndim == 2:
            values.append(tf.gather(u, [c % u.shape[0], 0, 1, u.shape[0] - 1][: u.shape[0]], axis=0))
        elif kind == "transpose" and u.ndim == 2 and u.shape[0] == u.shape[1]:
            values.append(tf.transpose(u) + u)
        else:
            values.append(u * 0.5 + 1.0)
    return values[-1], tf.reduce_sum(values[-1] * values[len(values) // 2])


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(mixed_programs(), st.sampled_from([np.float32, np.float64]))
def test_random_mixed_graphs_run_natively_and_match_eager(steps, dtype):
    x = tf.constant(np.random.default_rng(1).uniform(-1.5, 1.5, (4, 6)).astype(dtype))
    eager = run_mixed(steps, x)
    f = tf.function(lambda x: run_mixed(steps, x))
    compiled = f(x)
    for c, e in zip(compiled, eager):
        np.testing.assert_allclose(c.numpy(), e.numpy(), rtol=2e-4 if dtype == np.float32 else 1e-10, atol=1e-5)
    executable = f.get_concrete_function(x)._executable
    assert executable.tier == "native" and executable.lowered.plan.host_steps == []
