"""The public op functions. Every primitive lives in REGISTRY (core.py); the functions here
give them TensorFlow's names and signatures."""
from .core import REGISTRY, convert_to_tensor  # noqa: F401
from .elementwise import (  # noqa: F401
    abs, add, cast, ceil, conj, cos, divide, elu, equal, erf, exp, expm1, floor, floordiv, floormod, greater,
    greater_equal, identity, imag, is_finite, is_inf, is_nan, leaky_relu, less, less_equal, log, log1p, logical_and,
    logical_not, logical_or, logical_xor, maximum, minimum, multiply, negative, not_equal, pow, real, reciprocal,
    relu, round, rsqrt, select, sigmoid, sign, sin, softplus, sqrt, square, squared_difference, stop_gradient,
    subtract, tanh)
from .elementwise import make_complex as complex  # noqa: F401
from .conv import avg_pool2d, conv2d, max_pool2d  # noqa: F401
from .linalg import einsum, matmul, norm  # noqa: F401
from .nn import (  # noqa: F401
    batch_normalization, bias_add, clip_by_value, dropout, gelu, l2_loss, log_softmax, moments, relu6, sigmoid_cross_entropy_with_logits,
    silu, softmax, softmax_cross_entropy_with_logits, sparse_softmax_cross_entropy_with_logits)
from .reduction import (  # noqa: F401
    argmax, argmin, cumsum, reduce_all, reduce_any, reduce_logsumexp, reduce_max, reduce_mean, reduce_min, reduce_prod,
    reduce_sum)
from .array import (  # noqa: F401
    arange, concat, eye, fill, gather, gather_nd, linspace, ones, one_hot, pad, rank, size, slice_update, stack,
    strided_slice, tensor_scatter_nd_add, tensor_scatter_nd_update, tile, unstack, zeros)
from .broadcast import ones_like, zeros_like  # noqa: F401
from .shape import broadcast_to, ensure_shape, expand_dims, reshape, shape, squeeze, transpose  # noqa: F401
from .array import where_indices as _where_indices
from . import ragged as _ragged, strings as _strings  # noqa: F401  (their primitives register here)
from . import random  # noqa: F401
from . import collective  # noqa: F401  (registers all_reduce and broadcast)
from . import operators as _operators

_operators.install()

range = arange
truediv = divide


def where(condition, x=None, y=None, name=None):
    """where(cond, x, y) selects elementwise with broadcasting; where(cond) returns the
    coordinates of True elements, int64 of shape [n, rank]."""
    if x is None and y is None:
        return _where_indices(condition)
    if x is None or y is None:
        raise ValueError("where: x and y must both be given, or neither")
    return select(condition, x, y)


def add_n(inputs, name=None):
    total = inputs[0]
    for t in inputs[1:]:
        total = add(total, t)
    return total


def constant(value, dtype=None, shape=None, name=None):  # noqa: F811  (TF names the parameter `shape`)
    tensor = convert_to_tensor(value, dtype=dtype) if not hasattr(value, "_as_tensor") else value._as_tensor()
    if dtype is not None and tensor.dtype != dtype:
        tensor = cast(tensor, dtype)
    if shape is not None and tuple(tensor.shape) != tuple(shape):
        if tensor.ndim == 0 or tensor.shape.num_elements() == 1:
            return broadcast_to(reshape(tensor, ()), shape)
        return reshape(tensor, shape)
    return tensor


# `from tracejit.ops import *` exports functions only, never the family submodules (nn, random, ...)
__all__ = [name for name, value in list(globals().items())
           if not name.startswith("_") and callable(value) and not isinstance(value, type(random))]
