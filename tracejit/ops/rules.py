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


def same_dtype(op_name, *tensors):
    first = tensors[0].dtype
    for i, t in enumerate(tensors[1:], start=1):
        if t.dtype != first:
            raise InvalidArgumentError(
                f"cannot compute {op_name} as input #{i}(zero-based) was expected to be a {first.name} tensor "
                f"but is a {t.dtype.name} tensor (no implicit casts: use tracejit.cast)")
    return first


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


def known_size(shape):
    size = 1
    for d in shape:
        if d is None:
            return None
        size *= d
    return size
