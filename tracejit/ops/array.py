"""Array ops: tile, concat/stack/unstack, slicing (strided_slice and its scatter-back), gather,
scatter updates, one_hot, where, and constructors (zeros, ones, fill, eye, range, size, rank)."""
import numpy as np

from .. import dtypes as dt
from ..errors import InvalidArgumentError, TracingError
from ..ir.analysis import shape_size
from ..primitive import INDEX, SHAPE
from ..tensor import Tensor
from . import core
from .broadcast import ones_like, sum_to, zeros_like
from .core import convert_to_tensor, op, static_shape
from .reduction import reduce_prod, reduce_sum
from .rules import broadcast_shapes, integer, normalize_axis
from .shape import broadcast_to, reshape, shape, transpose


# ---- tile / concat / stack ------------------------------------------------------------------
@op("tile", SHAPE, sample="tile")
def _tile(x, multiples):
    if len(multiples) != x.ndim:
        raise InvalidArgumentError(f"tile: multiples {list(multiples)} must have one entry per dimension of "
                                   f"shape {tuple(x.shape)}")
    return tuple(None if d is None else d * m for d, m in zip(x.shape, multiples)), x.dtype


def _tile_vjp(g, x, out, multiples):
    if None in x.shape:
        raise NotImplementedError("gradient of tile with unknown dimensions")
    interleaved = [v for m, d in zip(multiples, x.shape) for v in (m, d)]
    return (reduce_sum(reshape(g, interleaved), axis=tuple(range(0, 2 * x.ndim, 2))),)


_tile.impl = lambda x, multiples: np.tile(x, multiples)
_tile.vjp = _tile_vjp


def tile(input, multiples, name=None):
    return _tile(input, multiples=static_shape("tile", multiples))


@op("concat", SHAPE, sample="concat")
def _concat(*values, axis):
    first = values[0].shape
    for v in values[1:]:
        if len(v.shape) != len(first) or any(a != b and None not in (a, b)
                                             for i, (a, b) in enumerate(zip(first, v.shape)) if i != axis):
            raise InvalidArgumentError(f"concat: shapes {[tuple(v.shape) for v in values]} do not match "
                                       f"outside axis {axis}")
    sizes = [v.shape[axis] for v in values]
    return tuple((None if None in sizes else sum(sizes)) if i == axis else d
                 for i, d in enumerate(first)), values[0].dtype


def _concat_vjp(g, *args, axis):
    values, start, grads = args[:-1], 0, []
    for v in values:
        if v.shape[axis] is None:
            raise NotImplementedError("gradient of concat with an unknown size along the concat axis")
        index = (slice(None),) * axis + (slice(start, start + v.shape[axis]),)
        grads.append(strided_slice(g, index))
        start += v.shape[axis]
    return tuple(grads)


_concat.impl = lambda *values, axis: np.concatenate(values, axis=axis)
_concat.vjp = _concat_vjp


def concat(values, axis, name=None):
    values = _convert_list("concat", values)
    return _concat(*values, axis=normalize_axis("concat", axis, values[0].ndim))


@op("stack", SHAPE, sample="stack")
def _stack(*values, axis):
    shape = broadcast_shapes("stack", *(v.shape for v in values))
    if any(len(v.shape) != len(shape) or any(a not in (b, None) and b is not None for a, b in zip(v.shape, shape))
           for v in values):
        raise InvalidArgumentError(f"stack: all shapes must be equal, got {[tuple(v.shape) for v in values]}")
    shape = list(shape)
    shape.insert(axis, len(values))
    return tuple(shape), values[0].dtype


_stack.impl = lambda *values, axis: np.stack(values, axis=axis)
_stack.vjp = lambda g, *args, axis: tuple(strided_slice(g, (slice(None),) * axis + (i,))
                                          for i in range(len(args) - 1))


def stack(values, axis=0, name=None):
    values = _convert_list("stack", values)
    return _stack(*values, axis=normalize_axis("stack", axis, values[0].ndim + 1))


def unstack(value, num=None, axis=0, name=None):
    value = convert_to_tensor(value)
    axis = normalize_axis("unstack", axis, value.ndim)
    count = value.shape[axis] if num is None else num
    if count is None:
        raise TracingError("unstack: the size along the axis is unknown; pass num=")
    return [strided_slice(value, (slice(None),) * axis + (i,)) for i in range(count)]


def _convert_list(op_name, values):
    if isinstance(values, Tensor):
        return unstack(values)
    if not isinstance(values, (list, tuple)) or not values:
        raise InvalidArgumentError(f"{op_name}: expected a non-empty list of tensors, got {values!r}")
    return core.convert_matching(values)


# ---- slicing --------------------------------------------------------------------------------
def normalize_index(index):
    """A Python index -> tuple of int / slice / None / Ellipsis with plain-int bounds."""
    items = index if isinstance(index, tuple) else (index,)
    result = []
    for item in items:
        if isinstance(item, Tensor) or hasattr(item, "_as_tensor"):
            item = convert_to_tensor(item)
            if item.is_symbolic or item.ndim or not item.dtype.is_integer:
                raise TypeError(f"Only integers, slices, ..., tf.newaxis and scalar int tensors known outside "
                                f"the trace are valid indices (got {item!r}); use tracejit.gather for tensor indices")
            item = int(item.numpy())
        if isinstance(item, slice):
            parts = [None if p is None else int(p) for p in (item.start, item.stop, item.step)]
            if parts[2] == 0:
                raise ValueError("slice step cannot be zero")
            item = slice(*parts)
        elif item is None or item is Ellipsis:
            pass
        elif isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            item = int(item)
        else:
            raise TypeError(f"Only integers, slices, ..., tf.newaxis and scalar int tensors are valid indices, "
                            f"got {item!r} of type {type(item).__name__}; use tracejit.gather or "
                            "tracejit.boolean_mask for array indices")
        result.append(item)
    return tuple(result)


def _indexed_shape(shape, index):
    def probe(unknown):
        dummy = np.broadcast_to(np.empty((), np.uint8), [unknown if d is None else d for d in shape])
        return dummy[index].shape
    try:
        a, b = probe(1000003), probe(1000033)
    except IndexError as e:
        raise IndexError(f"{e} (indexing a tensor of shape {tuple(shape)} with {index})") from None
    return tuple(x if x == y else None for x, y in zip(a, b))


@op("strided_slice", INDEX, view=True, sample="strided_slice")
def _strided_slice(x, index):
    return _indexed_shape(x.shape, index), x.dtype


def _strided_slice_impl(x, index):
    # with an Ellipsis, integer indexing of every dim gives a 0-d view instead of a scalar copy
    return x[index] if any(i is Ellipsis for i in index) else x[index + (Ellipsis,)]


_strided_slice.impl = _strided_slice_impl
_strided_slice.vjp = lambda g, x, out, index: (_strided_slice_grad(g, x, index=index),)


def strided_slice(x, index):
    return _strided_slice(x, index=normalize_index(index))


@op("strided_slice_grad", INDEX, same_dtype=(), sample="strided_slice_grad")
def _strided_slice_grad(g, like, index):
    return tuple(like.shape), g.dtype


def _strided_slice_grad_impl(g, like, index):
    out = np.zeros(like.shape, g.dtype)
    out[index] = g
    return out


_strided_slice_grad.impl = _strided_slice_grad_impl
_strided_slice_grad.vjp = lambda gg, g, like, out, index: (_strided_slice(gg, index=index), None)


@op("slice_update", INDEX, sample="slice_update")
def _slice_update(x, update, index):
    target = _indexed_shape(x.shape, index)
    broadcast_shapes("slice assignment", target, update.shape)
    if len(update.shape) > len(target):
        raise ValueError(f"Cannot assign a value of shape {tuple(update.shape)} to a slice of shape {target}")
    return tuple(x.shape), x.dtype


def _slice_update_impl(x, update, index):
    out = x.copy()
    out[index] = update
    return out


_slice_update.impl = _slice_update_impl
_slice_update.vjp = lambda g, x, u, out, index: (
    _slice_update(g, zeros_like(u), index=index), sum_to(_strided_slice(g, index=index), u))


def slice_update(x, index, update):
    x = convert_to_tensor(x)
    return _slice_update(x, convert_to_tensor(update, dtype_hint=x.dtype), index=normalize_index(index))


# ---- pad ------------------------------------------------------------------------------------
PAD_MODES = {"CONSTANT": "constant", "REFLECT": "reflect", "SYMMETRIC": "symmetric"}


def _check_paddings(shape, paddings, mode):
    if len(paddings) != len(shape):
        raise InvalidArgumentError(f"pad: paddings {[list(p) for p in paddings]} must have one [before, after] pair "
                                   f"per dimension of shape {tuple(shape)}")
    limit = {"REFLECT": 0, "SYMMETRIC": 1}.get(mode)       # REFLECT pads < dim, SYMMETRIC pads <= dim
    for d, (before, after) in zip(shape, paddings):
        if min(before, after) < 0 or (limit is not None and d is not None and max(before, after) >= d + limit):
            raise InvalidArgumentError(f"pad: paddings {before, after} are invalid for a dimension of size {d} in "
                                       f"{mode} mode")


@op("pad", INDEX, sample="pad")
def _pad(x, paddings, mode, constant_values):
    _check_paddings(x.shape, paddings, mode)
    return tuple(None if d is None else d + a + b for d, (a, b) in zip(x.shape, paddings)), x.dtype


def _pad_impl(x, paddings, mode, constant_values):
    if mode == "CONSTANT":
        return np.pad(x, paddings, mode="constant", constant_values=constant_values)
    return np.pad(x, paddings, mode=PAD_MODES[mode])


_pad.impl = _pad_impl
_pad.vjp = lambda g, x, out, paddings, mode, constant_values: (_pad_grad(g, paddings=paddings, mode=mode),)


@op("pad_grad", INDEX, sample="pad_grad")
def _pad_grad(g, paddings, mode):
    """The adjoint of pad: each padded cell's gradient goes back to the cell it copies (none for CONSTANT)."""
    shape = tuple(None if d is None else d - a - b for d, (a, b) in zip(g.shape, paddings))
    _check_paddings(shape, paddings, mode)
    return shape, g.dtype


def _pad_source(size, before, after, mode):
    """For each position of a padded axis, the index of the input cell it holds (-1: a constant)."""
    index = np.arange(-before, size + after)
    if mode == "REFLECT":
        index = np.where(index < 0, -index, np.where(index >= size, 2 * (size - 1) - index, index))
    elif mode == "SYMMETRIC":
        index = np.where(index < 0, -index - 1, np.where(index >= size, 2 * size - 1 - index, index))
    else:
        index = np.where((index < 0) | (index >= size), -1, index)
    return index


def _pad_grad_impl(g, paddings, mode):
    for axis, (before, after) in enumerate(paddings):
        size = g.shape[axis] - before - after
        source = _pad_source(size, before, after, mode)
        out = np.zeros(g.shape[:axis] + (size,) + g.shape[axis + 1:], g.dtype)
        kept = source >= 0
        np.add.at(np.moveaxis(out, axis, 0), source[kept], np.moveaxis(g, axis, 0)[kept])
        g = out
    return g


_pad_grad.impl = _pad_grad_impl
_pad_grad.vjp = lambda gg, g, out, paddings, mode: (_pad(gg, paddings=paddings, mode=mode, constant_values=0),)


def pad(tensor, paddings, mode="CONSTANT", constant_values=0, name=None):
    """TF's pad: paddings [[before, after], ...] per dimension; CONSTANT, REFLECT or SYMMETRIC."""
    x = convert_to_tensor(tensor)
    mode = str(mode).upper()
    if mode not in PAD_MODES:
        raise ValueError(f"pad: mode must be one of {sorted(PAD_MODES)}, got {mode!r}")
    pairs = np.asarray(static_shape("pad", np.asarray(
        paddings.numpy() if isinstance(paddings, Tensor) and not paddings.is_symbolic else paddings).reshape(-1)))
    if pairs.size != 2 * x.ndim:
        raise InvalidArgumentError(f"pad: paddings must have shape [{x.ndim}, 2] for a tensor of rank {x.ndim}")
    value = convert_to_tensor(constant_values, dtype_hint=x.dtype)
    if value.is_symbolic or value.ndim:
        raise NotImplementedError("pad: constant_values must be a scalar known while tracing (a Python number)")
    return _pad(x, paddings=tuple((int(a), int(b)) for a, b in pairs.reshape(-1, 2)), mode=mode,
                constant_values=value.numpy().item())


# ---- rows grown at run time (TensorArray buffers) --------------------------------------------
@op("grow_rows", INDEX, same_dtype=(), sample="grow_rows")
def _grow_rows(x, size):
    """x with zero rows appended up to `size` rows (a run-time value): at least x's rows."""
    if size.ndim != 0 or not size.dtype.is_integer:
        raise InvalidArgumentError("grow_rows: size must be an integer scalar")
    return (None,) + tuple(x.shape[1:]), x.dtype


def _grow_rows_impl(x, size):
    extra = max(int(size) - x.shape[0], 0)
    return np.concatenate([x, np.zeros((extra,) + x.shape[1:], x.dtype)]) if extra else x.copy()


_grow_rows.impl = _grow_rows_impl
_grow_rows.vjp = lambda g, x, size, out: (_rows_like(g, x), None)


@op("rows_like", INDEX, same_dtype=(), sample="rows_like")
def _rows_like(g, like):
    """The first rows of g, as many as `like` has (the gradient of grow_rows)."""
    return (like.shape[0],) + tuple(g.shape[1:]), g.dtype


_rows_like.impl = lambda g, like: g[:like.shape[0]].copy()
_rows_like.vjp = lambda gg, g, like, out: (_grow_rows(gg, _shape_rows(g)), None)


def _shape_rows(x):
    from .shape import shape
    return strided_slice(shape(x), (0,))


# ---- gather / scatter / one_hot -------------------------------------------------------------
def _check_indices(indices, size, what):
    if indices.size and (indices.min() < 0 or indices.max() >= size):
        bad = indices[(indices < 0) | (indices >= size)].flat[0]
        raise InvalidArgumentError(f"{what}: index {bad} is not in [0, {size})")


@op("gather", INDEX, same_dtype=(), sample="gather")
def _gather(params, indices, axis):
    if not indices.dtype.is_integer:
        raise InvalidArgumentError(f"gather: indices must be integers, got {indices.dtype.name}")
    s = tuple(params.shape)
    return s[:axis] + tuple(indices.shape) + s[axis + 1:], params.dtype


def _gather_impl(params, indices, axis):
    _check_indices(indices, params.shape[axis], "gather")
    return np.take(params, indices, axis=axis)


_gather.impl = _gather_impl
_gather.vjp = lambda g, params, indices, out, axis: (_gather_grad(g, indices, params, axis=axis), None)


def gather(params, indices, validate_indices=None, axis=None, batch_dims=0, name=None):
    if batch_dims:
        raise NotImplementedError("gather with batch_dims != 0 is not supported yet")
    params = convert_to_tensor(params)
    return _gather(params, convert_to_tensor(indices), axis=normalize_axis("gather", axis or 0, params.ndim))


@op("gather_grad", INDEX, same_dtype=(), sample="gather_grad")
def _gather_grad(g, indices, like, axis):
    return tuple(like.shape), g.dtype


def _gather_grad_impl(g, indices, like, axis):
    out = np.zeros(like.shape, g.dtype)
    moved = np.moveaxis(g, list(range(axis, axis + indices.ndim)), list(range(indices.ndim)))
    np.add.at(np.moveaxis(out, axis, 0), indices, moved)
    return out


_gather_grad.impl = _gather_grad_impl
_gather_grad.vjp = lambda gg, g, indices, like, out, axis: (_gather(gg, indices, axis=axis), None, None)


@op("scatter_nd_update", INDEX, same_dtype=(0, 2), sample="scatter_nd_update")
def _scatter_nd_update(x, indices, updates):
    if not indices.dtype.is_integer or not indices.ndim:
        raise InvalidArgumentError("scatter_nd_update: indices must be an integer tensor of rank >= 1")
    depth = indices.shape[-1]
    expected = tuple(indices.shape[:-1]) + tuple(x.shape[depth:]) if depth is not None else None
    if expected is not None and len(expected) != len(updates.shape):
        raise InvalidArgumentError(f"scatter_nd_update: updates shape {tuple(updates.shape)} does not match "
                                   f"indices.shape[:-1] + shape[{depth}:] = {expected}")
    return tuple(x.shape), x.dtype


def _scatter_nd_update_impl(x, indices, updates):
    out = x.copy()
    depth = indices.shape[-1]
    for axis in range(depth):
        _check_indices(indices[..., axis], x.shape[axis], "scatter_nd_update")
    out[tuple(np.moveaxis(indices, -1, 0))] = updates
    return out


def _scatter_nd_update_vjp(g, x, indices, updates, out):
    hit = _scatter_nd_update(zeros_like(g), indices, ones_like(updates))
    return g * (1 - hit), None, _gather_nd(g, indices)


_scatter_nd_update.impl = _scatter_nd_update_impl
_scatter_nd_update.vjp = _scatter_nd_update_vjp


def tensor_scatter_nd_update(tensor, indices, updates, name=None):
    tensor = convert_to_tensor(tensor)
    return _scatter_nd_update(tensor, convert_to_tensor(indices), convert_to_tensor(updates, dtype_hint=tensor.dtype))


@op("gather_nd", INDEX, same_dtype=(), sample="gather_nd")
def _gather_nd(params, indices):
    depth = indices.shape[-1]
    return tuple(indices.shape[:-1]) + tuple(params.shape[depth:]), params.dtype


def _gather_nd_impl(params, indices):
    for axis in range(indices.shape[-1]):
        _check_indices(indices[..., axis], params.shape[axis], "gather_nd")
    return params[tuple(np.moveaxis(indices, -1, 0))]


_gather_nd.impl = _gather_nd_impl
_gather_nd.vjp = lambda g, params, indices, out: (
    _scatter_nd_add(zeros_like(params), indices, g), None)


@op("scatter_nd_add", INDEX, same_dtype=(0, 2), sample="scatter_nd_add")
def _scatter_nd_add(x, indices, updates):
    return tuple(x.shape), x.dtype


def _scatter_nd_add_impl(x, indices, updates):
    out = x.copy()
    np.add.at(out, tuple(np.moveaxis(indices, -1, 0)), updates)
    return out


_scatter_nd_add.impl = _scatter_nd_add_impl
_scatter_nd_add.vjp = lambda g, x, indices, updates, out: (g, None, _gather_nd(g, indices))


def tensor_scatter_nd_add(tensor, indices, updates, name=None):
    tensor = convert_to_tensor(tensor)
    return _scatter_nd_add(tensor, convert_to_tensor(indices), convert_to_tensor(updates, dtype_hint=tensor.dtype))


def gather_nd(params, indices, batch_dims=0, name=None):
    if batch_dims:
        raise NotImplementedError("gather_nd with batch_dims != 0 is not supported yet")
    return _gather_nd(convert_to_tensor(params), convert_to_tensor(indices))


@op("one_hot", INDEX, same_dtype=(), differentiable=False, sample="one_hot")
def _one_hot(indices, depth, on_value, off_value, axis, dtype):
    if not indices.dtype.is_integer:
        raise InvalidArgumentError(f"one_hot: indices must be integers, got {indices.dtype.name}")
    shape = list(indices.shape)
    shape.insert(axis, depth)
    return tuple(shape), dtype


_ARANGE = {}


def _one_hot_impl(indices, depth, on_value, off_value, axis, dtype):
    if on_value == 1 and off_value == 0 and axis == indices.ndim:       # the common case, in two numpy calls
        columns = _ARANGE.get(depth)
        if columns is None:
            columns = _ARANGE[depth] = np.arange(depth)
        return (indices[..., None] == columns).astype(dtype.np)
    out = np.full(indices.shape + (depth,), off_value, dtype.np)
    flat, rows = out.reshape(-1, depth), indices.reshape(-1)
    valid = (rows >= 0) & (rows < depth)               # out-of-range indices give all-off rows, as in TF
    flat[np.flatnonzero(valid), rows[valid]] = on_value
    return out if axis == indices.ndim else np.moveaxis(out, -1, axis)


_one_hot.impl = _one_hot_impl


def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None, name=None):
    indices = convert_to_tensor(indices)
    dtype = dt.as_dtype(dtype) if dtype is not None else dt.float32
    rank = indices.ndim + 1
    axis = -1 if axis is None else integer("one_hot", "axis", axis)
    if not -rank <= axis < rank:
        raise InvalidArgumentError(f"one_hot: axis {axis} out of range for output rank {rank}")
    depth = integer("one_hot", "depth", depth.numpy() if isinstance(depth, Tensor) else depth)
    if depth < 0:
        raise InvalidArgumentError(f"one_hot: depth must be non-negative, got: {depth}")
    return _one_hot(indices, depth=depth, on_value=1 if on_value is None else on_value,
                    off_value=0 if off_value is None else off_value, axis=axis % rank, dtype=dtype)


def size(input, out_type=dt.int32, name=None):
    x = convert_to_tensor(input)
    n = shape_size(x.shape)
    if n is None:
        return reduce_prod(shape(x, out_type))
    return Tensor(np.array(n, dt.as_dtype(out_type).np))


def rank(input, name=None):
    return Tensor(np.array(convert_to_tensor(input).ndim, np.int32))


def fill(dims, value, name=None):
    value = convert_to_tensor(value)
    return broadcast_to(value, dims)


def zeros(shape, dtype=dt.float32, name=None):
    return Tensor(np.zeros(static_shape("zeros", shape), dt.as_dtype(dtype).np))


def ones(shape, dtype=dt.float32, name=None):
    return Tensor(np.ones(static_shape("ones", shape), dt.as_dtype(dtype).np))


def eye(num_rows, num_columns=None, dtype=dt.float32, name=None):
    return Tensor(np.eye(num_rows, num_columns, dtype=dt.as_dtype(dtype).np))


def arange(start, limit=None, delta=1, dtype=None, name=None):
    if limit is None:
        start, limit = 0, start
    values = [convert_to_tensor(v) for v in (start, limit, delta)]
    if any(v.is_symbolic for v in values):
        raise TracingError("range: start/limit/delta must be known while tracing (pass Python numbers)")
    inferred = dt.float32 if any(v.dtype.is_floating for v in values) else dt.int32
    if any(v.dtype == dt.float64 for v in values) or any(v.dtype == dt.int64 for v in values):
        inferred = dt.float64 if inferred.is_floating else dt.int64
    dtype = dt.as_dtype(dtype) if dtype is not None else inferred
    for what, v in zip(("start", "limit", "delta"), values):
        if v.ndim:
            raise InvalidArgumentError(f"range: {what} must be a scalar, not shape {list(v.shape)}")
    start, limit, delta = (v.numpy() for v in values)
    _check_range(start, limit, delta)
    return Tensor(np.arange(start, limit, delta).astype(dtype.np))


def _check_range(start, limit, delta):
    """TF's RangeOp checks: a zero step never ends, a step away from the limit is a mistake."""
    if delta == 0:
        raise InvalidArgumentError(f"range: Requires delta != 0: {delta}")
    if delta > 0 and start > limit:
        raise InvalidArgumentError(f"range: Requires start <= limit when delta > 0: {start}/{limit}")
    if delta < 0 and start < limit:
        raise InvalidArgumentError(f"range: Requires start >= limit when delta < 0: {start}/{limit}")


def linspace(start, stop, num, name=None, axis=0):
    """`num` evenly spaced values from start to stop (both included), along a new axis; start and
    stop may be tensors (then every element gets its own sequence) and receive gradients."""
    start, stop = core.convert_matching((start, stop))
    if not start.dtype.is_floating:
        raise InvalidArgumentError(f"linspace: start and stop must be floats, got {start.dtype.name}")
    num = convert_to_tensor(num)
    if num.is_symbolic:
        raise TracingError("linspace: num must be known while tracing (a Python int)")
    num = int(num.numpy())
    if num < 1:
        raise InvalidArgumentError(f"linspace: num must be positive, got {num}")
    first = start[..., None] + zeros_like(stop)[..., None]        # broadcast start and stop together
    if num == 1:
        values = first
    else:
        delta = (stop - start) / (num - 1)
        steps = Tensor(np.arange(1, num - 1, dtype=start.dtype.np))
        values = concat([first, first + delta[..., None] * steps, stop[..., None] + zeros_like(start)[..., None]],
                        axis=-1)
    axis = normalize_axis("linspace", axis, values.ndim)
    if axis == values.ndim - 1:
        return values
    perm = list(range(values.ndim - 1))
    perm.insert(axis, values.ndim - 1)
    return transpose(values, perm)


def where_indices(condition):
    return _where_indices(convert_to_tensor(condition, dtype=dt.bool_))


@op("where_indices", INDEX, differentiable=False, sample="where_indices")
def _where_indices(condition):
    return (None, condition.ndim), dt.int64


_where_indices.impl = lambda c: np.argwhere(c).astype(np.int64)


core.register_list_packing(stack)
