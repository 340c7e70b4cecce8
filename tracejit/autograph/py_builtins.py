"""Builtins that cannot take a symbolic tensor as they are, and the symbolic iterables a
converted `for` loop stages as a while_loop.

`range(n)`, `tf.range(n)` with a symbolic `n` cannot be a tensor here (its length is unknown
while tracing), so converted code gets a `SymbolicRange`, which only a `for` loop can consume
(TF does the same: its for loop elides range tensors). `enumerate(t)` and `len(t)` of a
symbolic tensor work as TF's AutoGraph overloads do. `print` with a symbolic tensor among its
arguments prints when the graph runs (a numpy_function), with the tensors' NumPy values, as TF's
AutoGraph does; without tensors it is Python's print, run while tracing.
"""
import abc
import builtins

from ..errors import TracingError
from ..ops import array as _array
from ..ops import core as _core
from ..ops import elementwise as _ew
from ..tensor import Tensor
from .. import dtypes as _dt

NOT_OVERLOADED = object()


def overload(f, args, kwargs):
    """The result of f(*args, **kwargs) when f is a builtin that needs a tensor-aware form for
    these arguments, else NOT_OVERLOADED."""
    if f is builtins.range or f is _array.arange:
        if any(_is_symbolic(a) for a in list(args) + list(kwargs.values())):
            return SymbolicRange.from_arguments(*args, **kwargs)
    elif f is builtins.enumerate:
        iterable = args[0] if args else kwargs.get("iterable")
        if isinstance(iterable, StagedIterable) or _is_symbolic(iterable):
            start = args[1] if len(args) > 1 else kwargs.get("start", 0)
            return SymbolicEnumerate(staged_iterable(iterable), start)
    elif f is builtins.len and len(args) == 1 and _is_symbolic(args[0]):
        return _symbolic_len(_core.convert_to_tensor(args[0]))
    elif f is builtins.print and any(_is_symbolic(a) for a in args):
        return _staged_print(args, kwargs)
    return NOT_OVERLOADED


def _staged_print(args, kwargs):
    """print(*args) when the graph runs: tensors as NumPy values, byte strings decoded."""
    from ..script_ops import numpy_function
    unknown = set(kwargs) - {"sep", "end", "file", "flush"}
    if unknown:
        raise ValueError(f"invalid keyword arguments: {sorted(unknown)}")
    kwargs = {"flush": True, **kwargs}
    symbolic = [i for i, a in enumerate(args) if _is_symbolic(a)]

    def print_values(*values):
        shown = list(args)
        for i, value in zip(symbolic, values):
            shown[i] = value.decode("utf-8") if isinstance(value, bytes) else value
        builtins.print(*shown, **kwargs)
    numpy_function(print_values, [args[i] for i in symbolic], None)


def _is_symbolic(value):
    if isinstance(value, Tensor):
        return value.is_symbolic
    return hasattr(value, "_as_tensor") and value._as_tensor().is_symbolic


def _symbolic_len(tensor):
    if tensor.ndim == 0:
        raise TypeError("len() of a 0-d tensor")
    if tensor.shape[0] is not None:
        return tensor.shape[0]
    return _array.shape(tensor)[0]


def staged_iterable(value):
    """The StagedIterable a converted for loop uses for a symbolic iterable."""
    if isinstance(value, StagedIterable):
        return value
    return TensorRows(_core.convert_to_tensor(value))


class StagedIterable(abc.ABC):
    """Iteration as loop state: an index tensor with a test, the element it selects, the step
    to the next index, and an iteration bound for the while_loop."""

    @abc.abstractmethod
    def initial_index(self):
        """The index of the first element."""

    @abc.abstractmethod
    def has_next(self, index):
        """A bool tensor: does `index` select an element?"""

    @abc.abstractmethod
    def element(self, index):
        """The element `index` selects (what the loop target is set to)."""

    @abc.abstractmethod
    def advance(self, index):
        """The index of the next element."""

    @abc.abstractmethod
    def position(self, index):
        """0, 1, 2... for the successive indices (what enumerate counts)."""

    @abc.abstractmethod
    def maximum_iterations(self):
        """An upper bound of the number of elements, for the while_loop."""

    def __iter__(self):
        raise TracingError(f"{type(self).__name__} has symbolic bounds, so it can only be iterated by a `for` "
                           "loop that AutoGraph converts (inside @function), which stages it as a while_loop")


class TensorRows(StagedIterable):
    """`for row in tensor`: the slices along the first dimension."""

    def __init__(self, tensor):
        if tensor.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        self.tensor = tensor
        n = tensor.shape[0]
        self.length = _core.convert_to_tensor(n) if n is not None else _array.shape(tensor)[0]

    def initial_index(self):
        return _core.convert_to_tensor(0)

    def has_next(self, index):
        return _ew.less(index, self.length)

    def element(self, index):
        return _array.gather(self.tensor, index)

    def advance(self, index):
        return index + 1

    def position(self, index):
        return index

    def maximum_iterations(self):
        return self.length


class SymbolicRange(StagedIterable):
    """range(start, limit, delta) where some bound is a symbolic tensor."""

    def __init__(self, start, limit, delta, dtype):
        self.start, self.limit, self.delta, self.dtype = start, limit, delta, dtype

    @classmethod
    def from_arguments(cls, start, limit=None, delta=1, dtype=None, name=None):
        if limit is None:
            start, limit = 0, start
        values = [_core.convert_to_tensor(v) for v in (start, limit, delta)]
        if any(not v.dtype.is_integer and not v.dtype.is_floating for v in values):
            raise TypeError(f"range: bounds must be numbers, got dtypes {[v.dtype.name for v in values]}")
        if dtype is None:
            dtype = _dt.float32 if any(v.dtype.is_floating for v in values) else _dt.int32
            if any(v.dtype in (_dt.float64, _dt.int64) for v in values):
                dtype = _dt.float64 if dtype.is_floating else _dt.int64
        dtype = _dt.as_dtype(dtype)
        start, limit, delta = [v if v.dtype == dtype else _ew.cast(v, dtype) for v in values]
        return cls(start, limit, delta, dtype)

    def initial_index(self):
        return self.start

    def has_next(self, index):
        if not self.delta.is_symbolic:
            step = self.delta.numpy()
            if step == 0:
                raise ValueError("range() arg 3 must not be zero")
            return _ew.less(index, self.limit) if step > 0 else _ew.greater(index, self.limit)
        upward = _ew.logical_and(_ew.greater(self.delta, 0), _ew.less(index, self.limit))
        downward = _ew.logical_and(_ew.less(self.delta, 0), _ew.greater(index, self.limit))
        return _ew.logical_or(upward, downward)

    def element(self, index):
        return index

    def advance(self, index):
        return index + self.delta

    def position(self, index):
        return _ew.cast(_steps(index - self.start, self.delta, self.dtype), _dt.int32)

    def maximum_iterations(self):
        count = _steps(self.limit - self.start, self.delta, self.dtype, rounding_up=True)
        return _ew.cast(_ew.maximum(count, _core.convert_to_tensor(0, dtype=count.dtype)), _dt.int32)

    def _unsupported(self, *args, **kwargs):
        raise TracingError("range() / tf.range() with a symbolic bound is not a tensor here (its length is unknown "
                           "while tracing): it can only be iterated by a `for` loop, which AutoGraph stages as a "
                           "while_loop; pass Python numbers for a range used as a tensor")
    # Used any other way (as an op input, in arithmetic, indexed, sized), it says so.
    _as_tensor = __array__ = __len__ = __getitem__ = __bool__ = _unsupported
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _unsupported


def _steps(distance, delta, dtype, rounding_up=False):
    """distance / delta, rounded down (or up)."""
    if dtype.is_floating:
        ratio = distance / delta
        return _ew.ceil(ratio) if rounding_up else _ew.floor(ratio)
    if rounding_up:
        distance = distance + delta - _ew.sign(delta)
    return _ew.floordiv(distance, delta)


class SymbolicEnumerate(StagedIterable):
    """enumerate() of a symbolic tensor or range: elements are (count, item)."""

    def __init__(self, inner, start):
        self.inner, self.start = inner, start

    def initial_index(self):
        return self.inner.initial_index()

    def has_next(self, index):
        return self.inner.has_next(index)

    def element(self, index):
        count = self.inner.position(index)
        if not (isinstance(self.start, int) and self.start == 0):
            count = count + self.start
        return count, self.inner.element(index)

    def advance(self, index):
        return self.inner.advance(index)

    def position(self, index):
        return self.inner.position(index)

    def maximum_iterations(self):
        return self.inner.maximum_iterations()
