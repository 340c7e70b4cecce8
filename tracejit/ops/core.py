"""The op registry: every user-facing primitive, declared once. A declaration gives the type
rule (the decorated function), the NumPy implementation and the vjp; that one declaration
serves eager execution, tracing and autodiff. Backends lower ops through their own tables.

    @op("add", kind=ELEMENTWISE, dtypes=NUMERIC)
    def add(x, y): return broadcast_shapes("add", x.shape, y.shape), x.dtype   # type rule
    add.impl = np.add
    add.vjp = lambda g, x, y, out: (sum_to(g, x), sum_to(g, y))

Positional arguments of an op are tensors; keyword arguments are static params.
"""
import numpy as np

from .. import dtypes as _dt
from ..errors import InvalidArgumentError, TracingError
from ..context import bind
from ..primitive import ELEMENTWISE, Primitive
from ..tensor import Tensor

REGISTRY = {}


class Op(Primitive):
    """A registered primitive users call: Python values are converted to tensors first."""

    def __call__(self, *args, name=None, **params):
        return bind(self, convert_inputs(self, args), params)


def op(name, kind=ELEMENTWISE, **traits):
    """Declare an op: decorates its type rule. `traits` are Primitive's keyword arguments."""
    def register(rule):
        if name in REGISTRY:
            raise ValueError(f"op {name!r} is declared twice")
        prim = REGISTRY[name] = Op(name, rule, kind, **traits)
        return prim
    return register


# ---------------------------------------------------------------- conversion
def _is_tensor_like(x):
    return isinstance(x, Tensor) or hasattr(x, "_as_tensor")


def _python_array(value):
    """ndarray from Python values; strings become object arrays of bytes like TF (never NumPy's
    fixed-width bytes, which drop trailing NUL bytes and turn numbers mixed with strings into
    strings). Values TF cannot convert (arbitrary objects, None, ragged nesting, numbers mixed with
    strings) raise TF's ValueError."""
    try:
        array = np.asarray(value)
    except ValueError:
        raise ValueError(f"Can't convert non-rectangular Python sequence to Tensor: {_short(value)}") from None
    if array.dtype.kind in "US" and not isinstance(value, np.ndarray):
        array = np.array(value, dtype=object)
    if array.dtype.kind == "O":
        _check_object_elements(value, array)
    if array.dtype.kind in "USO":
        encode = np.vectorize(lambda s: s.encode() if isinstance(s, str) else s, otypes=[object])
        array = encode(array) if array.size else array.astype(object)
    return array


def _check_object_elements(value, array):
    """An object array converts only when it holds strings (a string tensor). The error names the
    first element that is no number, bool or string, else the first one that is no string."""
    elements = array.reshape(-1).tolist()
    if all(isinstance(e, (str, bytes)) for e in elements):
        return
    unsupported = [e for e in elements if not isinstance(e, (str, bytes, bool, int, float, np.generic))]
    if not unsupported and array.ndim and not isinstance(value, np.ndarray):
        raise ValueError(f"Can't convert Python sequence with mixed types to Tensor: {_short(value)}")
    offending = unsupported[0] if unsupported else next(e for e in elements if not isinstance(e, (str, bytes)))
    if array.ndim == 0:
        raise ValueError(f"Attempt to convert a value ({_short(value)}) with an unsupported type "
                         f"({type(offending)}) to a Tensor.")
    raise ValueError(f"Failed to convert a NumPy array to a Tensor (Unsupported object type "
                     f"{type(offending).__name__}): {_short(value)}")


def _convertible(src, dst):
    if src == dst:
        return True
    if src.kind in "sb" or dst.kind in "sb":
        return False
    if src.is_complex:
        return dst.is_complex
    if src.is_floating:
        return dst.is_floating or dst.is_complex    # floats never silently become ints
    return True                                     # ints -> ints, floats or complex


def convert_to_tensor(value, dtype=None, dtype_hint=None, name=None):
    """TF conversion: tensors keep their dtype; ndarrays keep theirs; Python int -> int32,
    float -> float32, complex -> complex128, str/bytes -> string; `dtype` is required, `dtype_hint`
    is used when the value allows it."""
    dtype = _dt.as_dtype(dtype) if dtype is not None else None
    if _is_tensor_like(value):
        tensor = value if isinstance(value, Tensor) else value._as_tensor()
        if dtype is not None and tensor.dtype != dtype:
            raise InvalidArgumentError(
                f"Tensor conversion requested dtype {dtype.name} for a tensor of dtype {tensor.dtype.name}")
        return tensor
    if isinstance(value, (list, tuple)) and value and any(_is_tensor_like(v) for v in _flat(value)):
        return _packing[0]([convert_to_tensor(v, dtype, dtype_hint) for v in value])
    from_python = not isinstance(value, (np.ndarray, np.generic))
    array = _python_array(value)
    natural = _dt.default_dtype_for_array(array) if from_python else _dt.as_dtype(array.dtype)
    empty_python = from_python and array.size == 0 and natural.kind not in "sb"    # [] takes any numeric dtype
    if dtype is not None:
        if from_python and not empty_python and not _convertible(natural, dtype):
            raise TypeError(f"Cannot convert {_short(value)} to a tensor of dtype {dtype.name}")
        target = dtype
    elif dtype_hint is not None and (empty_python or _convertible(natural, _dt.as_dtype(dtype_hint))):
        target = _dt.as_dtype(dtype_hint)
    elif dtype_hint is not None and from_python:
        raise TypeError(f"Cannot convert {_short(value)} to a tensor of dtype {_dt.as_dtype(dtype_hint).name}")
    else:
        target = natural
    if from_python and target.is_integer and array.size and array.dtype.kind in "iu":
        info = np.iinfo(target.np)
        if array.min() < info.min or array.max() > info.max:
            raise TypeError(f"Cannot convert {_short(value)} to {target.name}: value out of range")
    # A tensor owns its values, as in TF: an ndarray is copied (mutating it later must not change
    # the tensor), and into the native byte order, the only one the compiled kernels handle.
    # Arrays built from Python values are new already.
    own = np.asarray if from_python else np.array
    return Tensor(own(array, dtype=object if target.kind == "s" else target.np))


def _unregistered_packing(tensors):
    raise NotImplementedError("packing a list of tensors needs the stack op (tracejit.ops.array)")


_packing = [_unregistered_packing]


def register_list_packing(stack):
    """convert_to_tensor([t1, t2, ...]) with tensors inside stacks them: the array ops register
    `stack` here (as TF's array_ops registers its autopacking conversion), keeping core below them."""
    _packing[0] = stack


def _flat(value):
    for v in value:
        if isinstance(v, (list, tuple)):
            yield from _flat(v)
        else:
            yield v


def _short(value):
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."


def convert_matching(values):
    """Values converted to one dtype, as TF's args_to_matching_eager: tensors keep theirs, other
    values take the dtype of the first tensor (so `t + 10` is float32 when t is), or with no
    tensor the dtype of the first value (`maximum(0., [1, -1])` is float32)."""
    hint = next((v.dtype for v in values if _is_tensor_like(v)), None)
    tensors = []
    for v in values:
        tensor = convert_to_tensor(v, dtype_hint=hint)
        hint = hint or tensor.dtype
        tensors.append(tensor)
    return tensors


def convert_inputs(prim, args):
    """The op's arguments as tensors: its same-dtype group converted by convert_matching."""
    group = prim.dtype_group(len(args))
    matched = iter(convert_matching([args[i] for i in group]))
    return [next(matched) if i in group else convert_to_tensor(a) for i, a in enumerate(args)]


def static_shape(op_name, shape, allow_inferred=False):
    """A shape given as list/tuple/ndarray/eager tensor -> tuple of ints. Dims must be integers
    (TF refuses 2.5 or True rather than truncating them) and >= 0; with `allow_inferred` (reshape)
    one dim may be -1 or None, the size to infer."""
    if isinstance(shape, Tensor):
        if shape.is_symbolic:
            raise TracingError(f"{op_name}: the target shape must be known while tracing; got a symbolic "
                               f"tensor. Pass a Python list/tuple (use None-free static shapes).")
        shape = shape.numpy()
    if isinstance(shape, np.ndarray):
        shape = shape.tolist()
    if isinstance(shape, (int, np.integer)):
        shape = [shape]
    if not isinstance(shape, (list, tuple)):
        raise TypeError(f"{op_name}: shape must be a list of integers, got {_short(shape)}")
    return tuple(_dimension(op_name, shape, d, allow_inferred) for d in shape)


def _dimension(op_name, shape, d, allow_inferred):
    if d is None and allow_inferred:
        return -1
    if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)):
        raise TypeError(f"{op_name}: shape must be a list of integers, got {list(shape)} "
                        f"({d!r} is a {type(d).__name__})")
    if d < 0 and not (d == -1 and allow_inferred):
        raise InvalidArgumentError(f"{op_name}: dimension {d} in shape {list(shape)} must be >= 0")
    return int(d)


