"""Cache keys for @function calls: the nested structure of args/kwargs with, for each leaf,
dtype+shape (tensors, ndarrays), value (Python scalars, strings, None), or identity (Variables
and other objects). Also describes leaves for retrace explanations."""
import functools
import inspect
import weakref

import numpy as np

from .. import dtypes as dt
from ..tensor import Tensor, TensorSpec, format_shape_dtype, known_dims
from ..variables import Variable

TENSOR, STATIC, CAPTURED = "tensor", "static", "captured"


class Leaf:
    """One flattened argument: kind, path (for messages), key part, and the value to pass."""
    __slots__ = ("kind", "path", "key", "value", "spec")

    def __init__(self, kind, path, key, value, spec=None):
        self.kind, self.path, self.key, self.value, self.spec = kind, path, key, value, spec

    def describe(self):
        if self.kind == TENSOR:
            return format_shape_dtype(self.spec.shape, self.spec.dtype)
        if self.kind == CAPTURED:
            return f"<{type(self.value).__name__} at {id(self.value):#x}>"
        return repr(self.value)


def without_tensor_values(leaves):
    """The leaves a Function keeps to explain later retraces. Tensor leaves lose their arrays (only
    dtype and shape matter there), so a trace never keeps a call's arguments alive. Captured objects
    stay: the cache key holds their id, and keeping them alive keeps that id from being reused."""
    return [Leaf(leaf.kind, leaf.path, leaf.key, None, leaf.spec) if leaf.kind == TENSOR else leaf
            for leaf in leaves]


def _tensor_leaf(path, array_or_tensor, spec=None):
    if isinstance(array_or_tensor, Tensor):
        array = array_or_tensor._value
    else:
        array = dt.native_byte_order(np.asarray(array_or_tensor))     # e.g. '>i4' data read from a file
    spec = spec or TensorSpec(array.shape, dt.as_dtype(array.dtype))
    return Leaf(TENSOR, path, ("T", spec.dtype.name, tuple(spec.shape)), array, spec)


def flatten(value, path, leaves):
    """Append the leaves of `value` to `leaves`; return the structure key."""
    if isinstance(value, Tensor) or isinstance(value, np.ndarray) or isinstance(value, np.generic):
        leaf = _tensor_leaf(path, value)
    elif isinstance(value, TensorSpec):
        leaf = Leaf(TENSOR, path, ("T", value.dtype.name, known_dims(value.shape)), None, value)
    elif isinstance(value, Variable):
        leaf = Leaf(CAPTURED, path, ("V", id(value)), value)
    elif value is None or isinstance(value, (bool, int, float, str, bytes, complex)):
        leaf = Leaf(STATIC, path, ("P", type(value).__name__, value), value)
    elif isinstance(value, dict):
        return ("dict",) + tuple((k, flatten(value[k], f"{path}[{k!r}]", leaves)) for k in sorted(value))
    elif isinstance(value, (list, tuple)):
        return (type(value).__name__,) + tuple(flatten(v, f"{path}[{i}]", leaves) for i, v in enumerate(value))
    else:
        leaf = Leaf(CAPTURED, path, ("O", type(value).__name__, id(value)), value)
    leaves.append(leaf)
    return leaf.key


def argument_tensors(bound):
    """The tensor leaves of a call as the caller passed them (Tensors; arrays converted), in the order
    of `call_leaves`: what an eager tape recording the call knows."""
    tensors = []

    def visit(value):
        if isinstance(value, dict):
            for k in sorted(value):
                visit(value[k])
        elif isinstance(value, (list, tuple)):
            for v in value:
                visit(v)
        elif isinstance(value, Tensor):
            tensors.append(value)
        elif isinstance(value, (np.ndarray, np.generic)):
            tensors.append(Tensor(dt.native_byte_order(np.asarray(value))))
    for value in bound.arguments.values():
        visit(value)
    return tensors


def rebuild_arguments(bound, next_leaf):
    """(args, kwargs) for calling the function again with the same structure, each leaf replaced
    by next_leaf(), called in flatten order (dicts by sorted key)."""
    def rebuild(value):
        if isinstance(value, dict):
            rebuilt = {k: rebuild(value[k]) for k in sorted(value)}
            return {k: rebuilt[k] for k in value}
        if isinstance(value, (list, tuple)):
            items = [rebuild(v) for v in value]
            return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
        return next_leaf()
    args, kwargs = [], {}
    for param in bound.signature.parameters.values():
        if param.name not in bound.arguments:
            continue
        value = rebuild(bound.arguments[param.name])
        if param.kind == param.VAR_POSITIONAL:
            args.extend(value)
        elif param.kind == param.VAR_KEYWORD:
            kwargs.update(value)
        elif param.kind == param.KEYWORD_ONLY:
            kwargs[param.name] = value
        else:
            args.append(value)
    return args, kwargs


def weak_method(function, instance):
    """`function` bound to `instance` without keeping it alive (for @function on methods): the bound
    Function is the value of a WeakKeyDictionary keyed by the instance, and a strong reference from
    there would keep the instance, its variables and all its traces alive forever."""
    instance_ref = weakref.ref(instance)

    @functools.wraps(function)
    def method(*args, **kwargs):
        return function(instance_ref(), *args, **kwargs)
    method.__signature__ = inspect.signature(functools.partial(function, instance))
    method.weakly_bound_function, method.__self__ = function, instance_ref     # for tf.autograph.to_code
    return method


def bind_arguments(signature, args, kwargs):
    """Python's own binding (so wrong calls give Python's TypeError), defaults applied."""
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    return bound


def call_leaves(bound):
    """Flatten bound arguments: (key, leaves)."""
    leaves = []
    key = tuple((name, flatten(value, name, leaves)) for name, value in bound.arguments.items())
    return key, leaves


def match_input_signature(function_name, input_signature, args):
    """With input_signature: every positional argument is converted to its TensorSpec."""
    if len(args) != len(input_signature):
        raise TypeError(f"{function_name}: input_signature has {len(input_signature)} entries but the call "
                        f"passed {len(args)} positional arguments")
    from ..ops.core import convert_to_tensor
    converted = []
    for i, (arg, spec) in enumerate(zip(args, input_signature)):
        if isinstance(arg, TensorSpec):
            if arg.dtype != spec.dtype or not spec.shape.is_compatible_with(arg.shape):
                raise TypeError(f"{function_name}: {arg} does not match input_signature {spec}")
            converted.append(arg)
            continue
        # Python values take the spec's dtype; tensors, variables and ndarrays must already match it
        hint = None if isinstance(arg, (np.ndarray, np.generic, Variable)) else spec.dtype
        tensor = convert_to_tensor(arg, dtype_hint=hint)
        if not spec.is_compatible_with(tensor):
            raise TypeError(f"{function_name}: argument {i} of type {format_shape_dtype(tensor.shape, tensor.dtype)} "
                            f"does not match input_signature {format_shape_dtype(spec.shape, spec.dtype)}")
        converted.append(tensor)
    return converted
