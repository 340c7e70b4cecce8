"""tf.autograph: Python `if` / `while` / `for` (and `break`, `continue`, `return`, `and`, `or`,
`not`, `x if c else y`) on tensors, converted to graph control flow by source transformation,
as TensorFlow's AutoGraph does. `@function` converts the functions it traces (see `convert`);
`to_graph` and `to_code` convert on request.
"""
import contextlib
import functools
import threading
import types

from . import experimental  # noqa: F401
from .converter import (  # noqa: F401
    AutoGraphWarning, Unconvertible, convert_function, converted_callable, converted_source)


_status = threading.local()


@contextlib.contextmanager
def conversion_status(enabled):
    """While a @function traces (with autograph=True or False): whether library code that calls
    user code while tracing (a Keras layer calling its `call`) converts it, as TF's
    ag_ctx.control_status_ctx tells Keras."""
    previous = getattr(_status, "enabled", False)
    _status.enabled = enabled
    try:
        yield
    finally:
        _status.enabled = previous


def conversion_enabled():
    return getattr(_status, "enabled", False)


def convert(f):
    """The function @function traces: `f` converted, or `f` itself when it cannot be (no
    source code, a generator, library code, do_not_convert; a conversion error warns). Methods,
    functools.partial and callable objects are converted through their functions."""
    return converted_callable(f)


def to_graph(entity, recursive=True, experimental_optional_features=None):
    """`entity` (a function, method, partial or callable object) converted: Python control
    flow on tensors becomes cond / while_loop. Functions it calls are converted when called.
    Conversion errors raise (NotImplementedError names the unsupported construct); an entity
    without source code is returned as it is."""
    if _is_tf_function(entity):
        entity = entity.python_function
    function = _python_function(entity)
    if function is None:
        return entity
    try:
        converted_function = convert_function(function)
    except Unconvertible:
        return entity
    return _rebind(entity, function, converted_function)


def to_code(entity, recursive=True, experimental_optional_features=None):
    """The source code of `entity` converted (the `def tf__<name>(...)` that runs)."""
    function = _python_function(entity)
    if function is None:
        raise TypeError(f"to_code needs a Python function, got {entity!r}")
    try:
        return converted_source(function)
    except Unconvertible as e:
        raise ValueError(f"cannot convert {getattr(function, '__qualname__', function)}: {e}") from None


def _python_function(entity):
    if isinstance(entity, types.FunctionType):
        return entity
    if _is_tf_function(entity):
        python_function = entity.python_function          # a method's is bound weakly: convert its function
        return _python_function(getattr(python_function, "weakly_bound_function", python_function))
    if isinstance(entity, types.MethodType):
        return _python_function(entity.__func__)
    if isinstance(entity, functools.partial):
        return _python_function(entity.func)
    if isinstance(entity, type):
        raise NotImplementedError("to_graph converts functions, methods and callable objects, not classes: "
                                  "convert a method with to_graph(instance.method)")
    call = getattr(type(entity), "__call__", None)
    return call if isinstance(call, types.FunctionType) else None


def _is_tf_function(entity):
    return hasattr(entity, "python_function") and hasattr(entity, "get_concrete_function")


def _rebind(entity, function, converted_function):
    if entity is function:
        return converted_function
    if getattr(entity, "weakly_bound_function", None) is function:     # a @function method's bound wrapper
        return types.MethodType(converted_function, entity.__self__())
    if isinstance(entity, types.MethodType):
        return types.MethodType(_rebind(entity.__func__, function, converted_function), entity.__self__)
    if isinstance(entity, functools.partial):
        return functools.partial(_rebind(entity.func, function, converted_function), *entity.args, **entity.keywords)
    return types.MethodType(converted_function, entity)      # a callable object
