"""Shape/dtype helpers for op type rules. Unknown dims are None."""
import numpy as np

from ..errors import InvalidArgumentError


def broadcast_shapes(op_name, *shapes):
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
    axis = integer(op_name, "axis", axis)
    if not -rank <= axis < max(rank, 1) or (rank == 0 and axis not in (0, -1)):
        raise InvalidArgumentError(f"{op_name}: axis {axis} is out of range for a tensor of rank {rank}")
    return axis % rank if rank else 0


def normalize_axes(op_name, axis, rank):
    """axis None -> all axes; int or sequence of ints -> sorted tuple of non-negative axes. An axis
    named twice is an error, as in TF."""
    if axis is None:
        return tuple(range(rank))
    if isinstance(axis, np.ndarray):
        axis = axis.tolist()
    axes = axis if isinstance(axis, (list, tuple)) else (axis,)
    normalized = [normalize_axis(op_name, a, rank) for a in axes]
    if len(set(normalized)) != len(normalized):
        raise InvalidArgumentError(f"{op_name}: axis {list(axes)} names the same dimension twice (rank {rank})")
    return tuple(sorted(normalized))


def reduced_shape(shape, axes, keepdims):
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def sum_to_axes(shape, target):
    """The axes to sum `shape` over (keepdims) so the result broadcasts back like `target`:
    the leading extra axes and the axes where target has size 1."""
    lead = len(shape) - len(target)
    return tuple(range(lead)) + tuple(lead + i for i, d in enumerate(target) if d == 1 and shape[lead + i] != 1)
