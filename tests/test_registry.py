"""Every registered primitive, over generated samples: eager result == the NumPy implementation
with the type rule's shape/dtype; traced result == eager; gradients == finite differences."""
import numpy as np
import pytest

import tracejit as tf
from tracejit import dtypes as dt
from conftest import assert_close
from samples import cases, samples_for
from tracejit.backend.native.lowering import LOWERINGS as NATIVE_LOWERINGS

CASES = cases()
IDS = [c[3] for c in CASES]
CASES = [c[:3] for c in CASES]


def _tensors(sample):
    return [tf.constant(a) for a in sample.args]


def test_every_primitive_has_samples():
    missing = [name for name, prim in tf.ops.REGISTRY.items() if not prim.stateful and not samples_for(prim)]
    assert missing == [], f"ops declared without test samples: {missing}"


def test_registry_covers_the_required_ops():
    required = """add subtract multiply divide negative abs square sqrt exp log tanh sigmoid relu maximum minimum
        pow equal not_equal less greater less_equal greater_equal logical_and logical_or logical_not select cast
        matmul transpose reshape squeeze expand_dims tile concat stack broadcast_to gather one_hot reduce_sum
        reduce_mean reduce_max reduce_min reduce_prod reduce_any reduce_all argmax argmin random_uniform
        random_normal""".split()
    assert sorted(set(required) - set(tf.ops.REGISTRY)) == []


@pytest.mark.parametrize("prim,dtype,sample", CASES, ids=IDS)
def test_eager_matches_numpy_impl_and_type_rule(prim, dtype, sample):
    tensors = _tensors(sample)
    out = prim(*tensors, **sample.params)
    shape, out_dtype = prim.rule(*tensors, **sample.params)
    with np.errstate(all="ignore"):
        expected = np.asarray(prim.impl(*sample.args, **sample.params)).astype(out_dtype.np)
    assert tf.TensorShape(shape).is_compatible_with(out.shape)   # None: known only at run time
    assert out.dtype == out_dtype
    np.testing.assert_array_equal(out.numpy(), expected)


@pytest.mark.parametrize("prim,dtype,sample", CASES, ids=IDS)
def test_traced_matches_eager(prim, dtype, sample):
    tensors = _tensors(sample)
    eager = prim(*tensors, **sample.params)
    traced_fn = tf.function(lambda *xs: prim(*xs, **sample.params))
    traced = traced_fn(*tensors)
    assert traced_fn.experimental_get_tracing_count() == 1
    assert_close(traced.numpy(), eager.numpy(), dtype)
    assert prim.name in str(traced_fn.get_concrete_function(*tensors).graph)


GRAD_CASES = cases(differentiable_only=True, float64_only=True)
GRAD_IDS = [c[3] for c in GRAD_CASES]
GRAD_CASES = [c[:3] for c in GRAD_CASES if any(np.asarray(a).dtype.kind == "f" for a in c[2].args)]
GRAD_IDS = [i for i, c in zip(GRAD_IDS, cases(differentiable_only=True, float64_only=True))
            if any(np.asarray(a).dtype.kind == "f" for a in c[2].args)]


def _numeric_gradient(prim, sample, weights, index, eps=1e-6):
    args = [np.array(a, copy=True) for a in sample.args]
    x = args[index]
    grad = np.zeros_like(x, dtype=np.float64)
    for i in np.ndindex(x.shape):
        original = x[i]
        x[i] = original + eps
        plus = np.sum(np.asarray(prim.impl(*args, **sample.params), np.float64) * weights)
        x[i] = original - eps
        minus = np.sum(np.asarray(prim.impl(*args, **sample.params), np.float64) * weights)
        x[i] = original
        grad[i] = (plus - minus) / (2 * eps)
    return grad


def _tape_gradients(prim, sample, tensors, weights):
    floats = [t for t in tensors if t.dtype.is_floating]
    with tf.GradientTape() as tape:
        tape.watch(floats)
        out = prim(*tensors, **sample.params)
        loss = tf.reduce_sum(tf.cast(out, tf.float64) * weights) if out.dtype.is_floating else None
    return tape.gradient(loss, floats)


@pytest.mark.parametrize("prim,dtype,sample", GRAD_CASES, ids=GRAD_IDS)
def test_gradient_matches_finite_differences(prim, dtype, sample):
    tensors = _tensors(sample)
    out = prim(*tensors, **sample.params)
    weights = np.random.default_rng(7).uniform(0.5, 1.5, size=out.shape)
    eager = _tape_gradients(prim, sample, tensors, weights)
    traced = tf.function(lambda *xs: _tape_gradients(prim, sample, list(xs), weights))(*tensors)
    float_indices = [i for i, t in enumerate(tensors) if t.dtype.is_floating]
    # an output rounded to float32 (cast) needs a larger step and tolerance
    eps, tol = (1e-6, 1e-5) if out.dtype == tf.float64 else (1e-2, 1e-2)
    for index, g_eager, g_traced in zip(float_indices, eager, traced):
        numeric = _numeric_gradient(prim, sample, weights, index, eps)
        if g_eager is None:      # inputs used only for their shape, like sum_to's `like`
            assert g_traced is None
            np.testing.assert_allclose(numeric, 0, atol=1e-7)
            continue
        assert g_eager.shape == tensors[index].shape and g_eager.dtype == tf.float64
        np.testing.assert_allclose(g_eager.numpy(), numeric, rtol=tol, atol=tol / 10)
        assert_close(g_traced.numpy(), g_eager.numpy(), dt.float64)


@pytest.mark.parametrize("name", sorted(n for n, p in tf.ops.REGISTRY.items() if p.dtypes and dt.string not in p.dtypes
                                        and p.sample in ("unary", "binary")))
def test_unsupported_dtype_is_rejected_with_the_op_name(name):
    prim = tf.ops.REGISTRY[name]
    bad = next(d for d in (dt.bool_, dt.int32, dt.float32) if d not in prim.dtypes)
    x = tf.constant(np.zeros(3, bad.np))
    args = [x] * (1 if prim.sample == "unary" else 2)
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"{name} does not support dtype {bad.name}"):
        prim(*args)


def _second_op(out):
    """An op to chain after `out` so the pair fuses into one generated kernel."""
    if out.dtype.is_bool:
        return tf.logical_not(out)
    return out * (1.5 if out.dtype.is_floating else 2)


FUSED_CASES = [(p, d, s, i) for (p, d, s), i in zip(CASES, IDS)
               if p.kind == "elementwise" and p in NATIVE_LOWERINGS
               and d.kind not in "cs"                      # complex and string nodes run on NumPy
               and p.name not in ("identity", "stop_gradient")          # simplified away before fusion
               and None not in p.rule(*_tensors(s), **s.params)[0]]


@pytest.mark.parametrize("prim,dtype,sample", [c[:3] for c in FUSED_CASES], ids=[c[3] for c in FUSED_CASES])
def test_fused_kernel_matches_eager(prim, dtype, sample):
    tensors = _tensors(sample)
    if prim.name in ("floordiv", "floormod", "pow") and dtype.is_integer:
        pytest.skip("integer floordiv/floormod/pow run on NumPy: they raise on a zero divisor or a negative "
                    "exponent, which native loops cannot")
    eager = _second_op(prim(*tensors, **sample.params))
    traced_fn = tf.function(lambda *xs: _second_op(prim(*xs, **sample.params)))
    compiled = traced_fn(*tensors)
    concrete = traced_fn.get_concrete_function(*tensors)
    if tf.config.backend() == "native":
        assert [k.members for k in concrete.kernels] == [[prim.name, concrete.kernels[0].members[1]]], \
            "the pair must run as one generated kernel"
    assert_close(compiled.numpy(), eager.numpy(), dtype)


# Ops that run on NumPy even in compiled graphs, and why: strings and complex numbers have no
# native representation, LAPACK-based linear algebra and einsum call NumPy, ragged and dynamic
# shapes are not static, random draws must follow eager's generators (they run before the native code).
HOST_OPS = {"as_string", "complex", "conj", "decode_raw", "einsum", "grow_rows", "imag", "matrix_determinant",
            "matrix_inverse", "rows_like",
            "matrix_solve", "ragged_from_dense", "ragged_to_dense", "real", "regex_replace", "string_format",
            "string_join", "string_length", "string_lower", "string_split_lengths", "string_split_values",
            "string_upper", "substr", "to_number", "where_indices"}
NATIVE_CASES = [(p, d, s, i) for (p, d, s), i in zip(CASES, IDS)
                if p.name not in HOST_OPS and p.kind != "collective"    # collectives call the job's communicator
                and d.kind not in "cs"
                and all(np.asarray(a).dtype.kind in "fiub" for a in s.args)]


@pytest.mark.skipif(tf.config.backend() != "native", reason="the native backend's whole-graph path")
@pytest.mark.parametrize("prim,dtype,sample", [c[:3] for c in NATIVE_CASES], ids=[c[3] for c in NATIVE_CASES])
def test_every_numeric_op_runs_as_native_code(prim, dtype, sample):
    """Each op, traced alone, runs inside the native function (no host step), and matches eager."""
    tensors = _tensors(sample)
    f = tf.function(lambda *xs: prim(*xs, **sample.params))
    assert_close(f(*tensors).numpy(), prim(*tensors, **sample.params).numpy(), dtype)
    concrete = f.get_concrete_function(*tensors)
    integer_host = prim.name in ("floordiv", "floormod", "pow") and dtype.is_integer   # they raise; loops cannot
    if concrete._executable.lowered is None:   # nothing native to run: passes removed every node, or only host ops
        computing = [n.op for n in concrete.optimized_graph.nodes if n.prim.kind != "structure"]
        assert computing == ([prim.name] if integer_host else []), concrete._executable.reason
        return
    assert [n.op for n in concrete._executable.lowered.plan.host_steps] == ([prim.name] if integer_host else [])
