"""tracejit.cond: Python branching when the predicate is known; otherwise both branches are
traced as subgraphs (capturing what they read, Variables assigned becoming results) and then
  - inlined and merged with select when both are cheap and pure (the common case: the branches
    fuse with the rest of the graph), or
  - kept in a COND node that runs only the branch taken, when a branch has effects (print,
    py_function) or control flow (a loop must not run when its branch is not taken).
The COND node's inputs are the predicate and the captured tensors (both branches take all of
them, in one order); its gradient is a COND over the branches' vjp subgraphs."""
from .. import nest
from ..context import bind, current_context
from ..errors import InvalidArgumentError, TracingError
from ..ops.broadcast import zeros_like
from ..ops.core import convert_to_tensor
from ..ops.elementwise import select
from ..primitive import CONTROL, Primitive
from ..tensor import Tensor
from .subgraph import Subgraph, flatten_values, inline, merged_captures, order_inputs, output_values, trace_subgraph


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
    return _staged_cond(pred, true_fn, false_fn)


class _Branch:
    """One traced branch: its subgraph, context, result structure and result tensors."""

    def __init__(self, fn, name, parent):
        self.graph, self.context, result = trace_subgraph(lambda: fn(), [], name, parent)
        self.result = result
        leaves = nest.flatten(result)
        self.present = [leaf is not None for leaf in leaves]
        self.tensors, self.rebuild = flatten_values([leaf for leaf in leaves if leaf is not None], "cond's result")


def _staged_cond(pred, true_fn, false_fn):
    parent = current_context()
    true, false = _Branch(true_fn, "cond_true", parent), _Branch(false_fn, "cond_false", parent)
    _check_same_results(true, false)
    assigned = _assigned_variables(true, false, parent)
    merged = _merged_results(pred, true, false, _finish_branches(true, false, assigned))
    for variable, value in zip(assigned, merged[len(true.tensors):]):       # assigned in either branch
        variable.assign(value)
    values = iter(true.rebuild(merged[:len(true.tensors)]))
    return nest.pack_sequence_as(true.result, [next(values) if present else None for present in true.present])


def _assigned_variables(true, false, parent):
    """Variables either branch assigns: results of both branches, assigned by the parent after the cond."""
    assigned = list({**true.context.assigned, **false.context.assigned}.values())
    if assigned and parent.deferred_effects:
        raise NotImplementedError(
            "cond: assigning Variables in the branches of a TF1 graph cond is not supported (the assignment would "
            f"only run when fetched); return the value from the branch instead ({assigned[0].name})")
    return assigned


def _finish_branches(true, false, assigned):
    """Both graphs return their results and the assigned Variables' values, and take every capture
    of either branch (in one order); returns the outer tensors the captures read."""
    for branch in (true, false):
        branch.graph.outputs = output_values(branch.context, branch.tensors, "a branch of cond") + \
            [branch.context.current_value(v) for v in assigned]
    captures = merged_captures(true.context, false.context)
    for branch in (true, false):
        order_inputs(branch.graph, branch.context, [], captures)
    return [tensor for _, tensor in captures]


def _merged_results(pred, true, false, outer):
    """Cheap pure branches inlined and merged with select; else one COND node running the branch taken."""
    true_sub, false_sub = Subgraph(true.graph), Subgraph(false.graph)
    if true_sub.only_pure_ops and false_sub.only_pure_ops:
        return [t if t is f else select(pred, t, f) for t, f in zip(inline(true.graph, outer),
                                                                     inline(false.graph, outer))]
    params = {"true_branch": true_sub, "false_branch": false_sub}
    if true_sub.has_effects or false_sub.has_effects:
        params["effect"] = True
    return bind(COND, [pred] + outer, params)


def _check_same_results(true, false):
    if _structure(true.result) != _structure(false.result) or true.present != false.present:
        raise TracingError("cond: true_fn and false_fn must return the same structure")
    for t, f in zip(true.tensors, false.tensors):
        if t.dtype != f.dtype or tuple(t.shape) != tuple(f.shape):
            raise TracingError(f"cond: branches return different types: {t.dtype.name}{list(t.shape)} vs "
                               f"{f.dtype.name}{list(f.shape)}")


def _structure(value):
    return nest.map_structure(lambda _: None, value)


# ---- the primitive ----------------------------------------------------------------------------------
def _cond_type(pred, *captured, true_branch, false_branch, effect=False):
    return [(v.shape, v.dtype) for v in true_branch.graph.outputs]


def _cond_impl(pred, *captured, true_branch, false_branch, effect=False):
    return (true_branch if pred else false_branch)(list(captured))


def _cond_vjp(gs, pred, *captured_and_outs, true_branch, false_branch, effect=False):
    *captured, outs = captured_and_outs
    wrt = [i for i, t in enumerate(captured) if t.dtype.is_floating]
    seeded = [i for i, o in enumerate(outs) if o.dtype.is_floating]
    if not wrt or not seeded:
        return [None] * (1 + len(captured))
    seeds = [gs[i] if gs[i] is not None else zeros_like(outs[i]) for i in seeded]
    params = {"true_branch": true_branch.vjp(wrt, seeded), "false_branch": false_branch.vjp(wrt, seeded)}
    grads = bind(COND, [pred] + list(captured) + seeds, params)
    result = [None] * (1 + len(captured))
    for index, grad in zip(wrt, grads):
        result[1 + index] = grad
    return result


COND = Primitive("cond", _cond_type, CONTROL, multiple_results=True, same_dtype=())
COND.impl = _cond_impl
COND.vjp = _cond_vjp
