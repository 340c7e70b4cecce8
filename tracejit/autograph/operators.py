"""The runtime operators converted code calls (as `ag__.<name>`).

Each statement operator dispatches on the value it is given, as TF's AutoGraph does:

- a Python value (or an eager, concrete tensor): plain Python, on its truth value;
- a symbolic tensor (inside @function or a TF1 graph): graph control flow, with
  `tracejit.control_flow.cond` / `while_loop`.

The blocks arrive as functions that read and write the enclosing variables through
`nonlocal`; `get_state` / `set_state` read and write the variables the statement modifies (its
"state"), which is how a staged statement threads them through cond / while_loop.
"""
import numbers

import numpy as np

from .. import control_flow, nest
from ..ops import core as _core
from ..ops import elementwise as _ew
from ..source_location import user_location
from ..tensor import Tensor
from . import py_builtins


# ---- undefined values ---------------------------------------------------------------------------
class Undefined:
    """The value of a variable that no path has assigned yet (it is assigned in a branch or loop
    that has not run). Reading it in user code raises UnboundLocalError, as Python would."""
    __slots__ = ("symbol_name",)

    def __init__(self, symbol_name):
        self.symbol_name = symbol_name

    def __repr__(self):
        return f"Undefined({self.symbol_name!r})"


class UndefinedReturnValue:
    """The return value of a function that has not executed a return statement yet."""

    def __repr__(self):
        return "UndefinedReturnValue()"


def ld(value):
    """A read of a variable that may be undefined."""
    if isinstance(value, Undefined):
        raise UnboundLocalError(f"cannot access local variable '{value.symbol_name}' where it is not "
                                "associated with a value")
    return value


def ldu(load, symbol_name):
    """`load()`, or Undefined if what it reads does not exist (an attribute not set yet)."""
    try:
        return load()
    except (NameError, AttributeError):
        return Undefined(symbol_name)


def retval(value):
    """The value a lowered function returns: None if no return statement ran."""
    return None if isinstance(value, UndefinedReturnValue) else value


# ---- values -------------------------------------------------------------------------------------
def _tensor_or_none(value):
    if isinstance(value, Tensor):
        return value
    if hasattr(value, "_as_tensor"):          # a Variable
        return value._as_tensor()
    return None


def _is_symbolic(value):
    tensor = _tensor_or_none(value)
    return tensor is not None and tensor.is_symbolic


def _truth(value):
    tensor = _tensor_or_none(value)
    return bool(tensor) if tensor is not None else bool(value)


def _as_checkable(value):
    """A tensor for values tf.cond / while_loop would convert (numbers, arrays), else the value."""
    if isinstance(value, (bool, numbers.Number, np.ndarray, np.generic)):
        return _core.convert_to_tensor(value)
    tensor = _tensor_or_none(value)
    return tensor if tensor is not None else value


# ---- logical expressions ------------------------------------------------------------------------
def and_(left, right):
    """`a and b`, with both operands as thunks: lazy for tensors too (via cond)."""
    value = left()
    if _is_symbolic(value):
        return control_flow.cond(_tensor_or_none(value), right, lambda: value)
    return right() if _truth(value) else value


def or_(left, right):
    """`a or b`, lazily."""
    value = left()
    if _is_symbolic(value):
        return control_flow.cond(_tensor_or_none(value), lambda: value, right)
    return value if _truth(value) else right()


def not_(value):
    """`not a`: logical_not for a tensor (as in TF's AutoGraph), Python's `not` otherwise."""
    tensor = _tensor_or_none(value)
    if tensor is not None:
        return _ew.logical_not(tensor)
    return not value


def if_exp(cond, if_true, if_false, expr_repr):
    """`a if cond else b`."""
    if _is_symbolic(cond):
        return control_flow.cond(_tensor_or_none(cond), if_true, if_false)
    return if_true() if _truth(cond) else if_false()


# ---- if -----------------------------------------------------------------------------------------
def if_stmt(cond, body, orelse, get_state, set_state, symbol_names):
    """if cond: body() else: orelse()."""
    if _is_symbolic(cond):
        _staged_if(_tensor_or_none(cond), body, orelse, get_state, set_state, symbol_names)
    elif _truth(cond):
        body()
    else:
        orelse()


def _staged_if(pred, body, orelse, get_state, set_state, symbol_names):
    """Both branches are traced from the same initial state; cond merges what they leave."""
    initial = get_state()
    finished = {}

    def branch(block, name):
        def run():
            set_state(initial)
            block()
            values = get_state()
            _check_branch_defines(values, symbol_names, name)
            finished[name] = values
            if len(finished) == 2:
                _check_branches_agree(finished["main"], finished["else"], symbol_names)
            return values
        return run
    set_state(control_flow.cond(pred, branch(body, "main"), branch(orelse, "else")))


def _check_branch_defines(values, symbol_names, branch):
    for name, value in zip(symbol_names, values):
        if isinstance(value, Undefined):
            raise ValueError(
                f"'{name}' must also be initialized in the {branch} branch (if statement at {user_location()}): "
                f"the condition is a tensor, so both branches are traced and each must leave '{name}' with a "
                f"value it can be merged with; assign '{name}' before the if statement or in both branches")
        if isinstance(value, UndefinedReturnValue):
            raise ValueError(f"the {branch} branch must also have a return statement (if statement at "
                             f"{user_location()}): the condition is a tensor, so both branches are traced "
                             "and both must return a value")


def _check_branches_agree(main_values, else_values, symbol_names):
    for name, main, other in zip(symbol_names, main_values, else_values):
        if (main is None) != (other is None):
            branch = "main" if main is None else "else"
            raise ValueError(f"'{name}' is None at the end of the {branch} branch but not in the other "
                             f"(if statement at {user_location()})")
        try:
            main_leaves, other_leaves = _same_structure_leaves(main, other)
        except TypeError as e:
            raise TypeError(f"'{name}' must have the same nested structure in the main and else branches "
                            f"(if statement at {user_location()}): {e}") from None
        for a, b in zip(main_leaves, other_leaves):
            a, b = _as_checkable(a), _as_checkable(b)
            if isinstance(a, Tensor) and isinstance(b, Tensor):
                if a.dtype != b.dtype:
                    raise TypeError(f"'{name}' has dtype {a.dtype.name} in the main branch, but dtype "
                                    f"{b.dtype.name} in the else branch (if statement at {user_location()})")
                if tuple(a.shape) != tuple(b.shape):
                    raise ValueError(f"'{name}' has shape {a.shape} in the main branch, but shape {b.shape} "
                                     f"in the else branch (if statement at {user_location()})")


def _same_structure_leaves(a, b):
    """The leaves of a and b; TypeError if their nested structures differ."""
    def shape_of(value):
        return nest.map_structure(lambda _: None, value)
    if _structure_signature(a) != _structure_signature(b):
        raise TypeError(f"{shape_of(a)!r} vs {shape_of(b)!r}")
    return nest.flatten(a), nest.flatten(b)


def _structure_signature(value):
    if isinstance(value, dict):
        return ("dict", tuple((k, _structure_signature(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        kind = type(value) if hasattr(value, "_fields") else "sequence"
        return (kind, tuple(_structure_signature(v) for v in value))
    return "leaf"


# ---- while --------------------------------------------------------------------------------------
def while_stmt(test, body, get_state, set_state, symbol_names, opts):
    """while test(): body(). Runs in Python while the test is a Python value or a concrete tensor;
    once it is a symbolic tensor, the rest of the loop is staged as a while_loop."""
    condition = test()
    while not _is_symbolic(condition):
        if not _truth(condition):
            return
        body()
        condition = test()
    _staged_while(test, body, get_state, set_state, symbol_names, opts)


def _staged_while(test, body, get_state, set_state, symbol_names, opts):
    initial = tuple(get_state())
    _check_defined_before_loop(initial, symbol_names)
    invariants = _shape_invariants(opts, initial)
    initial = tuple(_as_checkable(v) for v in initial)

    def loop_cond(*state):
        set_state(state)
        return test()

    def loop_body(*state):
        set_state(state)
        body()
        after = tuple(get_state())
        _check_loop_vars(state, after, symbol_names, invariants)
        return after
    options = {k: v for k, v in opts.items() if k in ("maximum_iterations", "parallel_iterations", "swap_memory")}
    if "shape_invariants" in opts:
        options["shape_invariants"] = invariants
    final = control_flow.while_loop(loop_cond, loop_body, initial, **options)
    set_state(final)


def _check_defined_before_loop(values, symbol_names):
    for name, value in zip(symbol_names, values):
        if isinstance(value, UndefinedReturnValue):
            raise ValueError(f"return statements are not supported within a TensorFlow loop (loop at "
                             f"{user_location()}): the loop condition is a tensor; compute the result in a loop "
                             "variable and return it after the loop")
        if isinstance(value, Undefined):
            raise ValueError(f"'{name}' must be defined before the loop (loop at {user_location()}): the loop "
                             f"condition is a tensor, so '{name}' is a loop variable and needs an initial value")
        if value is None:
            raise ValueError(f"'{name}' may not be None before the loop (loop at {user_location()})")


def _check_loop_vars(entry, exit_, symbol_names, invariants):
    for name, before, after, invariant in zip(symbol_names, entry, exit_, invariants):
        if after is None or isinstance(after, Undefined):
            raise ValueError(f"'{name}' is None at the end of the iteration (loop at {user_location()})")
        try:
            before_leaves, after_leaves = _same_structure_leaves(before, after)
        except TypeError as e:
            raise TypeError(f"'{name}' does not have the same nested structure after one iteration (loop at "
                            f"{user_location()}): {e}") from None
        for a, b in zip(before_leaves, after_leaves):
            a, b = _as_checkable(a), _as_checkable(b)
            if isinstance(a, Tensor) and isinstance(b, Tensor):
                _check_loop_leaf(name, a, b, invariant)


def _check_loop_leaf(name, before, after, invariant):
    if before.dtype != after.dtype:
        raise TypeError(f"'{name}' has dtype {before.dtype.name} before the loop, but dtype {after.dtype.name} "
                        f"after one iteration (loop at {user_location()})")
    if invariant is not None:
        if not _is_subshape(after.shape, invariant):
            raise ValueError(f"'{name}' has shape {after.shape} after one iteration, which does not conform with "
                             f"the shape invariant {invariant} (loop at {user_location()})")
    elif not _is_subshape(after.shape, before.shape):
        raise ValueError(f"'{name}' has shape {before.shape} before the loop, but shape {after.shape} after one "
                         f"iteration (loop at {user_location()}). Use "
                         "tf.autograph.experimental.set_loop_options to set shape invariants.")


def _is_subshape(shape, invariant):
    return len(shape) == len(invariant) and all(b is None or a == b for a, b in zip(shape, invariant))


def _shape_invariants(opts, initial):
    """set_loop_options gives shape invariants as (variable, shape) pairs; the loop needs one per
    loop variable, in order (None: the variable keeps its initial shape), as in TF's AutoGraph."""
    from ..tensor import TensorShape
    by_identity = {id(variable): TensorShape(shape) for variable, shape in opts.get("shape_invariants", ())}
    return [by_identity.get(id(v)) for v in initial]


# ---- for ----------------------------------------------------------------------------------------
def for_stmt(iter_, extra_test, body, get_state, set_state, symbol_names, opts):
    """for target in iter_: body(target), stopping early when extra_test() (break/return flags)
    turns false."""
    if isinstance(iter_, py_builtins.StagedIterable) or _is_symbolic(iter_):
        _staged_for(py_builtins.staged_iterable(iter_), extra_test, body, get_state, set_state,
                    symbol_names, opts)
        return
    tensor = _tensor_or_none(iter_)
    _python_for(tensor if tensor is not None else iter_, extra_test, body, get_state, set_state, symbol_names)


def _python_for(items, extra_test, body, get_state, set_state, symbol_names):
    if extra_test is None:
        for item in items:
            body(item)
        return
    for item in items:
        more = extra_test()
        if _is_symbolic(more):
            # A break or return happened under a tensor condition: the rest of this (unrolled)
            # loop runs each iteration only if it has not happened yet.
            _staged_if(_tensor_or_none(more), lambda item=item: body(item), lambda: None,
                       get_state, set_state, symbol_names)
            continue
        if not _truth(more):
            return
        body(item)


def _staged_for(iterable, extra_test, body, get_state, set_state, symbol_names, opts):
    """The loop as a while_loop over an index kept in front of the state."""
    index = [iterable.initial_index()]
    iterate_name = opts.get("iterate_names")

    def indexed_get_state():
        values = tuple(get_state())
        if isinstance(iterable, py_builtins.SymbolicRange):
            # The range variable needs no value before the loop: it starts at the range's start.
            values = tuple(index[0] if n == iterate_name and isinstance(v, Undefined) else v
                           for n, v in zip(symbol_names, values))
        return (index[0],) + values

    def indexed_set_state(values):
        index[0] = values[0]
        set_state(tuple(values[1:]))

    def test():
        more = iterable.has_next(index[0])
        return more if extra_test is None else and_(lambda: more, extra_test)

    def indexed_body():
        body(iterable.element(index[0]))
        index[0] = iterable.advance(index[0])

    loop_opts = {k: v for k, v in opts.items() if k != "iterate_names"}
    loop_opts.setdefault("maximum_iterations", iterable.maximum_iterations())
    _staged_while(test, indexed_body, indexed_get_state, indexed_set_state,
                  ("<internal iterate>",) + tuple(symbol_names), loop_opts)
