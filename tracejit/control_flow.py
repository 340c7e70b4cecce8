"""tracejit.cond: Python branching when the predicate is known, otherwise both branches are
traced and merged with select — outputs and variable assignments alike."""
from . import nest
from .context import current_context
from .errors import InvalidArgumentError, TracingError
from .ops.core import convert_to_tensor
from .ops.elementwise import select
from .tensor import Tensor


def cond(pred, true_fn=None, false_fn=None, name=None):
    if true_fn is None or false_fn is None:
        raise TypeError("cond: true_fn and false_fn are both required")
    if not isinstance(pred, Tensor) and not hasattr(pred, "_as_tensor"):
        return true_fn() if pred else false_fn()
    pred = convert_to_tensor(pred)
    if not pred.dtype.is_bool or pred.ndim != 0:
        raise InvalidArgumentError(f"cond: pred must be a scalar bool tensor, got shape {pred.shape} "
                                   f"dtype {pred.dtype.name}")
    if not pred.is_symbolic:
        return true_fn() if bool(pred) else false_fn()
    context = current_context()
    before = context.variable_state()
    true_out = true_fn()
    after_true = context.variable_state()
    context.restore_variable_state(before)
    false_out = false_fn()
    after_false = context.variable_state()
    for key, (variable, f) in after_false.items():    # restoring kept every variable either branch touched
        t = after_true.get(key, (variable, context.graph.variable_input(variable)))[1]
        if t is not f:
            variable.assign(select(pred, Tensor(symbol=t), Tensor(symbol=f)))
    leaves = iter(nest.flatten(false_out))

    def merge(t):
        f = next(leaves, None)
        if t is None and f is None:
            return None
        if t is None or f is None:
            raise TracingError("cond: true_fn and false_fn must return the same structure")
        t, f = convert_to_tensor(t), convert_to_tensor(f)
        if t.dtype != f.dtype or tuple(t.shape) != tuple(f.shape):
            raise TracingError(f"cond: branches return different types: {t.dtype.name}{list(t.shape)} vs "
                               f"{f.dtype.name}{list(f.shape)}")
        return select(pred, t, f)
    result = nest.map_structure(merge, true_out)
    if next(leaves, None) is not None:
        raise TracingError("cond: true_fn and false_fn must return the same structure")
    return result


def while_loop(cond, body, loop_vars, shape_invariants=None, parallel_iterations=10, back_prop=True,
               swap_memory=False, maximum_iterations=None, name=None):
    raise NotImplementedError("tracejit.while_loop is not supported yet: use a Python loop over a fixed "
                              "number of steps (it unrolls while tracing), or tracejit.cond for a single branch")
