"""Tensor: an eager value (ndarray) or a symbolic value in a graph being traced."""
import numpy as np

from . import dtypes
from .errors import SymbolicNumpyError, SymbolicValueError
from .source_location import user_location


class TensorShape(tuple):
    """A tuple of dims (None = unknown) that compares equal to tuples and lists. TensorShape(None)
    has unknown rank: rank None, no length or iteration (ValueError, as in TF); in the IR such a
    value's shape is None."""
    _unknown_rank = False

    def __new__(cls, dims):
        if isinstance(dims, TensorShape):
            return dims
        if dims is None:
            shape = super().__new__(cls, ())
            shape._unknown_rank = True
            return shape
        return super().__new__(cls, (None if d is None else int(d) for d in dims))

    @property
    def rank(self):
        return None if self._unknown_rank else tuple.__len__(self)

    ndims = rank

    @property
    def dims(self):
        return None if self._unknown_rank else list(self)

    def as_list(self):
        if self._unknown_rank:
            raise ValueError("as_list() is not defined on an unknown TensorShape.")
        return list(self)

    def is_fully_defined(self):
        return not self._unknown_rank and all(d is not None for d in self)

    def num_elements(self):
        return int(np.prod(self, dtype=np.int64)) if self.is_fully_defined() else None

    def is_compatible_with(self, other):
        other = TensorShape(other)
        if self._unknown_rank or other._unknown_rank:
            return True
        return len(self) == len(other) and all(a is None or b is None or a == b for a, b in zip(self, other))

    def __len__(self):
        if self._unknown_rank:
            raise ValueError("Cannot take the length of shape with unknown rank.")
        return tuple.__len__(self)

    def __bool__(self):
        return tuple.__len__(self) > 0

    def __iter__(self):
        if self._unknown_rank:
            raise ValueError("Cannot iterate over a shape with unknown rank.")
        return tuple.__iter__(self)

    def __contains__(self, item):
        """`None in shape`: has unknown dims (always, when the rank is unknown)."""
        return item is None if self._unknown_rank else tuple.__contains__(self, item)

    def __getitem__(self, item):
        if self._unknown_rank:          # TF: an unknown dim, or an unknown shape for a slice
            return TensorShape(None) if isinstance(item, slice) else None
        result = tuple.__getitem__(self, item)
        return TensorShape(result) if isinstance(item, slice) else result

    def __eq__(self, other):
        if isinstance(other, TensorShape) and (self._unknown_rank or other._unknown_rank):
            return self._unknown_rank and other._unknown_rank
        if self._unknown_rank:
            return False if isinstance(other, (tuple, list)) else NotImplemented
        if isinstance(other, (tuple, list)):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    __hash__ = tuple.__hash__

    def __repr__(self):
        return "TensorShape(None)" if self._unknown_rank else f"TensorShape({list(self)})"

    def __str__(self):
        if self._unknown_rank:
            return "<unknown>"
        return "(" + ", ".join("None" if d is None else str(d) for d in self) + ("," if len(self) == 1 else "") + ")"


def known_dims(shape):
    """A shape (TensorShape, tuple, or None in the IR) as a tuple of dims, or None for unknown rank."""
    return None if shape is None or getattr(shape, "_unknown_rank", False) else tuple(shape)


def format_dims(shape):
    """'10,?' for dims with unknown ones, '*' for unknown rank (the IR printer and messages)."""
    dims = known_dims(shape)
    return "*" if dims is None else ",".join("?" if d is None else str(d) for d in dims)


def format_shape_dtype(shape, dtype):
    """'float32[10,10]', with '?' for unknown dims and [*] for unknown rank (retrace records, errors)."""
    return f"{dtype.name}[{format_dims(shape)}]"


class TensorSpec:
    """Describes a tensor argument: shape (None = any size) and dtype."""

    def __init__(self, shape, dtype=dtypes.float32, name=None):
        self.shape = TensorShape(shape)
        self.dtype = dtypes.as_dtype(dtype)
        self.name = name

    @classmethod
    def from_tensor(cls, tensor, name=None):
        return cls(tensor.shape, tensor.dtype, name)

    def is_compatible_with(self, value):
        return self.dtype == value.dtype and self.shape.is_compatible_with(value.shape)

    def __eq__(self, other):
        return isinstance(other, TensorSpec) and (self.shape, self.dtype, self.name) == (other.shape, other.dtype, other.name)

    def __hash__(self):
        return hash((self.shape, self.dtype, self.name))

    def __repr__(self):
        return f"TensorSpec(shape={self.shape}, dtype={self.dtype!r}, name={self.name!r})"


class TensorOperators:
    """Python operators shared by Tensor and Variable. The op registry installs them (ops/operators.py):
    each maps to one registered op, as TF's math_ops overrides Tensor's operators."""
    __array_priority__ = 100   # ndarray <op> Tensor defers to the Tensor's reflected operator

    def __hash__(self):
        if not _equality[0]:                  # TF1 semantics: tensors are dict keys by identity
            return id(self)
        raise TypeError(f"{type(self).__name__} is unhashable. Instead, use tensor.ref() as the key.")

    def ref(self):
        return _Ref(self)

    experimental_ref = ref


_equality = [True]


def enable_tensor_equality():
    """TF2: == compares elementwise and tensors are unhashable (tf.compat.v1.enable_tensor_equality)."""
    _equality[0] = True


def disable_tensor_equality():
    """TF1: == is identity and tensors hash by identity (feed_dict keys)."""
    _equality[0] = False


def tensor_equality_enabled():
    return _equality[0]


class _Ref:
    """Hashable reference to a Tensor/Variable (tensor.ref())."""
    __slots__ = ("_obj",)

    def __init__(self, obj):
        self._obj = obj

    def deref(self):
        return self._obj

    def __hash__(self):
        return id(self._obj)

    def __eq__(self, other):
        return isinstance(other, _Ref) and other._obj is self._obj


class Tensor(TensorOperators):
    """Eager: `_value` holds an ndarray. Symbolic: `_symbol` is an ir Value of the graph being traced."""

    _symbol = None

    def __init__(self, value=None, symbol=None, dtype=None):
        """dtype: only for values NumPy cannot tell apart (a variant is an object array, as strings are)."""
        self._value = value
        self._symbol = symbol
        if symbol is None:
            self._shape = TensorShape(value.shape)
            self._dtype = dtypes.as_dtype(value.dtype) if dtype is None else dtype
        else:
            self._shape = TensorShape(symbol.shape)
            self._dtype = symbol.dtype

    @classmethod
    def _wrap(cls, array):
        """Fast constructor for a result array the backend produced (known dtype, int dims)."""
        tensor = cls.__new__(cls)
        tensor._value, tensor._symbol = array, None
        tensor._shape = tuple.__new__(TensorShape, array.shape)
        tensor._dtype = dtypes.as_dtype(array.dtype)
        return tensor

    @property
    def shape(self):
        return self._shape

    def get_shape(self):
        return self._shape

    @property
    def dtype(self):
        return self._dtype

    @property
    def ndim(self):
        return self._shape.rank

    @property
    def is_symbolic(self):
        return self._symbol is not None

    @property
    def name(self):
        if self._symbol is None:
            raise AttributeError("Tensor.name is meaningless when eager execution is enabled.")
        if self._symbol.name:           # one of several outputs is named "op:index" already
            return self._symbol.name if ":" in self._symbol.name else f"{self._symbol.name}:0"
        node = self._symbol.node
        return f"{node.op if node is not None else 'input'}_{self._symbol.id}:0"

    @property
    def device(self):
        return "/job:localhost/replica:0/task:0/device:CPU:0"

    # ---- concrete values ----
    def _concrete(self, what, fixes=None):
        if self._symbol is not None:
            raise SymbolicValueError(symbolic_value_message(self, what, fixes))
        return self._value

    @property
    def numpy(self):
        """The value as NumPy (a 0-d value as a NumPy scalar), a copy as in TF: mutating it never changes
        the tensor. Symbolic tensors have no `numpy`: the lookup raises an AttributeError
        (SymbolicNumpyError), as TF's symbolic tensors do."""
        if self._symbol is not None:
            raise SymbolicNumpyError(symbolic_value_message(
                self, ".numpy()", "return the tensor from the @function and call .numpy() on the result"))
        return self._numpy

    def _numpy(self):
        value = self._value
        return value[()] if value.ndim == 0 else value.copy()

    def __array__(self, dtype=None, copy=None):
        """NumPy interop without a copy: a read-only view, so writing through it raises instead of
        silently changing the tensor (np.array(t) gives a writable copy)."""
        value = self._concrete("conversion to a NumPy array",
                               "use tracejit ops instead of NumPy functions inside @function")
        if copy or (dtype is not None and np.dtype(dtype) != value.dtype):
            return np.array(value, dtype=dtype)
        view = value.view()
        view.flags.writeable = False
        return view

    def _scalar(self, what):
        value = self._concrete(what)
        if value.size != 1:
            raise ValueError(f"{what} needs a tensor with one element, got shape {self.shape}")
        return value.reshape(())[()]

    def __bool__(self):
        if self._symbol is None and self._value.size != 1:
            raise ValueError(f"The truth value of a tensor with shape {self.shape} is ambiguous; "
                             "use tracejit.reduce_any or tracejit.reduce_all")
        return bool(self._scalar("bool()"))

    def __int__(self):
        return int(self._scalar("int()"))

    def __float__(self):
        return float(self._scalar("float()"))

    def __index__(self):
        if not self._dtype.is_integer:
            raise TypeError(f"only integer scalar tensors can be used as an index, got {self._dtype.name}")
        return int(self._scalar("use as an index"))

    def __len__(self):
        self._concrete("len()", "use x.shape[0] for a static size or tracejit.shape(x)[0]")
        if not self._shape:
            raise TypeError("len() of a 0-d tensor")
        return self._shape[0]

    def __iter__(self):
        self._concrete("iteration", "use tracejit.unstack(x) for a fixed size, or vectorize the loop body")
        if not self._shape:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._shape[0]))

    def __repr__(self):
        if self._symbol is not None:
            return f'<tf.Tensor "{self.name}" shape={self._shape} dtype={self._dtype.name}>'
        return f"<tf.Tensor: shape={self._shape}, dtype={self._dtype.name}, numpy={_numpy_repr(self._value)}>"

    def __str__(self):
        if self._symbol is not None:      # TF leaves out the shape when the rank is unknown
            shape = f", shape={self._shape}" if self._shape.rank is not None else ""
            return f'Tensor("{self.name}"{shape}, dtype={self._dtype.name})'
        return f"tf.Tensor({_numpy_str(self._value)}, shape={self._shape}, dtype={self._dtype.name})"

    def __format__(self, spec):
        if spec and self._symbol is None and self._value.ndim == 0:
            return format(self._value[()], spec)
        return str(self) if not spec else format(str(self), spec)

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self if self._symbol is not None else Tensor(self._value.copy())


def _numpy_repr(value):
    """TF's numpy text for repr: an array that prints on one line stays on the line."""
    if value.ndim == 0:
        scalar = value[()]
        return repr(scalar) if isinstance(scalar, bytes) else str(scalar)
    text = np.array_repr(value)
    return "\n" + text if "\n" in text else text


def _numpy_str(value):
    text = str(value) if value.ndim else _numpy_repr(value)
    return ("\n" + text) if "\n" in text else text


def symbolic_value_message(tensor, what, fixes=None):
    """The TracingError text for needing a concrete value from a symbolic tensor."""
    fix = ("use tracejit.where(cond, x, y) for elementwise choices, tracejit.cond(pred, true_fn, false_fn) "
           "for branches, or pass the value as a Python scalar (a static argument: one trace per value)")
    if fixes:
        fix = f"{fixes}; otherwise {fix}"
    return (f"{what} of a symbolic tensor (shape={tensor.shape}, dtype={tensor.dtype.name}) at "
            f"{user_location()} while tracing a @function: its value is not known until the compiled "
            f"graph runs. Fix: {fix}.")

