"""TF2 API met in real code: linspace, norm, pad, einsum, linalg.solve/inv/det, image.resize and
flips, ragged and sparse tensors, complex numbers, tf.device / tf.config, tf.types.experimental.
Expected values are TF's documented outputs; each is also checked inside @function."""
import numpy as np
import pytest

import tracejit as tf
from conftest import assert_close


def _both(fn, *args):
    """fn eagerly and compiled; they must agree. Returns the eager result(s)."""
    eager = fn(*args)
    traced = tf.function(fn)(*args)
    for e, t in zip(_flat(eager), _flat(traced)):
        assert_close(t.numpy(), e.numpy(), e.dtype)
    return eager


def _flat(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _grad_check(fn, *xs, eps=1e-6, rtol=1e-5):
    """Tape gradients of sum(fn(xs) * w), eager and traced, against central differences (float64)."""
    xs = [tf.constant(np.asarray(x, np.float64)) for x in xs]
    weights = np.random.default_rng(3).uniform(0.5, 1.5, size=fn(*xs).shape)

    def grads(*args):
        with tf.GradientTape() as tape:
            tape.watch(list(args))
            loss = tf.reduce_sum(fn(*args) * weights)
        return tape.gradient(loss, list(args))
    eager, traced = grads(*xs), tf.function(grads)(*xs)
    for i, (g, t) in enumerate(zip(eager, traced)):
        numeric = np.zeros(xs[i].shape)
        base = [x.numpy() for x in xs]
        for index in np.ndindex(numeric.shape):
            for sign in (1, -1):
                shifted = [b.copy() for b in base]
                shifted[i][index] += sign * eps
                numeric[index] += sign * np.sum(fn(*[tf.constant(s) for s in shifted]).numpy() * weights) / (2 * eps)
        np.testing.assert_allclose(g.numpy(), numeric, rtol=rtol, atol=rtol)
        assert_close(t.numpy(), g.numpy(), tf.float64)


# ---- linspace / norm / pad / einsum ------------------------------------------------------------
def test_linspace():
    out = _both(lambda: tf.linspace(10.0, 12.0, 3))
    assert out.dtype == tf.float32 and out.numpy().tolist() == [10.0, 11.0, 12.0]
    grid = _both(lambda: tf.linspace([0., 5.], [10., 40.], 5, axis=0))
    np.testing.assert_array_equal(grid.numpy(), [[0., 5.], [2.5, 13.75], [5., 22.5], [7.5, 31.25], [10., 40.]])
    assert tf.linspace([0., 5.], [10., 40.], 5, axis=-1).shape == (2, 5)
    assert tf.linspace(3.0, 7.0, 1).numpy().tolist() == [3.0]
    _grad_check(lambda a, b: tf.linspace(a, b, 4), [0.5, 1.0], [2.0, -1.0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="floats"):
        tf.linspace(0, 10, 3)


def test_norm():
    assert _both(lambda: tf.norm([3.0, 4.0])).numpy() == 5.0
    m = np.array([[1.0, -2.0], [3.0, 4.0]], np.float32)
    assert _both(lambda x: tf.norm(x), m).numpy() == pytest.approx(np.sqrt(30))
    assert tf.norm(m, ord="fro", axis=[0, 1]).numpy() == pytest.approx(np.sqrt(30))
    assert tf.norm(m, ord=1, axis=[0, 1]).numpy() == 6.0            # max column sum
    assert tf.norm(m, ord=np.inf, axis=[-2, -1]).numpy() == 7.0     # max row sum
    assert tf.norm(m, ord=1, axis=1).numpy().tolist() == [3.0, 7.0]
    assert tf.norm(m, ord=np.inf, axis=0, keepdims=True).shape == (1, 2)
    assert tf.norm([1.0, 2.0, 3.0], ord=3).numpy() == pytest.approx(36 ** (1 / 3))
    assert tf.linalg.norm([[3.0 + 4.0j]]).numpy() == 5.0
    _grad_check(lambda x: tf.norm(x, ord=3, axis=1), [[1.0, -2.0, 0.5], [0.3, 0.2, -1.0]])
    with pytest.raises(ValueError, match="'fro' is a matrix norm"):
        tf.norm([1.0], ord="fro")
    with pytest.raises(NotImplementedError, match="2-norm"):
        tf.norm(m, ord=2, axis=[0, 1])


def test_pad_modes():
    t = [[1, 2, 3], [4, 5, 6]]
    paddings = [[1, 1], [2, 2]]
    assert _both(lambda: tf.pad(t, paddings, "CONSTANT")).numpy().tolist() == [
        [0, 0, 0, 0, 0, 0, 0], [0, 0, 1, 2, 3, 0, 0], [0, 0, 4, 5, 6, 0, 0], [0, 0, 0, 0, 0, 0, 0]]
    assert _both(lambda: tf.pad(t, paddings, "REFLECT")).numpy().tolist() == [
        [6, 5, 4, 5, 6, 5, 4], [3, 2, 1, 2, 3, 2, 1], [6, 5, 4, 5, 6, 5, 4], [3, 2, 1, 2, 3, 2, 1]]
    assert _both(lambda: tf.pad(t, paddings, "SYMMETRIC")).numpy().tolist() == [
        [2, 1, 1, 2, 3, 3, 2], [2, 1, 1, 2, 3, 3, 2], [5, 4, 4, 5, 6, 6, 5], [5, 4, 4, 5, 6, 6, 5]]
    assert tf.pad([1.0], [[1, 0]], constant_values=9).numpy().tolist() == [9.0, 1.0]
    with pytest.raises(tf.errors.InvalidArgumentError, match="REFLECT"):
        tf.pad(t, [[2, 0], [0, 0]], "REFLECT")           # 2 is not less than the dimension size 2
    with pytest.raises(ValueError, match="mode"):
        tf.pad(t, paddings, "WRAP")


def test_einsum():
    a, b = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
    np.testing.assert_allclose(_both(lambda x, y: tf.einsum("ij,jk->ik", x, y), a, b).numpy(), a @ b)
    assert tf.einsum("i,i->", [1.0, 2.0], [3.0, 4.0]).numpy() == 11.0
    assert tf.einsum("i,j->ij", [1.0, 2.0], [3.0, 4.0]).numpy().tolist() == [[3.0, 4.0], [6.0, 8.0]]
    assert tf.einsum("ij->ji", a).shape == (3, 2) and tf.einsum("ij", a).shape == (2, 3)   # implicit output
    assert tf.einsum("ii", tf.eye(3)).numpy() == 3.0
    x, y = np.random.default_rng(0).normal(size=(5, 2, 3)), np.random.default_rng(1).normal(size=(3, 4))
    np.testing.assert_allclose(tf.einsum("...ij,jk->...ik", x, y).numpy(), x @ y)
    np.testing.assert_allclose(tf.einsum("bij,bjk->bik", x, x.transpose(0, 2, 1)).numpy(),
                               x @ x.transpose(0, 2, 1))
    _grad_check(lambda p, q: tf.einsum("...ij,jk->...ik", p, q), x[:2], y)
    with pytest.raises(tf.errors.InvalidArgumentError, match="sizes 3 and 2"):
        tf.einsum("ij,jk->ik", a, a)
    with tf.GradientTape() as tape:
        m = tf.constant(np.eye(2))
        tape.watch(m)
        trace = tf.einsum("ii", m)
    with pytest.raises(NotImplementedError, match="repeated index"):
        tape.gradient(trace, m)


# ---- linalg -------------------------------------------------------------------------------------
def test_solve_inv_det():
    m = np.array([[2.0, 1.0], [1.0, 3.0]])
    rhs = np.array([[1.0], [2.0]])
    np.testing.assert_allclose(_both(lambda x: tf.linalg.inv(x), m).numpy(), np.linalg.inv(m), rtol=1e-12)
    assert _both(lambda x: tf.linalg.det(x), m).numpy() == pytest.approx(5.0)
    np.testing.assert_allclose(_both(lambda x, b: tf.linalg.solve(x, b), m, rhs).numpy(), np.linalg.solve(m, rhs))
    np.testing.assert_allclose(tf.linalg.solve(m, rhs, adjoint=True).numpy(), np.linalg.solve(m.T, rhs))
    batch = np.stack([m, m * 2])
    assert tf.linalg.det(batch).numpy().tolist() == pytest.approx([5.0, 20.0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="not invertible"):
        tf.linalg.inv(tf.zeros([2, 2]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="square"):
        tf.linalg.det(tf.zeros([2, 3]))


def test_linalg_gradients_inside_a_least_squares_fit():
    """Normal equations: w = (X^T X)^-1 X^T y, differentiated through solve, inv and det together."""
    x = np.random.default_rng(4).normal(size=(6, 3))
    y = np.random.default_rng(5).normal(size=(6, 1))
    _grad_check(lambda a, b: tf.linalg.solve(tf.matmul(a, a, transpose_a=True), tf.matmul(a, b, transpose_a=True))
                * tf.linalg.det(tf.linalg.inv(tf.matmul(a, a, transpose_a=True))), x, y, rtol=1e-4)


# ---- images -------------------------------------------------------------------------------------
def test_resize_bilinear_uses_half_pixel_centers():
    image = tf.constant([[0.0, 1.0], [2.0, 3.0]])[None, :, :, None]
    out = _both(lambda x: tf.image.resize(x, [4, 4]), image)
    np.testing.assert_allclose(out.numpy()[0, :, :, 0], [[0.0, 0.25, 0.75, 1.0], [0.5, 0.75, 1.25, 1.5],
                                                         [1.5, 1.75, 2.25, 2.5], [2.0, 2.25, 2.75, 3.0]])
    down = tf.image.resize(tf.reshape(tf.range(16.0), [4, 4, 1]), [2, 2])
    assert down.numpy()[:, :, 0].tolist() == [[2.5, 4.5], [10.5, 12.5]]
    ints = tf.image.resize(tf.ones([1, 3, 3, 2], tf.int32), [5, 5])
    assert ints.dtype == tf.float32 and ints.shape == (1, 5, 5, 2)           # bilinear returns float32
    assert tf.image.resize(tf.ones([5, 10, 1]), [10, 20], preserve_aspect_ratio=True).shape == (10, 20, 1)
    assert tf.image.resize(tf.ones([5, 5, 1]), [10, 20], preserve_aspect_ratio=True).shape == (10, 10, 1)


def test_resize_nearest_matches_tf_documentation():
    image = tf.constant(np.eye(5, dtype=np.int32))[tf.newaxis, ..., tf.newaxis]
    nn = _both(lambda x: tf.image.resize(x, [5, 7], method="nearest"), image)
    assert nn.dtype == tf.int32
    assert nn.numpy()[0, ..., 0].tolist() == [[1, 0, 0, 0, 0, 0, 0], [0, 1, 1, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0, 0],
                                              [0, 0, 0, 0, 1, 1, 0], [0, 0, 0, 0, 0, 0, 1]]
    assert tf.image.resize(image, [5, 7], method=tf.image.ResizeMethod.NEAREST_NEIGHBOR).shape == (1, 5, 7, 1)
    with pytest.raises(NotImplementedError, match="bicubic"):
        tf.image.resize(image, [3, 3], method="bicubic")


def test_resize_gradient():
    _grad_check(lambda x: tf.cast(tf.image.resize(x, [5, 3]), tf.float64), np.random.default_rng(2).normal(
        size=(1, 3, 4, 2)), eps=1e-3, rtol=2e-3)


def test_flips():
    x = [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]
    assert _both(lambda: tf.image.flip_left_right(x)).numpy().tolist() == [[[3, 4], [1, 2]], [[7, 8], [5, 6]]]
    assert _both(lambda: tf.image.flip_up_down(x)).numpy().tolist() == [[[5, 6], [7, 8]], [[1, 2], [3, 4]]]
    batch = tf.reshape(tf.range(12), [2, 2, 3, 1])
    assert tf.image.flip_left_right(batch).numpy()[1, :, :, 0].tolist() == [[8, 7, 6], [11, 10, 9]]


# ---- ragged -------------------------------------------------------------------------------------
def test_ragged_constant():
    rt = tf.ragged.constant([[1, 2], [3]])
    assert repr(rt) == "<tf.RaggedTensor [[1, 2], [3]]>" and str(rt) == repr(rt)
    assert rt.shape == [2, None] and rt.shape.as_list() == [2, None] and rt.dtype == tf.int32
    assert rt.row_lengths().numpy().tolist() == [2, 1] and rt.row_lengths().dtype == tf.int64
    assert rt.to_tensor().numpy().tolist() == [[1, 2], [3, 0]]
    assert rt.to_tensor(default_value=-1, shape=[2, 3]).numpy().tolist() == [[1, 2, -1], [3, -1, -1]]
    assert rt.values.numpy().tolist() == [1, 2, 3] and rt.row_splits.numpy().tolist() == [0, 2, 3]
    assert rt[0].numpy().tolist() == [1, 2] and rt.to_list() == [[1, 2], [3]]
    nested = tf.ragged.constant([[[1.0, 2.0], [3.0]], [[4.0]]])
    assert nested.ragged_rank == 2 and nested.shape == [2, None, None]
    assert nested.to_tensor().numpy().tolist() == [[[1, 2], [3, 0]], [[4, 0], [0, 0]]]
    dense_inner = tf.ragged.constant([[[1, 2]], [[3, 4], [5, 6]]], ragged_rank=1)
    assert dense_inner.shape == [2, None, 2] and dense_inner.values.shape == (3, 2)
    assert tf.ragged.constant([[], [1.5]]).dtype == tf.float32
    assert isinstance(tf.strings.split(["a b"]), tf.RaggedTensor)


def test_ragged_inside_function_and_its_gradient():
    rt = tf.RaggedTensor.from_row_splits([1.0, 2.0, 3.0, 4.0], [0, 3, 3, 4])

    @tf.function
    def pad_rows(values):
        ragged = tf.RaggedTensor.from_row_lengths(values, [3, 0, 1])
        return ragged.to_tensor(), ragged.row_lengths()
    dense, lengths = pad_rows(tf.constant([1.0, 2.0, 3.0, 4.0]))
    assert dense.numpy().tolist() == rt.to_tensor().numpy().tolist() == [[1, 2, 3], [0, 0, 0], [4, 0, 0]]
    assert lengths.numpy().tolist() == [3, 0, 1]
    _grad_check(lambda v: tf.RaggedTensor.from_row_splits(v, [0, 2, 3]).to_tensor() ** 2, [1.0, -2.0, 3.0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="row_splits"):
        tf.RaggedTensor.from_row_splits([1, 2], [0, 3])


# ---- sparse -------------------------------------------------------------------------------------
def test_sparse_tensor():
    st = tf.sparse.SparseTensor(indices=[[0, 0], [1, 2]], values=[1, 2], dense_shape=[3, 4])
    assert repr(st) == ("SparseTensor(indices=tf.Tensor(\n[[0 0]\n [1 2]], shape=(2, 2), dtype=int64), "
                        "values=tf.Tensor([1 2], shape=(2,), dtype=int32), "
                        "dense_shape=tf.Tensor([3 4], shape=(2,), dtype=int64))")
    assert st.shape == [3, 4] and st.dtype == tf.int32 and tf.SparseTensor is tf.sparse.SparseTensor
    assert _both(lambda: tf.sparse.to_dense(st)).numpy().tolist() == [[1, 0, 0, 0], [0, 0, 2, 0], [0, 0, 0, 0]]
    assert tf.sparse.to_dense(st, default_value=-1).numpy()[2].tolist() == [-1, -1, -1, -1]
    with pytest.raises(tf.errors.InvalidArgumentError, match="out of order"):
        tf.sparse.to_dense(tf.SparseTensor([[1, 0], [0, 0]], [1, 2], [2, 2]))
    reordered = tf.sparse.reorder(tf.SparseTensor([[1, 0], [0, 0]], [1, 2], [2, 2]))
    assert tf.sparse.to_dense(reordered).numpy().tolist() == [[2, 0], [1, 0]]
    back = tf.sparse.from_dense([[0, 3], [4, 0]])
    assert back.indices.numpy().tolist() == [[0, 1], [1, 0]] and back.values.numpy().tolist() == [3, 4]


def test_sparse_dense_matmul_and_gradients():
    b = np.arange(8.0).reshape(4, 2)
    sp = tf.SparseTensor([[0, 0], [1, 2], [2, 3]], [1.0, 2.0, -1.0], [3, 4])
    dense = tf.sparse.to_dense(sp).numpy()
    out = _both(lambda m: tf.sparse.sparse_dense_matmul(sp, m), tf.constant(b, tf.float32))
    np.testing.assert_allclose(out.numpy(), dense @ b)
    np.testing.assert_allclose(tf.sparse.sparse_dense_matmul(sp, np.ones((3, 2), np.float32), adjoint_a=True).numpy(),
                               dense.T @ np.ones((3, 2)))
    np.testing.assert_allclose(tf.sparse.sparse_dense_matmul(sp, np.ones((2, 4), np.float32), adjoint_b=True).numpy(),
                               dense @ np.ones((4, 2)))
    _grad_check(lambda values, m: tf.sparse.sparse_dense_matmul(
        tf.SparseTensor([[0, 0], [1, 2], [2, 3]], values, [3, 4]), m), [1.0, 2.0, -1.0], b)


# ---- complex numbers ----------------------------------------------------------------------------
def test_complex_eager_math():
    z = tf.constant(1 + 2j)
    assert z.dtype == tf.complex128 and repr(z) == "<tf.Tensor: shape=(), dtype=complex128, numpy=(1+2j)>"
    a = tf.constant([1 + 1j, 2 - 1j], tf.complex64)
    assert (a + 1.5).dtype == tf.complex64 and (a + 1.5).numpy().tolist() == [2.5 + 1j, 3.5 - 1j]
    assert (a * a).numpy().tolist() == [2j, 3 - 4j] and (a - a).numpy().tolist() == [0, 0]
    assert (a / (1 + 1j)).numpy().tolist() == pytest.approx([1 + 0j, 0.5 - 1.5j])
    assert tf.abs(a).dtype == tf.float32 and tf.abs(tf.constant(3 + 4j)).numpy() == 5.0
    assert tf.math.real(a).numpy().tolist() == [1, 2] and tf.math.imag(a).numpy().tolist() == [1, -1]
    assert tf.math.conj(a).numpy().tolist() == [1 - 1j, 2 + 1j]
    assert tf.math.real(tf.constant([1.5])).numpy().tolist() == [1.5]           # real input: unchanged
    assert tf.math.imag(tf.constant([1.5])).numpy().tolist() == [0.0]
    assert tf.complex(1.0, 2.0).numpy() == 1 + 2j and tf.complex(1.0, 2.0).dtype == tf.complex64
    m = tf.constant([[1 + 1j, 2], [0, 1j]])
    np.testing.assert_allclose(tf.matmul(m, m).numpy(), m.numpy() @ m.numpy())
    assert tf.cast(tf.constant(2 + 3j), tf.float32).numpy() == 2.0
    with pytest.raises(tf.errors.InvalidArgumentError, match="maximum does not support dtype complex64"):
        tf.maximum(a, a)
    with pytest.raises(TypeError, match=r"Cannot convert \(1\+2j\) to a tensor of dtype float32"):
        tf.constant([1.0]) + (1 + 2j)        # a float tensor never silently becomes complex


def test_complex_inside_function_runs_on_numpy():
    f = tf.function(lambda x, w: tf.abs(tf.matmul(x, w) * x + 1.0))
    x = tf.constant([[1 + 1j, 2 - 1j]], tf.complex64)
    w = tf.constant([[1j], [1.0]], tf.complex64)
    np.testing.assert_allclose(f(x, w).numpy(), np.abs((x.numpy() @ w.numpy()) * x.numpy() + 1), rtol=1e-6)
    fused = [n for n in f.get_concrete_function(x, w).optimized_graph.nodes if n.op == "fused"]
    assert not any(v.dtype.is_complex for n in fused for m in n.params["members"] for v in m.inputs + m.outputs)


# ---- devices, config, types ---------------------------------------------------------------------
def test_device_records_the_request_and_runs_on_cpu():
    from tracejit.devices import requested_device
    with tf.device("/GPU:0"):
        x = tf.constant([1.0]) * 2.0
        assert requested_device() == "/device:GPU:0"
        with tf.device("/job:localhost/replica:0/task:0/device:CPU:0"):
            assert requested_device() == "/job:localhost/replica:0/task:0/device:CPU:0"
        with tf.device(None):
            assert requested_device() == ""
        y = tf.function(lambda v: v + 1.0)(x)
    assert requested_device() == ""
    assert x.device.endswith("device:CPU:0") and y.numpy().tolist() == [3.0]
    with pytest.raises(ValueError, match="Unknown attribute 'foo'"):
        with tf.device("foo:0"):
            pass


def test_config_lists_one_cpu():
    devices = tf.config.list_physical_devices()
    assert devices == [tf.config.list_physical_devices("CPU")[0]]
    assert devices[0].name == "/physical_device:CPU:0" and devices[0].device_type == "CPU"
    assert repr(devices[0]) == "PhysicalDevice(name='/physical_device:CPU:0', device_type='CPU')"
    assert tf.config.list_physical_devices("GPU") == [] and tf.config.experimental.list_physical_devices("GPU") == []
    for gpu in tf.config.list_physical_devices("GPU"):        # the usual setup code is a no-op
        tf.config.experimental.set_memory_growth(gpu, True)
    with pytest.raises(ValueError, match="non-GPU"):
        tf.config.experimental.set_memory_growth(devices[0], True)
    assert tf.config.list_logical_devices()[0].name == "/device:CPU:0"


def test_types_experimental():
    T = tf.types.experimental
    f = tf.function(lambda x: x * 2)
    assert isinstance(f, T.GenericFunction) and isinstance(f, T.PolymorphicFunction) and isinstance(f, T.Callable)
    assert isinstance(f.get_concrete_function(tf.constant(1.0)), T.ConcreteFunction)
    for value in (tf.constant(1.0), tf.Variable(1.0), 1, 2.5, "s", b"b", [1], (1,), np.zeros(2), np.float32(1)):
        assert isinstance(value, T.TensorLike), value
    assert not isinstance(object(), T.TensorLike) and not isinstance(lambda: 0, T.GenericFunction)


def test_ragged_eager_only_methods_say_so_inside_function():
    @tf.function
    def f(values):
        rt = tf.RaggedTensor.from_row_lengths(values, [1, 2])
        assert repr(rt).startswith("tf.RaggedTensor(values=Tensor(")      # the symbolic repr, as TF's
        with pytest.raises(ValueError, match="only supported in eager mode"):
            rt.to_list()
        with pytest.raises(ValueError, match="only supported in eager mode"):
            rt[0]
        return rt.to_tensor()
    assert f(tf.constant([1, 2, 3])).numpy().tolist() == [[1, 0], [2, 3]]
