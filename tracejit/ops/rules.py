"""Shape/dtype helpers for op type rules. Unknown dims are None."""
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


def normalize_axis(op_name, axis, rank):
    if not -rank <= axis < max(rank, 1) or (rank == 0 and axis not in (0, -1)):
        raise InvalidArgumentError(f"{op_name}: axis {axis} is out of range for a tensor of rank {rank}")
    return axis % rank if rank else 0


def normalize_axes(op_name, axis, rank):
    """axis None -> all axes; int or sequence -> sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(rank))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    normalized = sorted({normalize_axis(op_name, int(a), rank) for a in axes})
    return tuple(normalized)


def reduced_shape(shape, axes, keepdims):
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def sum_to_axes(shape, target):
    """The axes to sum `shape` over (keepdims) so the result broadcasts back like `target`:
    the leading extra axes and the axes where target has size 1."""
    lead = len(shape) - len(target)
    return tuple(range(lead)) + tuple(lead + i for i, d in enumerate(target) if d == 1 and shape[lead + i] != 1)
