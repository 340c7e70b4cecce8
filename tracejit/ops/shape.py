"""Shape ops: reshape, transpose, squeeze, expand_dims, broadcast_to and the runtime shape query."""
import numpy as np

from .. import dtypes as dt
from ..errors import InvalidArgumentError
from ..ir.analysis import shape_size
from ..primitive import SHAPE
from ..tensor import Tensor
from .broadcast import sum_to
from .core import convert_to_tensor, op, static_shape
from .rules import broadcast_shapes, dims, normalize_axis, resolve_axes


def _to_shape_of(g, x):
    """Reshape g to x's (possibly partly unknown) shape."""
    shape = dims(x)
    if shape is None or shape.count(None) > 1:
        raise NotImplementedError("gradient of a reshape or squeeze needs the input's rank and at most one unknown "
                                  "dimension")
    return reshape(g, tuple(-1 if d is None else d for d in shape))


# ---- reshape / transpose / squeeze / expand_dims -------------------------------------------
@op("reshape", SHAPE, view=True, sample="reshape")
def _reshape(x, shape):
    if shape.count(-1) > 1:
        raise InvalidArgumentError(f"reshape: only one dimension can be -1, got {list(shape)}")
    size, target = shape_size(x.shape), shape_size([d for d in shape if d != -1])
    if -1 in shape:
        inferred = None if size is None or target == 0 else size // target
        if size is not None and target and size % target:
            raise InvalidArgumentError(f"Cannot reshape a tensor with {size} elements to shape {list(shape)}")
        return tuple(inferred if d == -1 else d for d in shape), x.dtype
    if size is not None and size != target:
        raise InvalidArgumentError(f"Cannot reshape a tensor with {size} elements to shape {list(shape)} "
                                   f"({target} elements)")
    return tuple(shape), x.dtype


_reshape.impl = lambda x, shape: x.reshape(shape)
_reshape.vjp = lambda g, x, out, shape: (_to_shape_of(g, x),)


def reshape(tensor, shape, name=None):
    return _reshape(tensor, shape=static_shape("reshape", shape, allow_inferred=True))


@op("transpose", SHAPE, view=True, sample="transpose")
def _transpose(x, perm):
    if x.ndim is not None and sorted(perm) != list(range(x.ndim)):
        raise InvalidArgumentError(f"transpose: perm {list(perm)} is not a permutation of the {x.ndim} axes")
    return tuple(x.shape[p] for p in perm), x.dtype


_transpose.impl = lambda x, perm: np.transpose(x, perm)
_transpose.vjp = lambda g, x, out, perm: (_transpose(g, perm=tuple(int(i) for i in np.argsort(perm))),)


def transpose(a, perm=None, conjugate=False, name=None):
    a = convert_to_tensor(a)
    perm = tuple(reversed(range(a.ndim))) if perm is None else tuple(int(p) % max(a.ndim, 1) for p in perm)
    return _transpose(a, perm=perm)


@op("squeeze", SHAPE, view=True, sample="squeeze")
def _squeeze(x, axis):
    if dims(x) is None:
        return None, x.dtype
    axis = resolve_axes(axis, x.ndim)           # axes given for an input of unknown rank may be negative
    for a in axis:
        if x.shape[a] not in (1, None):
            raise InvalidArgumentError(f"squeeze: cannot squeeze axis {a} of shape {tuple(x.shape)}: size is not 1")
    return tuple(d for i, d in enumerate(x.shape) if i not in axis), x.dtype


_squeeze.impl = lambda x, axis: np.squeeze(x, axis=axis)
_squeeze.vjp = lambda g, x, out, axis: (_to_shape_of(g, x),)


def squeeze(input, axis=None, name=None):
    x = convert_to_tensor(input)
    if axis is None:
        axes = tuple(i for i, d in enumerate(x.shape) if d == 1)
    else:
        axes = tuple(sorted({normalize_axis("squeeze", a, x.ndim) for a in np.atleast_1d(axis).tolist()}))
    return _squeeze(x, axis=axes)


@op("expand_dims", SHAPE, view=True, sample="expand_dims")
def _expand_dims(x, axis):
    if dims(x) is None:
        return None, x.dtype
    shape = list(x.shape)
    shape.insert(axis % (len(shape) + 1), 1)
    return tuple(shape), x.dtype


_expand_dims.impl = lambda x, axis: np.expand_dims(x, axis)
_expand_dims.vjp = lambda g, x, out, axis: (_squeeze(g, axis=(axis,)),)


def expand_dims(input, axis, name=None):
    x = convert_to_tensor(input)
    if x.ndim is None:                 # unknown rank: a negative axis counts from the end at run time
        return _expand_dims(x, axis=int(axis))
    rank = x.ndim + 1
    if not -rank <= axis < rank:
        raise InvalidArgumentError(f"expand_dims: axis {axis} is out of range [{-rank}, {rank}) for rank {x.ndim}")
    return _expand_dims(x, axis=axis % rank)


# ---- broadcast_to ---------------------------------------------------------------------------
@op("broadcast_to", SHAPE, view=True, sample="broadcast_to")
def _broadcast_to(x, shape):
    out = broadcast_shapes("broadcast_to", x.shape, shape)
    if len(out) != len(shape) or any(o != s for o, s in zip(out, shape)):
        raise InvalidArgumentError(f"broadcast_to: cannot broadcast shape {tuple(x.shape)} to {shape}")
    return shape, x.dtype


_broadcast_to.impl = lambda x, shape: np.broadcast_to(x, shape)
_broadcast_to.vjp = lambda g, x, out, shape: (sum_to(g, x),)


def broadcast_to(input, shape, name=None):
    return _broadcast_to(input, shape=static_shape("broadcast_to", shape))


@op("shape", SHAPE, differentiable=False, shape_only=True, sample="shape")
def _shape(x, out_type):
    return (x.ndim,), out_type


_shape.impl = lambda x, out_type: np.array(x.shape, out_type.np)


def shape(input, out_type=dt.int32, name=None):
    """Static shapes become constants; unknown dims (or rank) need the runtime `shape` op."""
    x = convert_to_tensor(input)
    out_type = dt.as_dtype(out_type)
    if not x.shape.is_fully_defined():
        return _shape(x, out_type=out_type)
    return Tensor(np.array(tuple(x.shape), out_type.np))
