"""keras.backend: Keras' functional names mapped onto the same registered ops."""
import numpy as np

from .. import ops
from ..dtypes import as_dtype
from ..variables import Variable

_FLOATX, _EPSILON = "float32", 1e-7

abs, exp, log, sqrt, square, sign, tanh, sigmoid, relu, softmax, softplus = (
    ops.abs, ops.exp, ops.log, ops.sqrt, ops.square, ops.sign, ops.tanh, ops.sigmoid, ops.relu, ops.softmax,
    ops.softplus)
maximum, minimum, equal, not_equal, greater, less, cast, reshape, stack, one_hot, gather, transpose = (
    ops.maximum, ops.minimum, ops.equal, ops.not_equal, ops.greater, ops.less, ops.cast, ops.reshape, ops.stack,
    ops.one_hot, ops.gather, ops.transpose)
zeros_like, ones_like, stop_gradient = ops.zeros_like, ops.ones_like, ops.stop_gradient


def clear_session():
    """Forget layer names (the next Dense is 'dense' again), like Keras."""
    from .naming import reset
    reset()


def floatx():
    return _FLOATX


def set_floatx(value):
    global _FLOATX
    _FLOATX = as_dtype(value).name


def epsilon():
    return _EPSILON


def set_epsilon(value):
    global _EPSILON
    _EPSILON = float(value)


def _reduction(op):
    def reduce(x, axis=None, keepdims=False):
        return op(x, axis=axis, keepdims=keepdims)
    reduce.__name__ = op.__name__
    return reduce


sum, mean, max, min, prod, any, all = (_reduction(op) for op in (
    ops.reduce_sum, ops.reduce_mean, ops.reduce_max, ops.reduce_min, ops.reduce_prod, ops.reduce_any, ops.reduce_all))


def dot(x, y):
    return ops.matmul(x, y)


def pow(x, a):
    return ops.pow(x, a)


def clip(x, min_value, max_value):
    return ops.clip_by_value(x, min_value, max_value)


def argmax(x, axis=-1):
    return ops.argmax(x, axis=axis)


def argmin(x, axis=-1):
    return ops.argmin(x, axis=axis)


def concatenate(tensors, axis=-1):
    return ops.concat(tensors, axis=axis)


def expand_dims(x, axis=-1):
    return ops.expand_dims(x, axis)


def squeeze(x, axis):
    return ops.squeeze(x, axis)


def constant(value, dtype=None, shape=None, name=None):
    return ops.constant(value, dtype=dtype or _FLOATX, shape=shape)


def variable(value, dtype=None, name=None):
    return Variable(np.asarray(value, dtype=as_dtype(dtype or _FLOATX).np), name=name)


def zeros(shape, dtype=None, name=None):
    return ops.zeros(shape, dtype or _FLOATX)


def ones(shape, dtype=None, name=None):
    return ops.ones(shape, dtype or _FLOATX)


def shape(x):
    return ops.shape(x)


def int_shape(x):
    return tuple(x.shape)


def ndim(x):
    return len(x.shape)


def eval(x):
    return np.asarray(x)


get_value = eval


def set_value(x, value):
    x.assign(value)
