"""Shape/dtype helpers for op type rules. Unknown dims are None; a shape of unknown rank is None
(an IR Value's shape) or TensorShape(None) (a Tensor's): `dims` gives either as None. Rules that
meet an input of unknown rank give a result of unknown rank where they can."""
import numpy as np

from ..errors import InvalidArgumentError
from ..tensor import known_dims


def dims(x):
    """The dims of a tensor or IR value as a tuple, or None when its rank is unknown."""
    return known_dims(x.shape)


def broadcast_shapes(op_name, *shapes):
    shapes = [known_dims(s) for s in shapes]
    if None in shapes:
        return None
    rank = max((len(s) for s in shapes), default=0)
    result = []
    for i in range(-rank, 0):
        dims = [s[i] for s in shapes if len(s) >= -i]
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            raise InvalidArgumentError(
                f"{op_name}: incompatible shapes for broadcasting: {', '.join(str(tuple(s)) for s in shapes)}")
        if known:
            result.append(known.pop())
        elif any(d is None for d in dims):
            result.append(None)
        else:
            result.append(1)
    return tuple(result)


def integer(op_name, what, value):
    """`value` as an int: Python and NumPy integers only. Floats and bools are refused (TF's
    conversion to int32 refuses them too) instead of being truncated into a different meaning."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{op_name}: {what} must be an integer, got {value!r} ({type(value).__name__})")
    return int(value)


def normalize_axis(op_name, axis, rank):
    """axis as a non-negative int; with unknown rank (None) it stays as given (negative: from the end)."""
    axis = integer(op_name, "axis", axis)
    if rank is None:
        return axis
    if not -rank <= axis < max(rank, 1) or (rank == 0 and axis not in (0, -1)):
        raise InvalidArgumentError(f"{op_name}: axis {axis} is out of range for a tensor of rank {rank}")
    return axis % rank if rank else 0


def normalize_axes(op_name, axis, rank):
    """axis None -> all axes; int or sequence of ints -> sorted tuple of non-negative axes. An axis
    named twice is an error, as in TF. With unknown rank, None stays None (all axes, whatever the
    rank) and axes stay as given (all of one sign)."""
    if axis is None:
        return None if rank is None else tuple(range(rank))
    if isinstance(axis, np.ndarray):
        axis = axis.tolist()
    axes = axis if isinstance(axis, (list, tuple)) else (axis,)
    normalized = [normalize_axis(op_name, a, rank) for a in axes]
    if len(set(normalized)) != len(normalized):
        raise InvalidArgumentError(f"{op_name}: axis {list(axes)} names the same dimension twice (rank {rank})")
    normalized = sorted(normalized)
    if rank is None and normalized and normalized[0] < 0 <= normalized[-1]:
        raise InvalidArgumentError(f"{op_name}: axes {normalized} mix counting from the start and the end on a "
                                   "tensor of unknown rank; give it a shape")
    return tuple(normalized)


def resolve_axes(axes, rank):
    """Axes (None = all, negative = from the end) as a set of non-negative ints for a known rank."""
    return set(range(rank)) if axes is None else {a % rank if rank else 0 for a in axes}


def reduced_shape(shape, axes, keepdims):
    shape = known_dims(shape)
    if shape is None:                   # unknown rank: reducing every axis still gives a scalar
        return () if axes is None and not keepdims else None
    axes = resolve_axes(axes, len(shape))
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def sum_to_axes(shape, target):
    """The axes to sum `shape` over (keepdims) so the result broadcasts back like `target`:
    the leading extra axes and the axes where target has size 1."""
    lead = len(shape) - len(target)
    return tuple(range(lead)) + tuple(lead + i for i, d in enumerate(target) if d == 1 and shape[lead + i] != 1)
