"""tracejit.cond: Python branching when the predicate is known, otherwise both branches are
traced and merged with select — outputs and variable assignments alike. tracejit.while_loop:
a Python loop when the condition is known (eager); graph loops are not supported yet."""
from . import nest
from .context import current_context
from .errors import InvalidArgumentError, TracingError
from .ops.core import convert_to_tensor
from .ops.elementwise import select
from .tensor import Tensor, TensorShape


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
    """Repeat `body` while `cond` is true; returns the loop variables, with the structure of
    `loop_vars` (a possibly nested tuple, namedtuple, list or dict of tensors).

    When the condition is a concrete value (eager execution, or a condition that does not depend on
    the trace's inputs), the loop runs in Python, as TF does eagerly. Each iteration must keep the
    structure and dtypes of the loop variables and a shape compatible with its invariant (the initial
    shape unless `shape_invariants` relaxes it), the rule a graph loop enforces. A condition that is a
    symbolic tensor needs a graph while loop, which tracejit does not have yet."""
    if not callable(cond):
        raise TypeError("'cond' must be callable.")
    if not callable(body):
        raise TypeError("'body' must be callable.")
    if parallel_iterations < 1:
        raise TypeError("'parallel_iterations' must be a positive integer.")
    if not isinstance(loop_vars, (list, tuple, dict)):
        raise TypeError(f"'loop_vars' must be a (possibly nested) tuple, namedtuple, list or dict of tensors, got "
                        f"{type(loop_vars).__name__}")
    if not loop_vars:
        raise ValueError("'loop_vars' must be provided.")
    limit = _iteration_limit(maximum_iterations)
    loop_vars = nest.map_structure(_read_variable, loop_vars)
    invariants = _loop_invariants(loop_vars, shape_invariants)
    iterations = 0
    while limit is None or iterations < limit:
        if not _loop_condition(cond(*_arguments(loop_vars))):
            break
        result = body(*_arguments(loop_vars))
        if not isinstance(result, (list, tuple, dict)):
            result = type(loop_vars)((result,)) if type(loop_vars) in (list, tuple) else [result]
        loop_vars = _next_loop_vars(loop_vars, result, invariants, iterations + 1)
        iterations += 1
    return nest.map_structure(convert_to_tensor, loop_vars)


def _read_variable(value):
    """Variables enter the loop as their values; Python numbers stay Python numbers (as in TF's
    eager loop), so a Python counter can drive a loop that unrolls while tracing."""
    return value._as_tensor() if hasattr(value, "_as_tensor") and not isinstance(value, Tensor) else value


def _arguments(loop_vars):
    return tuple(loop_vars.values()) if isinstance(loop_vars, dict) else tuple(loop_vars)


def _iteration_limit(maximum_iterations):
    if maximum_iterations is None:
        return None
    limit = convert_to_tensor(maximum_iterations)
    if limit.ndim != 0:
        raise ValueError(f"'maximum_iterations' must be a scalar. Received shape: {limit.shape}")
    if limit.is_symbolic:
        raise NotImplementedError(_SYMBOLIC_LOOP + " (here: maximum_iterations is a symbolic tensor)")
    return int(limit.numpy())


_SYMBOLIC_LOOP = ("tracejit.while_loop is not supported yet when the loop condition depends on a symbolic tensor "
                  "(its value is only known when the compiled graph runs, so the loop must be a graph while loop); "
                  "loop a fixed, Python-known number of times (the loop unrolls while tracing), or use "
                  "tracejit.cond for a single step")


def _loop_condition(value):
    if hasattr(value, "_as_tensor") and not isinstance(value, Tensor):
        value = value._as_tensor()
    if isinstance(value, Tensor):
        if value.is_symbolic:
            raise NotImplementedError(_SYMBOLIC_LOOP)
        if value.ndim != 0 or not value.dtype.is_bool:
            raise InvalidArgumentError(f"while_loop: cond must return a scalar bool tensor, got shape "
                                       f"{value.shape} dtype {value.dtype.name}")
    return bool(value)


def _loop_invariants(loop_vars, shape_invariants):
    """One shape per tensor leaf of loop_vars: the invariant given for it, or its initial shape."""
    initial = [convert_to_tensor(v) for v in nest.flatten(loop_vars)]
    if shape_invariants is None:
        return [TensorShape(t.shape) for t in initial]
    given = _shapes_for_leaves(loop_vars, shape_invariants)
    invariants = [TensorShape(t.shape) if s is None else TensorShape(s) for t, s in zip(initial, given)]
    for index, (tensor, shape) in enumerate(zip(initial, invariants)):
        if not _conforms(tensor.shape, shape):
            raise ValueError(f"loop_vars[{index}] enters the loop with shape {tensor.shape}, which does not "
                             f"conform with its shape invariant {shape}")
    return invariants


def _shapes_for_leaves(loop_vars, shape_invariants):
    """shape_invariants has the structure of loop_vars, with a shape (TensorShape, list of dims or
    None) where loop_vars has a tensor."""
    if isinstance(loop_vars, (list, tuple, dict)):
        if not isinstance(shape_invariants, (list, tuple, dict)) or len(shape_invariants) != len(loop_vars):
            raise ValueError(f"shape_invariants {shape_invariants!r} does not have the structure of loop_vars")
        keys = list(loop_vars) if isinstance(loop_vars, dict) else range(len(loop_vars))
        return [shape for k in keys for shape in _shapes_for_leaves(loop_vars[k], shape_invariants[k])]
    return [shape_invariants]


def _next_loop_vars(before, after, invariants, iteration):
    if not _same_structure(before, after):
        raise ValueError(f"while_loop: body must return the structure of loop_vars; got "
                         f"{nest.map_structure(lambda _: '.', after)} after {iteration} iteration(s), expected "
                         f"{nest.map_structure(lambda _: '.', before)}")
    leaves = nest.flatten(nest.map_structure(_read_variable, after))
    for index, (old, new, shape) in enumerate(zip(nest.flatten(before), leaves, invariants)):
        old, new = convert_to_tensor(old), convert_to_tensor(new)
        if new.dtype != old.dtype:
            raise TypeError(f"while_loop: loop_vars[{index}] enters the loop with dtype {old.dtype.name}, but has "
                            f"dtype {new.dtype.name} after {iteration} iteration(s)")
        if not _conforms(new.shape, shape):
            raise ValueError(f"while_loop: loop_vars[{index}] has shape {new.shape} after {iteration} "
                             f"iteration(s), which is not compatible with its shape {shape} before the loop; "
                             "to let the shape vary across iterations, give a less specific shape (with None "
                             "dims) in shape_invariants")
    return nest.pack_sequence_as(before, leaves)


def _same_structure(a, b):
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(_same_structure(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        same_kind = type(a) is type(b) if hasattr(a, "_fields") or hasattr(b, "_fields") else \
            isinstance(b, (list, tuple))
        return same_kind and len(a) == len(b) and all(_same_structure(x, y) for x, y in zip(a, b))
    return not isinstance(b, (list, tuple, dict))


def _conforms(shape, invariant):
    return len(shape) == len(invariant) and all(i is None or s == i for s, i in zip(shape, invariant))
