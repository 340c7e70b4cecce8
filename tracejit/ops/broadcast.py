"""Broadcasting and its adjoint, the primitives every vjp builds on: sum_to (sum a broadcast
gradient back to an input's shape), broadcast_like, and fill_like (zeros_like, ones_like)."""
import numpy as np

from .. import dtypes as dt
from ..primitive import ELEMENTWISE, REDUCTION
from .core import convert_to_tensor, op
from .rules import broadcast_shapes, dims, sum_to_axes


def _sum_to_impl(g, like):
    axes = sum_to_axes(g.shape, like.shape)
    return (np.add.reduce(g, axis=axes, keepdims=True) if axes else g).reshape(like.shape)


@op("sum_to", REDUCTION, same_dtype=(), sample="sum_to")
def _sum_to(g, like):
    return dims(like), g.dtype


_sum_to.impl = _sum_to_impl
_sum_to.vjp = lambda gg, g, like, out: (broadcast_like(gg, g), None)


@op("broadcast_like", ELEMENTWISE, view=True, same_dtype=(), sample="broadcast_like")
def _broadcast_like(x, like):
    return broadcast_shapes("broadcast_like", x.shape, like.shape), x.dtype


_broadcast_like.impl = lambda x, like: np.broadcast_to(x, np.broadcast_shapes(x.shape, like.shape))
_broadcast_like.vjp = lambda g, x, like, out: (sum_to(g, x), None)


def _same_static_shape(a, b):
    shape = dims(a)
    return shape is not None and shape == dims(b) and None not in shape


def sum_to(g, x):
    """Sum a broadcast gradient back to x's shape (identity when shapes already agree)."""
    if _same_static_shape(g, x):
        return g
    return _sum_to(g, x)


def broadcast_like(x, like):
    if _same_static_shape(x, like):
        return x
    return _broadcast_like(x, like)


@op("fill_like", ELEMENTWISE, differentiable=False, shape_only=True, sample="fill_like")
def _fill_like(x, value, dtype):
    return dims(x), dtype


_fill_like.impl = lambda x, value, dtype: np.full(x.shape, value, dtype.np)


def zeros_like(input, dtype=None, name=None):
    x = convert_to_tensor(input)
    return _fill_like(x, value=0, dtype=dt.as_dtype(dtype) if dtype else x.dtype)


def ones_like(input, dtype=None, name=None):
    x = convert_to_tensor(input)
    return _fill_like(x, value=1, dtype=dt.as_dtype(dtype) if dtype else x.dtype)
