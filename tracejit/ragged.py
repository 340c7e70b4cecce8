"""tf.RaggedTensor and tf.ragged: rows of different lengths, as TF encodes them. A RaggedTensor is
`values` (a Tensor, or a RaggedTensor for more ragged dimensions) partitioned by `row_splits`
(int64, row i is values[row_splits[i]:row_splits[i+1]]). Its methods are ops, so they work
eagerly and inside @function; to_list() and the bracketed repr need eager values."""
import numpy as np

from . import dtypes as dt
from .errors import InvalidArgumentError
from .ops import array as A, reduction as R, shape as S
from .ops.core import convert_to_tensor
from .ops.elementwise import cast
from .ops.ragged import ragged_to_dense
from .tensor import Tensor, TensorShape


class RaggedTensor:
    def __init__(self, values, row_splits, internal=False):
        if not internal:
            raise ValueError("RaggedTensor constructor is private; use tf.RaggedTensor.from_row_splits, "
                             "from_row_lengths or tf.ragged.constant")
        self._values, self._row_splits = values, row_splits

    # ---- construction ----
    @classmethod
    def from_row_splits(cls, values, row_splits, name=None, validate=True):
        values = values if isinstance(values, RaggedTensor) else convert_to_tensor(values)
        row_splits = convert_to_tensor(row_splits, dtype_hint=dt.int64)
        if row_splits.dtype not in (dt.int32, dt.int64) or row_splits.ndim != 1:
            raise InvalidArgumentError(f"row_splits must be a 1-D int32/int64 tensor, got "
                                       f"{row_splits.dtype.name}{list(row_splits.shape)}")
        if validate and not row_splits.is_symbolic:
            splits = row_splits.numpy()
            nvalues = _nrows_of(values)
            if len(splits) == 0 or splits[0] != 0 or np.any(np.diff(splits) < 0) or (
                    nvalues is not None and splits[-1] != nvalues):
                raise InvalidArgumentError(f"row_splits {splits.tolist()} must start at 0, never decrease and end "
                                           f"at the number of values ({nvalues})")
        return cls(values, row_splits, internal=True)

    @classmethod
    def from_row_lengths(cls, values, row_lengths, name=None, validate=True):
        lengths = cast(convert_to_tensor(row_lengths, dtype_hint=dt.int64), dt.int64)
        splits = A.concat([Tensor(np.zeros(1, np.int64)), R.cumsum(lengths)], axis=0)
        return cls.from_row_splits(values, splits, validate=validate)

    @classmethod
    def from_nested_row_splits(cls, flat_values, nested_row_splits, name=None, validate=True):
        result = flat_values
        for splits in reversed(list(nested_row_splits)):
            result = cls.from_row_splits(result, splits, validate=validate)
        return result

    @classmethod
    def from_nested_row_lengths(cls, flat_values, nested_row_lengths, name=None, validate=True):
        result = flat_values
        for lengths in reversed(list(nested_row_lengths)):
            result = cls.from_row_lengths(result, lengths, validate=validate)
        return result

    # ---- structure ----
    values = property(lambda self: self._values)
    row_splits = property(lambda self: self._row_splits)

    @property
    def flat_values(self):
        values = self._values
        return values.flat_values if isinstance(values, RaggedTensor) else values

    @property
    def nested_row_splits(self):
        inner = self._values.nested_row_splits if isinstance(self._values, RaggedTensor) else ()
        return (self._row_splits,) + inner

    @property
    def ragged_rank(self):
        return len(self.nested_row_splits)

    @property
    def dtype(self):
        return self.flat_values.dtype

    @property
    def shape(self):
        """TensorShape([nrows, None, ...]): the ragged dimensions are None."""
        nrows = self._row_splits.shape[0]
        return TensorShape([None if nrows is None else nrows - 1, None] + list(self._values.shape[1:]))

    @property
    def ndim(self):
        return len(self.shape)

    def row_lengths(self, axis=1, name=None):
        if axis != 1:
            raise NotImplementedError("row_lengths(axis>1): call row_lengths() on rt.values instead")
        return self._row_splits[1:] - self._row_splits[:-1]

    def nested_row_lengths(self, name=None):
        inner = self._values.nested_row_lengths() if isinstance(self._values, RaggedTensor) else ()
        return (self.row_lengths(),) + inner

    def nrows(self, out_type=None, name=None):
        return S.shape(self._row_splits, out_type=out_type or self._row_splits.dtype)[0] - 1

    def with_flat_values(self, new_values):
        if isinstance(self._values, RaggedTensor):
            return RaggedTensor(self._values.with_flat_values(new_values), self._row_splits, internal=True)
        return RaggedTensor(convert_to_tensor(new_values), self._row_splits, internal=True)

    # ---- conversion ----
    def to_tensor(self, default_value=None, name=None, shape=None):
        """Dense, rows padded with default_value (0, b'' or False by default). `shape` fixes the
        dense dims (None entries: the longest row); longer rows are truncated, as in TF."""
        default = _python_default(default_value, self.dtype)
        widths = [None] * self.ragged_rank if shape is None else list(shape)[1:1 + self.ragged_rank]
        dense = self._values.to_tensor(default, shape=[None] + widths[1:]) if isinstance(
            self._values, RaggedTensor) else self._values
        return ragged_to_dense(dense, self._row_splits, default=default,
                               width=None if widths[0] is None else int(widths[0]))

    def to_list(self):
        """Nested Python lists of the values (eager only)."""
        self._require_eager("to_list()")
        values = self._values.to_list() if isinstance(self._values, RaggedTensor) else self._values.numpy().tolist()
        splits = self._row_splits.numpy().tolist()
        return [values[a:b] for a, b in zip(splits[:-1], splits[1:])]

    def numpy(self):
        """An object array of rows (NumPy arrays; object arrays of rows for more ragged dimensions)."""
        self._require_eager("numpy()")
        values, splits = self._values.numpy(), self._row_splits.numpy()
        out = np.empty(len(splits) - 1, dtype=object)
        for i in range(len(out)):
            out[i] = values[splits[i]:splits[i + 1]]
        return out

    def __getitem__(self, index):
        if not isinstance(index, (int, np.integer)):
            raise NotImplementedError("RaggedTensor indexing supports a single row index (rt[i]); use "
                                      "rt.to_tensor() for other slices")
        self._require_eager("indexing")
        splits = self._row_splits.numpy()
        rows = len(splits) - 1
        if not -rows <= index < rows:
            raise IndexError(f"row {index} is out of range for a RaggedTensor with {rows} rows")
        i = index % rows
        return self._values[int(splits[i]):int(splits[i + 1])] if not isinstance(
            self._values, RaggedTensor) else _ragged_rows(self._values, splits[i], splits[i + 1])

    def _require_eager(self, what):
        if not self._is_eager():
            raise ValueError(f"RaggedTensor.{what} is only supported in eager mode (inside @function use "
                             "rt.to_tensor(), rt.values and rt.row_lengths())")

    def _is_eager(self):
        return not any(t.is_symbolic for t in self.nested_row_splits + (self.flat_values,))

    def __repr__(self):
        if self._is_eager():
            return f"<tf.RaggedTensor {self.to_list()}>"
        return f"tf.RaggedTensor(values={self._values}, row_splits={self._row_splits})"

    __str__ = __repr__


def _ragged_rows(rt, start, stop):
    """Rows start:stop of a RaggedTensor (eager), as a RaggedTensor."""
    splits = rt.row_splits.numpy()[start:stop + 1]
    values = rt.values
    lo, hi = int(splits[0]), int(splits[-1])
    sliced = values[lo:hi] if not isinstance(values, RaggedTensor) else _ragged_rows(values, lo, hi)
    return RaggedTensor(sliced, Tensor(splits - splits[0]), internal=True)


def _nrows_of(values):
    if isinstance(values, RaggedTensor):
        n = values.row_splits.shape[0]
        return None if n is None else n - 1
    return values.shape[0] if values.ndim else None


def _python_default(value, dtype):
    if value is None:
        return b"" if dtype == dt.string else dtype.np.type(0)
    tensor = convert_to_tensor(value, dtype_hint=dtype)
    if tensor.is_symbolic or tensor.ndim:
        raise NotImplementedError("to_tensor(default_value=...) needs a scalar known while tracing")
    return tensor.numpy()


# ---- tf.ragged -------------------------------------------------------------------------------
def _depth(item):
    if isinstance(item, (list, tuple)):
        depths = {_depth(x) for x in item}
        if len(depths) > 1:
            raise ValueError("all scalar values must have the same nesting depth")
        return 1 + (depths.pop() if depths else 0)
    if isinstance(item, np.ndarray):
        return item.ndim
    return 0


def constant(pylist, dtype=None, ragged_rank=None, inner_shape=None, name=None, row_splits_dtype=dt.int64):
    """A RaggedTensor from nested Python lists: the outer `ragged_rank` levels (default: all but the
    innermost) are ragged, the rest form dense values."""
    depth = _depth(pylist)
    if ragged_rank is None:
        ragged_rank = max(0, depth - 1 - (len(inner_shape) if inner_shape is not None else 0))
    if ragged_rank == 0:
        return convert_to_tensor(pylist, dtype=dtype)
    if ragged_rank >= max(depth, 1):
        raise ValueError(f"ragged_rank={ragged_rank} must be less than the nesting depth {depth} of pylist")
    level, nested_lengths = list(pylist), []
    for _ in range(ragged_rank):
        nested_lengths.append(np.array([len(row) for row in level], dt.as_dtype(row_splits_dtype).np))
        level = [item for row in level for item in row]
    if level:
        values = convert_to_tensor(level, dtype=dtype)
    else:                                       # no values at all: TF's default dtype is float32
        values = Tensor(np.zeros((0,) + tuple(inner_shape or ()), (dt.as_dtype(dtype) if dtype else dt.float32).np))
    if inner_shape is not None and tuple(values.shape[1:]) != tuple(inner_shape):
        values = S.reshape(values, (-1,) + tuple(inner_shape))
    return RaggedTensor.from_nested_row_lengths(values, [Tensor(lengths) for lengths in nested_lengths])


def map_flat_values(op, *args, **kwargs):
    """Apply `op` to the flat values of the RaggedTensor arguments (which must share row partitions)."""
    ragged = next(a for a in list(args) + list(kwargs.values()) if isinstance(a, RaggedTensor))
    flat = [a.flat_values if isinstance(a, RaggedTensor) else a for a in args]
    flat_kwargs = {k: v.flat_values if isinstance(v, RaggedTensor) else v for k, v in kwargs.items()}
    return ragged.with_flat_values(op(*flat, **flat_kwargs))
