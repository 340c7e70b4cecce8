"""Shape ops: reshape, transpose, squeeze, expand_dims, broadcast_to and the runtime shape query."""
import numpy as np

from .. import dtypes as dt
from ..errors import InvalidArgumentError
from ..ir.analysis import shape_size
from ..primitive import SHAPE
from ..tensor import Tensor, TensorShape
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


# ---- ensure_shape / set_shape: a static shape promised for a value whose shape is not known ----
def _merged_shape(op_name, have, want):
    """The most specific shape compatible with both (None: unknown rank); InvalidArgumentError if none."""
    if want is None:
        return have
    if have is None:
        return tuple(want)
    if len(have) != len(want) or any(a is not None and b is not None and a != b for a, b in zip(have, want)):
        raise InvalidArgumentError(f"{op_name}: shape {_text(have)} is not compatible with {_text(want)}")
    return tuple(a if a is not None else b for a, b in zip(have, want))


def _text(shape):
    return "<unknown>" if shape is None else "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


@op("ensure_shape", SHAPE, view=True, same_dtype=(), sample="ensure_shape")
def _ensure_shape(x, shape):
    return _merged_shape("ensure_shape", dims(x), shape), x.dtype


def _ensure_shape_impl(x, shape):
    _merged_shape("ensure_shape", x.shape, shape)          # checked on the value when it runs
    return x


_ensure_shape.impl = _ensure_shape_impl
_ensure_shape.vjp = lambda g, x, out, shape: (g,)


def ensure_shape(x, shape, name=None):
    """x, with its static shape made `shape` (dims None stay unknown); checked when it runs (InvalidArgumentError)."""
    shape = TensorShape(shape)
    return _ensure_shape(x, shape=None if shape.rank is None else tuple(shape))


def _set_shape(self, shape):
    """Tensor.set_shape: refines the static shape of a symbolic tensor (the values are checked when the
    graph runs); on an eager tensor only checks compatibility (ValueError), as TF does."""
    shape = TensorShape(shape)
    if not self.shape.is_compatible_with(shape):
        raise ValueError(f"Tensor's shape {self.shape} is not compatible with supplied shape {shape}.")
    if self._symbol is None or shape.rank is None:
        return
    refined = ensure_shape(self, shape)
    self._symbol, self._shape = refined._symbol, refined._shape


Tensor.set_shape = _set_shape
