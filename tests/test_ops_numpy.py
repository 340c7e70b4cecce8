"""Public ops against independent NumPy/SciPy formulas (not the ops' own impls), including the
composites (softmax, cross-entropy, logsumexp) and the namespaces."""
import math

import numpy as np
import pytest
import scipy.special

import tracejit as tf
import tracejit.keras.backend as K

rng = np.random.default_rng(0)
X = rng.uniform(-2, 2, (3, 4)).astype(np.float32)
Y = rng.uniform(0.5, 2, (3, 4)).astype(np.float32)
V = rng.uniform(-2, 2, (4,)).astype(np.float32)
POS = rng.uniform(0.1, 3, (3, 4)).astype(np.float64)
I = np.array([[3, -1, 0, 2], [1, 1, -2, 0], [0, 5, 2, -3]], np.int32)

UNARY = [
    (tf.abs, np.abs, X), (tf.negative, np.negative, X), (tf.square, lambda a: a * a, X),
    (tf.sqrt, np.sqrt, POS), (tf.math.rsqrt, lambda a: 1 / np.sqrt(a), POS), (tf.exp, np.exp, X),
    (tf.math.log, np.log, POS), (tf.math.log1p, np.log1p, POS), (tf.math.expm1, np.expm1, X),
    (tf.tanh, np.tanh, X), (tf.sigmoid, lambda a: 1 / (1 + np.exp(-a)), X), (tf.math.sin, np.sin, X),
    (tf.math.cos, np.cos, X), (tf.nn.relu, lambda a: np.where(a > 0, a, 0), X), (tf.nn.relu, lambda a: np.maximum(a, 0), I),
    (tf.nn.softplus, lambda a: np.log(1 + np.exp(a)), X), (tf.math.erf, np.vectorize(math.erf), X.astype(np.float64)),
    (tf.nn.elu, lambda a: np.where(a > 0, a, np.exp(a) - 1), X), (tf.nn.leaky_relu, lambda a: np.where(a > 0, a, 0.2 * a), X),
    (tf.math.sign, np.sign, I), (tf.math.reciprocal, lambda a: 1 / a, Y), (tf.math.floor, np.floor, X),
    (tf.math.ceil, np.ceil, X), (tf.math.round, np.round, X * 3), (tf.nn.relu6, lambda a: np.clip(a, 0, 6), X * 5),
    (tf.math.is_nan, np.isnan, np.array([np.nan, 1.0])), (tf.math.is_finite, np.isfinite, np.array([np.inf, 1.0])),
    (tf.identity, lambda a: a, I), (tf.math.logical_not, np.logical_not, I > 0),
    (tf.nn.gelu, lambda a: 0.5 * a * (1 + scipy.special.erf(a / np.sqrt(2))), X.astype(np.float64)),
    (tf.nn.silu, lambda a: a / (1 + np.exp(-a)), X),
]


@pytest.mark.parametrize("fn,ref,x", UNARY, ids=[f"{u[0].__name__}-{u[2].dtype}" for u in UNARY])
def test_unary(fn, ref, x):
    out = fn(x)
    np.testing.assert_allclose(out.numpy(), ref(x).astype(out.numpy().dtype), rtol=2e-6, atol=1e-6)


BINARY = [
    (tf.add, np.add, X, V), (tf.subtract, np.subtract, X, Y), (tf.multiply, np.multiply, X, V),
    (tf.divide, np.divide, X, Y), (tf.math.truediv, np.divide, I, I + 10), (tf.math.floordiv, np.floor_divide, I, np.int32(2)),
    (tf.math.floormod, np.mod, X, Y), (tf.pow, np.power, Y, X), (tf.maximum, np.maximum, X, V), (tf.minimum, np.minimum, I, I[::-1]),
    (tf.math.squared_difference, lambda a, b: (a - b) ** 2, X, Y), (tf.equal, np.equal, I, I[::-1]),
    (tf.not_equal, np.not_equal, I, I[::-1]), (tf.less, np.less, X, Y), (tf.less_equal, np.less_equal, I, I[::-1]),
    (tf.greater, np.greater, X, V), (tf.greater_equal, np.greater_equal, I, I[::-1]),
    (tf.logical_and, np.logical_and, I > 0, I < 2), (tf.logical_or, np.logical_or, I > 0, I < -1),
    (tf.math.logical_xor, np.logical_xor, I > 0, I < 2),
]


@pytest.mark.parametrize("fn,ref,a,b", BINARY, ids=[b[0].__name__ for b in BINARY])
def test_binary(fn, ref, a, b):
    out = fn(a, b)
    expected = ref(a, b)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)


REDUCTIONS = [(tf.reduce_sum, np.sum), (tf.reduce_mean, np.mean), (tf.reduce_max, np.max), (tf.reduce_min, np.min),
              (tf.reduce_prod, np.prod), (tf.reduce_logsumexp, scipy.special.logsumexp)]


@pytest.mark.parametrize("fn,ref", REDUCTIONS, ids=[r[0].__name__ for r in REDUCTIONS])
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1), [1]])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions(fn, ref, axis, keepdims):
    np_axis = tuple(axis) if isinstance(axis, list) else axis
    out = fn(X, axis=axis, keepdims=keepdims)
    expected = ref(X.astype(np.float64), axis=np_axis, keepdims=keepdims)
    assert out.shape == np.shape(expected) and out.dtype == tf.float32
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5)


def test_integer_and_boolean_reductions():
    assert tf.reduce_sum(I).numpy() == I.sum() and tf.reduce_sum(I).dtype == tf.int32
    assert tf.reduce_mean(tf.constant([1, 2])).numpy() == 1          # integer mean truncates like TF
    assert tf.reduce_any(I > 4).numpy() and tf.reduce_all(I > -3, axis=1).numpy().tolist() == [True, True, False]
    assert tf.reduce_all(I > -4).numpy()
    assert tf.reduce_any(I > 4, axis=0).numpy().tolist() == [False, True, False, False]
    assert tf.reduce_max(tf.zeros([0])).numpy() == -np.inf and tf.reduce_sum(tf.zeros([0, 3]), 0).shape == (3,)


def test_argmax_argmin():
    assert tf.argmax(X, axis=1).numpy().tolist() == np.argmax(X, 1).tolist()
    assert tf.argmax(X).numpy().tolist() == np.argmax(X, 0).tolist()
    assert tf.argmax(X, axis=1).dtype == tf.int64
    assert tf.math.argmin(X, axis=-1, output_type=tf.int32).dtype == tf.int32
    assert tf.argmin(X, 0).numpy().tolist() == np.argmin(X, 0).tolist()


def _np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def test_softmax_family():
    np.testing.assert_allclose(tf.nn.softmax(X).numpy(), _np_softmax(X), rtol=1e-6)
    np.testing.assert_allclose(tf.nn.softmax(X, axis=0).numpy(), _np_softmax(X, 0), rtol=1e-6)
    np.testing.assert_allclose(tf.nn.log_softmax(X).numpy(), np.log(_np_softmax(X)), rtol=1e-5, atol=1e-6)
    big = np.array([[1000.0, 0.0]], np.float32)                       # stable for large logits
    assert np.all(np.isfinite(tf.nn.softmax(big).numpy())) and np.isfinite(tf.reduce_logsumexp(big).numpy())
    labels = _np_softmax(Y)
    np.testing.assert_allclose(tf.nn.softmax_cross_entropy_with_logits(labels, X).numpy(),
                               -(labels * np.log(_np_softmax(X))).sum(-1), rtol=1e-5)
    sparse = np.array([0, 3, 1])
    np.testing.assert_allclose(tf.nn.sparse_softmax_cross_entropy_with_logits(sparse, X).numpy(),
                               -np.log(_np_softmax(X)[np.arange(3), sparse]), rtol=1e-5)
    z = (Y > 1).astype(np.float32)
    np.testing.assert_allclose(tf.nn.sigmoid_cross_entropy_with_logits(labels=z, logits=X).numpy(),
                               -(z * np.log(1 / (1 + np.exp(-X))) + (1 - z) * np.log(1 - 1 / (1 + np.exp(-X)))),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tf.nn.l2_loss(X).numpy(), (X.astype(np.float64) ** 2).sum() / 2, rtol=1e-6)
    mean, var = tf.nn.moments(tf.constant(X), axes=[0])
    np.testing.assert_allclose(mean.numpy(), X.mean(0), rtol=1e-6)
    np.testing.assert_allclose(var.numpy(), X.var(0), rtol=1e-5)


def test_sparse_cross_entropy_rejects_float_labels():
    with pytest.raises(tf.errors.InvalidArgumentError, match="labels must be integers"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(np.zeros(3, np.float32), X)


def test_shape_ops():
    assert tf.transpose(X).numpy().tolist() == X.T.tolist()
    a = np.arange(24).reshape(2, 3, 4)
    assert tf.transpose(a, perm=[1, 0, 2]).numpy().tolist() == a.transpose(1, 0, 2).tolist()
    assert tf.reshape(a, [-1, 4]).shape == (6, 4) and tf.reshape(a, tf.constant([4, 6])).shape == (4, 6)
    assert tf.squeeze(np.zeros((1, 3, 1))).shape == (3,) and tf.squeeze(np.zeros((1, 3, 1)), [-1]).shape == (1, 3)
    assert tf.expand_dims(X, -1).shape == (3, 4, 1) and tf.expand_dims(X, 0).shape == (1, 3, 4)
    assert tf.tile(a, [1, 2, 1]).numpy().tolist() == np.tile(a, (1, 2, 1)).tolist()
    assert tf.concat([a, a], axis=-1).numpy().tolist() == np.concatenate([a, a], -1).tolist()
    assert tf.stack([X, Y], axis=1).numpy().tolist() == np.stack([X, Y], 1).tolist()
    assert [t.numpy().tolist() for t in tf.unstack(X)] == [row.tolist() for row in X]
    assert tf.broadcast_to(V, [3, 4]).numpy().tolist() == np.broadcast_to(V, (3, 4)).tolist()
    assert tf.gather(X, [2, 0]).numpy().tolist() == X[[2, 0]].tolist()
    assert tf.gather(X, [[1, 1]], axis=1).numpy().tolist() == X[:, [[1, 1]]].tolist()
    assert tf.gather_nd(X, [[0, 1], [2, 3]]).numpy().tolist() == [X[0, 1], X[2, 3]]
    assert tf.one_hot([0, 2], 3).numpy().tolist() == [[1, 0, 0], [0, 0, 1]]
    assert tf.one_hot([1, 7], 3, on_value=5.0, off_value=-1.0, axis=0).numpy().tolist() == [[-1, -1], [5, -1], [-1, -1]]
    assert tf.one_hot([0], 2, dtype=tf.int32).dtype == tf.int32
    assert tf.where(X > 0, X, np.float32(0)).numpy().tolist() == np.where(X > 0, X, 0).tolist()
    assert tf.where([[True, False], [False, True]]).numpy().tolist() == [[0, 0], [1, 1]]
    assert tf.tensor_scatter_nd_update(np.zeros(4), [[1], [3]], [5.0, 6.0]).numpy().tolist() == [0, 5, 0, 6]
    assert tf.clip_by_value(X, -1.0, 1.0).numpy().tolist() == np.clip(X, -1, 1).tolist()
    assert tf.shape(X).numpy().tolist() == [3, 4] and tf.size(X).numpy() == 12 and tf.rank(X).numpy() == 2
    assert tf.add_n([X, X, X]).numpy().tolist() == (X + X + X).tolist()


def test_matmul_batch_and_transposes():
    a, b = rng.normal(size=(2, 3, 4)), rng.normal(size=(4, 5))
    np.testing.assert_allclose(tf.matmul(a, b).numpy(), a @ b)
    np.testing.assert_allclose(tf.matmul(b, b, transpose_a=True).numpy(), b.T @ b)
    np.testing.assert_allclose(tf.linalg.matmul(a, a, transpose_b=True).numpy(), a @ a.transpose(0, 2, 1))
    with pytest.raises(tf.errors.InvalidArgumentError, match="Matrix size-incompatible"):
        tf.matmul(a, a)
    with pytest.raises(tf.errors.InvalidArgumentError, match="at least 2-D"):
        tf.matmul(V, V)


def test_creation_ops():
    assert tf.zeros([2, 3]).dtype == tf.float32 and tf.ones([2], tf.int32).numpy().tolist() == [1, 1]
    assert tf.fill([2, 2], 7).numpy().tolist() == [[7, 7], [7, 7]] and tf.fill([2], 7).dtype == tf.int32
    assert tf.range(5).numpy().tolist() == [0, 1, 2, 3, 4] and tf.range(5).dtype == tf.int32
    assert tf.range(1, 2, 0.5).dtype == tf.float32 and tf.range(1, 2, 0.5).numpy().tolist() == [1.0, 1.5]
    assert tf.eye(2).numpy().tolist() == [[1, 0], [0, 1]]
    assert tf.zeros_like(I).dtype == tf.int32 and tf.ones_like(X).numpy().sum() == 12
    assert tf.constant(1.0, shape=[2, 2]).numpy().tolist() == [[1, 1], [1, 1]]
    assert tf.constant([1, 2], dtype=tf.float64).dtype == tf.float64


def test_shape_errors_are_invalid_argument():
    with pytest.raises(tf.errors.InvalidArgumentError, match="Cannot reshape a tensor with 12 elements"):
        tf.reshape(X, [5])
    with pytest.raises(tf.errors.InvalidArgumentError, match="incompatible shapes"):
        tf.add(X, np.zeros(3, np.float32))
    with pytest.raises(tf.errors.InvalidArgumentError, match="cannot squeeze axis 0"):
        tf.squeeze(X, 0)
    with pytest.raises(tf.errors.InvalidArgumentError, match="do not match"):
        tf.concat([X, V[None, :3]], 0)
    with pytest.raises(tf.errors.InvalidArgumentError, match="index 9 is not in \\[0, 3\\)"):
        tf.gather(X, [9])
    with pytest.raises(tf.errors.InvalidArgumentError, match="perm"):
        tf.transpose(X, [0, 0])
    with pytest.raises(tf.errors.InvalidArgumentError, match="axis 3 is out of range"):
        tf.reduce_sum(X, axis=3)


def test_linalg_norm_and_keras_backend():
    np.testing.assert_allclose(tf.linalg.norm(X).numpy(), np.linalg.norm(X), rtol=1e-6)
    np.testing.assert_allclose(K.square(X).numpy(), X ** 2)
    assert K.transpose(X).shape == (4, 3) and K.sum(X, axis=1).shape == (3,)
    np.testing.assert_allclose(K.mean(X, axis=0, keepdims=True).numpy(), X.mean(0, keepdims=True), rtol=1e-6)
    np.testing.assert_allclose(K.dot(X, X.T).numpy(), X @ X.T, rtol=1e-5)
    assert K.floatx() == "float32" and K.epsilon() == 1e-7 and K.int_shape(tf.zeros([2, 3])) == (2, 3)
    v = K.variable([1, 2])
    assert v.dtype == tf.float32 and K.get_value(v).tolist() == [1.0, 2.0]


def _reference_windows(x, kh, kw, sh, sw, padding, fill):
    """Direct loops (no im2col): yields (n, i, j, window) with TF's SAME padding."""
    n_, h, w, c = x.shape
    if padding == "VALID":
        oh, ow, top, left = (h - kh) // sh + 1, (w - kw) // sw + 1, 0, 0
    else:
        oh, ow = -(-h // sh), -(-w // sw)
        top = max((oh - 1) * sh + kh - h, 0) // 2
        left = max((ow - 1) * sw + kw - w, 0) // 2
    for n in range(n_):
        for i in range(oh):
            for j in range(ow):
                window = np.full((kh, kw, c), fill, np.float64)
                valid = np.zeros((kh, kw), bool)
                for a in range(kh):
                    for b in range(kw):
                        y, z = i * sh + a - top, j * sw + b - left
                        if 0 <= y < h and 0 <= z < w:
                            window[a, b], valid[a, b] = x[n, y, z], True
                yield n, i, j, window, valid, (oh, ow)


@pytest.mark.parametrize("padding", ["VALID", "SAME"])
@pytest.mark.parametrize("strides", [1, 2])
def test_conv2d_matches_direct_loops(padding, strides):
    x = rng.normal(size=(2, 6, 5, 3))
    k = rng.normal(size=(3, 2, 3, 4))
    out = tf.nn.conv2d(x, k, strides=strides, padding=padding)
    expected = None
    for n, i, j, window, _, (oh, ow) in _reference_windows(x, 3, 2, strides, strides, padding, 0.0):
        if expected is None:
            expected = np.zeros((2, oh, ow, 4))
        expected[n, i, j] = np.einsum("abc,abco->o", window, k)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10)


@pytest.mark.parametrize("padding", ["VALID", "SAME"])
def test_pooling_matches_direct_loops(padding):
    x = rng.normal(size=(2, 5, 5, 3))
    mx = tf.nn.max_pool2d(x, ksize=3, strides=2, padding=padding)
    avg = tf.nn.avg_pool2d(x, ksize=3, strides=2, padding=padding)
    for n, i, j, window, valid, _ in _reference_windows(x, 3, 3, 2, 2, padding, -np.inf):
        np.testing.assert_allclose(mx.numpy()[n, i, j], window.max(axis=(0, 1)))
        np.testing.assert_allclose(avg.numpy()[n, i, j], window[valid].mean(axis=0))   # padding not counted


def test_conv_errors():
    with pytest.raises(tf.errors.InvalidArgumentError, match="3 channels but filters expect 2"):
        tf.nn.conv2d(np.zeros((1, 4, 4, 3)), np.zeros((2, 2, 2, 1)), 1, "VALID")
    with pytest.raises(tf.errors.InvalidArgumentError, match="padding must be 'VALID' or 'SAME'"):
        tf.nn.conv2d(np.zeros((1, 4, 4, 3)), np.zeros((2, 2, 3, 1)), 1, "FULL")
    with pytest.raises(tf.errors.InvalidArgumentError, match="does not fit"):
        tf.nn.max_pool2d(np.zeros((1, 2, 2, 1)), 3, 1, "VALID")
    with pytest.raises(tf.errors.InvalidArgumentError, match="4-D NHWC"):
        tf.nn.conv2d(np.zeros((4, 4, 3)), np.zeros((2, 2, 3, 1)), 1, "VALID")
