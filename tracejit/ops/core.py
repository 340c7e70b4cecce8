"""The op registry: one Primitive per op, declared once, serving eager execution (`impl`),
tracing (graph nodes), autodiff (`vjp`) and lowering (`expr`/`lowering`).

    @op("add", kind="elementwise", expr="{0} + {1}", dtypes=NUMERIC)
    def add(x, y): return broadcast_shapes("add", x.shape, y.shape), x.dtype   # type rule
    add.impl = np.add
    add.vjp = lambda g, x, y, out: (unbroadcast(g, x), unbroadcast(g, y))

Positional arguments of a primitive are tensors; keyword arguments are static params.
"""
import numpy as np

from .. import dtypes as _dt
from ..errors import InvalidArgumentError, LeakedTensorError
from ..ir.graph import current_graph
from ..source_location import user_location
from ..tensor import Tensor

REGISTRY = {}
active_tapes = []     # GradientTapes currently recording (autodiff.py pushes/pops)


class Primitive:
    def __init__(self, name, rule, kind, expr, same_dtype, dtypes, differentiable, stateful, sample, domain):
        self.name = self.__name__ = name
        self.__doc__ = rule.__doc__
        self.rule = rule                      # (*inputs, **params) -> (shape, DType)
        self.kind = kind                      # elementwise | reduction | matmul | shape | random | index | ...
        self.expr = expr                      # elementwise lowering template, e.g. "{0} + {1}"
        self.same_dtype = same_dtype          # "all", or indices of inputs that share one dtype
        self.dtypes = dtypes                  # allowed dtypes of those inputs (None: any)
        self.differentiable = differentiable
        self.stateful = stateful              # never folded, deduplicated or cached (random)
        self.sample = sample                  # test-input family for the registry-wide tests
        self.domain = domain                  # (low, high) of valid float inputs, for tests
        self.impl = None                      # NumPy implementation: (*arrays, **params) -> ndarray
        self.vjp = None                       # (g, *inputs, out, **params) -> tuple of input grads
        self.lowering = None                  # backend slot, filled by the Numba backend

    def __call__(self, *args, name=None, **params):
        return bind(self, convert_inputs(self, args), params)

    def dtype_group(self, n_inputs):
        return tuple(range(n_inputs)) if self.same_dtype == "all" else tuple(self.same_dtype)

    def __repr__(self):
        return f"<op {self.name}>"


def op(name, kind="elementwise", expr=None, same_dtype="all", dtypes=None, differentiable=True,
       stateful=False, sample=None, domain=None):
    """Declare a primitive: decorates its type rule."""
    def register(rule):
        if name in REGISTRY:
            raise ValueError(f"op {name!r} is declared twice")
        prim = Primitive(name, rule, kind, expr, same_dtype, dtypes, differentiable, stateful, sample, domain)
        REGISTRY[name] = prim
        return prim
    return register


# ---------------------------------------------------------------- conversion
def _is_tensor_like(x):
    return isinstance(x, Tensor) or hasattr(x, "_as_tensor")


def _python_array(value):
    """ndarray from Python values; strings become object arrays of bytes like TF."""
    array = np.asarray(value)
    if array.dtype.kind in "US":
        encode = np.vectorize(lambda s: s.encode() if isinstance(s, str) else s, otypes=[object])
        array = encode(array) if array.size else array.astype(object)
    return array


def _convertible(src, dst, from_python):
    if src == dst:
        return True
    if src.kind == "s" or dst.kind == "s" or src.is_bool or dst.is_bool:
        return False
    if src.is_floating:
        return dst.is_floating                      # floats never silently become ints
    return not from_python or dst.is_numeric       # ints -> ints or floats


def convert_to_tensor(value, dtype=None, dtype_hint=None, name=None):
    """TF conversion: tensors keep their dtype; ndarrays keep theirs; Python int -> int32,
    float -> float32; `dtype` is required, `dtype_hint` is used when the value allows it."""
    dtype = _dt.as_dtype(dtype) if dtype is not None else None
    if _is_tensor_like(value):
        tensor = value if isinstance(value, Tensor) else value._as_tensor()
        if dtype is not None and tensor.dtype != dtype:
            raise InvalidArgumentError(
                f"Tensor conversion requested dtype {dtype.name} for a tensor of dtype {tensor.dtype.name}")
        return tensor
    if isinstance(value, (list, tuple)) and value and any(_is_tensor_like(v) for v in _flat(value)):
        from .array import stack
        return stack([convert_to_tensor(v, dtype, dtype_hint) for v in value])
    from_python = not isinstance(value, (np.ndarray, np.generic))
    array = _python_array(value)
    natural = _dt.default_dtype_for_array(array) if from_python else _dt.as_dtype(array.dtype)
    if dtype is not None:
        if from_python and not _convertible(natural, dtype, True) and not (natural.is_integer and dtype.is_integer):
            raise TypeError(f"Cannot convert {_short(value)} to a tensor of dtype {dtype.name}")
        target = dtype
    elif dtype_hint is not None and _convertible(natural, _dt.as_dtype(dtype_hint), from_python):
        target = _dt.as_dtype(dtype_hint)
    elif dtype_hint is not None and from_python:
        raise TypeError(f"Cannot convert {_short(value)} to a tensor of dtype {_dt.as_dtype(dtype_hint).name}")
    else:
        target = natural
    if from_python and target.is_integer and array.size and array.dtype.kind in "iu":
        info = np.iinfo(target.np)
        if array.min() < info.min or array.max() > info.max:
            raise TypeError(f"Cannot convert {_short(value)} to {target.name}: value out of range")
    if target.kind == "s":
        return Tensor(array)
    return Tensor(np.asarray(array, dtype=target.np))


def _flat(value):
    for v in value:
        if isinstance(v, (list, tuple)):
            yield from _flat(v)
        else:
            yield v


def _short(value):
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."


def convert_inputs(prim, args):
    """Tensors keep their dtype; other values take the dtype of the first tensor in the op's
    same-dtype group (so `t + 10` is float32 when t is), else TF's defaults."""
    group = prim.dtype_group(len(args))
    hint = next((a.dtype for i, a in enumerate(args) if i in group and _is_tensor_like(a)), None)
    return [convert_to_tensor(a, dtype_hint=hint if i in group else None) for i, a in enumerate(args)]


# ---------------------------------------------------------------- binding
def apply_impl(impl, arrays, params, np_dtype):
    """An op's NumPy result in the dtype its type rule promises (NumPy may differ, e.g. int / int)."""
    result = np.asarray(impl(*arrays, **params))
    return result if result.dtype == np_dtype else result.astype(np_dtype)


def bind(prim, inputs, params):
    """Run (eager) or record (tracing) one primitive; then let active tapes record it."""
    group = prim.dtype_group(len(inputs))
    if group:
        from .rules import same_dtype
        dtype = same_dtype(prim.name, *(inputs[i] for i in group))
        if prim.dtypes is not None and dtype not in prim.dtypes:
            raise InvalidArgumentError(
                f"{prim.name} does not support dtype {dtype.name} (supported: "
                f"{', '.join(d.name for d in prim.dtypes)})")
    shape, dtype = prim.rule(*inputs, **params)
    graph = current_graph()
    if graph is None:
        arrays = [_eager_value(t, prim) for t in inputs]
        with np.errstate(all="ignore"):
            result = apply_impl(prim.impl, arrays, params, dtype.np)
        if len(result.shape) != len(shape) or any(d is not None and d != r for d, r in zip(shape, result.shape)):
            raise AssertionError(f"op {prim.name}: type rule says shape {shape}, impl gave {result.shape}")
        out = Tensor(result)
    else:
        symbols = [_graph_value(graph, t, prim) for t in inputs]
        out = Tensor(symbol=graph.add_node(prim.name, prim, symbols, params, shape, dtype, user_location()))
    for tape in tuple(active_tapes):
        tape._record(prim, inputs, params, out)
    return out


def _eager_value(tensor, prim):
    if tensor._symbol is not None:
        raise LeakedTensorError(
            f"{prim.name} at {user_location()} received a symbolic tensor (shape={tensor.shape}, "
            f"dtype={tensor.dtype.name}) outside the @function trace that created it. Return it from the "
            "function instead of keeping it in a Python variable.")
    return tensor._value


def _graph_value(graph, tensor, prim):
    if tensor._symbol is None:
        return graph.constant(tensor._value, user_location())
    if tensor._symbol.graph is not graph:
        raise LeakedTensorError(
            f"{prim.name} at {user_location()} received a symbolic tensor from another trace "
            f"(graph '{tensor._symbol.graph.name}'); tensors cannot be carried between traces.")
    return tensor._symbol


def notify_variable_read(variable, tensor):
    for tape in tuple(active_tapes):
        tape._on_variable_read(variable, tensor)
