"""tracejit.while_loop: a Python loop when executing eagerly (as TF does), a `while_loop` node
otherwise (inside @function, a control-flow body or a TF1 graph).

The node (WHILE) keeps two Subgraphs in its params, `cond` and `body`, traced once from the
Python functions with the loop variables as their first inputs and what they read from the
enclosing trace as extra inputs (captures, shared by both). Its inputs are the initial loop
variables, then the captured tensors; its outputs the final loop variables. Variables the body
assigns become extra loop variables (their value when each iteration starts), and the enclosing
trace assigns their final values after the loop: reads in an iteration see the assignments of
earlier ones. maximum_iterations adds a counter as the first loop variable (as TF's while_v2).

Gradient: the vjp asks the forward node to keep its history (the loop variables at the start of
each iteration, one variant output added to the node, as TF's while_v2 adds accumulators) and
emits a WHILE_GRAD node, which walks the history backwards running the body's vjp subgraph
(which recomputes that iteration's body from its inputs): cotangents of the loop variables flow
iteration to iteration, those of the captures are summed."""
import numpy as np

from .. import dtypes, nest
from ..context import bind, current_context
from ..errors import InvalidArgumentError
from ..ops import cast
from ..ops import elementwise as ew
from ..ops.broadcast import zeros_like
from ..ops.core import convert_to_tensor
from ..primitive import CONTROL, Primitive
from ..tensor import Tensor, TensorShape, format_shape_dtype
from .subgraph import Subgraph, flatten_values, merged_captures, order_inputs, output_values, trace_subgraph


def while_loop(cond, body, loop_vars, shape_invariants=None, parallel_iterations=10, back_prop=True,
               swap_memory=False, maximum_iterations=None, name=None):
    """Repeat `body` while `cond` is true; returns the loop variables, with the structure of
    `loop_vars` (a possibly nested tuple, namedtuple, list or dict of tensors, Variables, numbers
    and TensorArrays).

    Each iteration must keep the structure and dtypes of the loop variables and a shape compatible
    with its invariant (the initial shape unless `shape_invariants` relaxes it, with None dims)."""
    _check_arguments(cond, body, loop_vars, parallel_iterations)
    if current_context().executing_eagerly:
        return _python_loop(cond, body, loop_vars, shape_invariants, maximum_iterations)
    return _graph_loop(cond, body, loop_vars, shape_invariants, maximum_iterations)


def _check_arguments(cond, body, loop_vars, parallel_iterations):
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


# ---- eager: a Python loop ---------------------------------------------------------------------------
def _python_loop(cond, body, loop_vars, shape_invariants, maximum_iterations):
    limit = _iteration_limit(maximum_iterations)
    loop_vars = nest.map_structure(_read_variable, loop_vars)
    invariants = _loop_invariants(flatten_values(loop_vars, "loop_vars")[0], loop_vars, shape_invariants)
    iterations = 0
    while limit is None or iterations < limit:
        if not _loop_condition(cond(*_arguments(loop_vars))):
            break
        result = _body_result(body(*_arguments(loop_vars)), loop_vars)
        _check_iteration(loop_vars, result, invariants, iterations + 1)
        loop_vars = nest.pack_sequence_as(loop_vars, nest.flatten(nest.map_structure(_read_variable, result)))
        iterations += 1
    return nest.map_structure(lambda v: v if hasattr(v, "_to_components") else convert_to_tensor(v), loop_vars)


def _read_variable(value):
    """Variables enter the loop as their values."""
    return value._as_tensor() if hasattr(value, "_as_tensor") and not isinstance(value, Tensor) else value


def _arguments(loop_vars):
    return tuple(loop_vars.values()) if isinstance(loop_vars, dict) else tuple(loop_vars)


def _iteration_limit(maximum_iterations):
    if maximum_iterations is None:
        return None
    limit = convert_to_tensor(maximum_iterations)
    if limit.ndim != 0:
        raise ValueError(f"'maximum_iterations' must be a scalar. Received shape: {limit.shape}")
    return int(limit.numpy())


def _loop_condition(value):
    if hasattr(value, "_as_tensor") and not isinstance(value, Tensor):
        value = value._as_tensor()
    if isinstance(value, Tensor):
        _check_condition_type(value)
    return bool(value)


def _check_condition_type(value):
    if value.ndim != 0 or not value.dtype.is_bool:
        raise InvalidArgumentError(f"while_loop: cond must return a scalar bool tensor, got shape {value.shape} "
                                   f"dtype {value.dtype.name}")


def _body_result(result, loop_vars):
    """A body returning a single value for a one-element list/tuple of loop variables is packed."""
    if not isinstance(result, (list, tuple, dict)):
        return type(loop_vars)((result,)) if type(loop_vars) in (list, tuple) else [result]
    return result


# ---- the loop variables' contract, checked eagerly and while tracing --------------------------------
def _loop_invariants(initial, loop_vars, shape_invariants):
    """One TensorShape per component tensor of loop_vars: the invariant given for it, else what a
    composite asks for (a dynamic TensorArray's length varies), else its initial shape."""
    given = _shapes_for_components(loop_vars, shape_invariants)
    invariants = [TensorShape(t.shape) if s is None else TensorShape(s) for t, s in zip(initial, given)]
    for index, (tensor, shape) in enumerate(zip(initial, invariants)):
        if not _conforms(tensor.shape, shape):
            raise ValueError(f"loop_vars[{index}] enters the loop with shape {tensor.shape}, which does not "
                             f"conform with its shape invariant {shape}")
    return invariants


def _shapes_for_components(loop_vars, shape_invariants):
    """shape_invariants (None, or the structure of loop_vars with a shape, a list of dims or None where
    loop_vars has a tensor) as one entry per component tensor; a composite (TensorArray) turns the
    shape given for it (of its elements) into its components' invariants."""
    if isinstance(loop_vars, (list, tuple, dict)):
        if shape_invariants is not None and (not isinstance(shape_invariants, (list, tuple, dict))
                                             or len(shape_invariants) != len(loop_vars)):
            raise ValueError(f"shape_invariants {shape_invariants!r} does not have the structure of loop_vars")
        keys = list(loop_vars) if isinstance(loop_vars, dict) else range(len(loop_vars))
        return [shape for k in keys for shape in _shapes_for_components(
            loop_vars[k], None if shape_invariants is None else shape_invariants[k])]
    if hasattr(loop_vars, "_component_invariants"):
        return loop_vars._component_invariants(shape_invariants)
    return [shape_invariants]


def _check_iteration(before, after, invariants, iteration):
    """After an iteration: the same structure, dtypes, and shapes within the invariants."""
    if not _same_structure(before, after):
        raise ValueError(f"while_loop: body must return the structure of loop_vars; got "
                         f"{nest.map_structure(lambda _: '.', after)} after {iteration} iteration(s), expected "
                         f"{nest.map_structure(lambda _: '.', before)}")
    old, _ = flatten_values(before, "loop_vars")
    new, _ = flatten_values(after, "the body's result")
    for index, (a, b, shape) in enumerate(zip(old, new, invariants)):
        if b.dtype != a.dtype:
            raise TypeError(f"while_loop: loop_vars[{index}] enters the loop with dtype {a.dtype.name}, but has "
                            f"dtype {b.dtype.name} after {iteration} iteration(s)")
        if not _conforms(b.shape, shape):
            raise ValueError(f"while_loop: loop_vars[{index}] has shape {b.shape} after {iteration} "
                             f"iteration(s), which is not compatible with its shape {shape} before the loop; "
                             "to let the shape vary across iterations, give a less specific shape (with None "
                             "dims) in shape_invariants")


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


# ---- graph: a WHILE node ---------------------------------------------------------------------------
class _Loop:
    """The loop variables as the subgraphs see them: the counter (with maximum_iterations), then the
    component tensors of loop_vars with their invariants; and the Python functions wrapped to take
    and return those flat tensors."""

    def __init__(self, loop_vars, shape_invariants, maximum_iterations):
        self.loop_vars = loop_vars
        self.tensors, self.rebuild = flatten_values(loop_vars, "loop_vars")
        self.invariants = _loop_invariants(self.tensors, loop_vars, shape_invariants)
        self.limit = None if maximum_iterations is None else _limit_tensor(maximum_iterations)
        self.counter = [] if self.limit is None else [convert_to_tensor(np.int32(0))]
        self.types = [((), dtypes.int32)] * len(self.counter) + [
            (tuple(shape), t.dtype) for shape, t in zip(self.invariants, self.tensors)]

    @property
    def initial(self):
        return self.counter + self.tensors

    def _user_vars(self, flat):
        return self.rebuild(flat[len(self.counter):])

    def condition(self, cond):
        def loop_cond(*flat):
            result = cond(*_arguments(self._user_vars(flat)))
            result = convert_to_tensor(_read_variable(result))
            _check_condition_type(result)
            if self.counter:
                result = ew.logical_and(ew.less(flat[0], self.limit), result)
            return [result]
        return loop_cond

    def step(self, body):
        def loop_body(*flat):
            before = self._user_vars(flat)
            result = nest.map_structure(_read_variable, _body_result(body(*_arguments(before)), self.loop_vars))
            _check_iteration(before, result, self.invariants, 1)
            tensors, _ = flatten_values(result, "the body's result")
            return ([ew.add(flat[0], np.int32(1))] if self.counter else []) + tensors
        return loop_body

    def results(self, outputs):
        """loop_vars rebuilt from the node's outputs (the counter and carried Variables left out)."""
        return self.rebuild(outputs[len(self.counter):len(self.counter) + len(self.tensors)])


def _limit_tensor(maximum_iterations):
    limit = convert_to_tensor(maximum_iterations)
    if limit.ndim != 0:
        raise ValueError(f"'maximum_iterations' must be a scalar. Received shape: {limit.shape}")
    if not limit.dtype.is_integer:
        raise TypeError(f"'maximum_iterations' must be an integer, got {limit.dtype.name}")
    return limit if limit.dtype == dtypes.int32 else cast(limit, dtypes.int32)


def _graph_loop(cond, body, loop_vars, shape_invariants, maximum_iterations):
    parent = current_context()
    loop_vars = _prepare_composites(nest.map_structure(_read_variable, loop_vars), body, parent)
    loop = _Loop(loop_vars, shape_invariants, maximum_iterations)
    cond_trace = trace_subgraph(loop.condition(cond), loop.types, "while_cond", parent)
    body_trace = trace_subgraph(loop.step(body), loop.types, "while_body", parent)
    carried = _carried_variables(cond_trace[1], body_trace[1], parent)
    (cond_sub, body_sub), captures = _loop_subgraphs(cond_trace, body_trace, len(loop.types), carried)
    initial = loop.initial + [parent.read_variable(v) for v in carried]
    params = {"cond": cond_sub, "body": body_sub, "n_vars": len(initial)}
    if carried:
        params["variable_slots"] = tuple(range(len(loop.initial), len(initial)))
    if cond_sub.has_effects or body_sub.has_effects:
        params["effect"] = True
    outputs = bind(WHILE, initial + [outer for _, outer in captures], params)
    for variable, value in zip(carried, outputs[len(loop.initial):]):
        variable.assign(value)
    return loop.results(outputs)


def _carried_variables(cond_context, body_context, parent):
    """The Variables the body assigns: loop variables of the node, assigned by the parent after it."""
    if cond_context.assigned:
        names = ", ".join(v.name for v in cond_context.assigned.values())
        raise ValueError(f"while_loop: cond must not assign Variables (it assigns {names})")
    carried = list(body_context.assigned.values())
    if carried and parent.deferred_effects:
        raise NotImplementedError(
            "while_loop: assigning Variables inside the body of a TF1 graph loop is not supported (the assignment "
            f"would only run when fetched); carry the value as a loop variable instead ({carried[0].name})")
    return carried


def _loop_subgraphs(cond_trace, body_trace, n_types, carried):
    """The cond and body Subgraphs, both taking the loop variables, the carried Variables, then every
    capture of either (in one order), and the captures [(key, outer tensor)] the node feeds."""
    (cond_graph, cond_context, cond_out), (body_graph, body_context, body_out) = cond_trace, body_trace
    leading = {id(context): context.graph.inputs[:n_types] + [_carried_input(context, v) for v in carried]
               for context in (cond_context, body_context)}
    cond_graph.outputs = output_values(cond_context, cond_out, "while_loop's cond")
    body_graph.outputs = output_values(body_context, body_out, "while_loop's body") + \
        [body_context.current_value(v) for v in carried]
    captures = merged_captures(cond_context, body_context)
    for context in (cond_context, body_context):
        order_inputs(context.graph, context, leading[id(context)], captures)
    return (Subgraph(cond_graph), Subgraph(body_graph)), captures


def _carried_input(context, variable):
    """The subgraph input holding an assigned Variable's value at the start of an iteration: the
    input its first read created (reads before the assignment see the carried value), or a new one."""
    value = context.release_variable(variable)
    return value if value is not None else context.graph.new_value(variable.shape, variable.dtype, name=variable.name)


def _prepare_composites(loop_vars, body, parent):
    """Composites that cannot enter a loop yet (a TensorArray whose element shape only its first
    write tells) learn it from a trial trace of the body (discarded), as TF infers it."""
    pending = [leaf for leaf in nest.flatten(loop_vars) if getattr(leaf, "_needs_element_shape", False)]
    if not pending:
        return loop_vars
    _, _, result = trace_subgraph(lambda: _body_result(body(*_arguments(loop_vars)), loop_vars), [], "while_trial",
                                  parent)
    learned = {id(old): new for old, new in zip(nest.flatten(loop_vars), nest.flatten(result))}
    return nest.map_structure(lambda leaf: leaf._with_element_shape_of(learned.get(id(leaf)))
                              if getattr(leaf, "_needs_element_shape", False) else leaf, loop_vars)


# ---- the primitive ----------------------------------------------------------------------------------
def _while_type(*inputs, cond, body, n_vars, variable_slots=(), keep_history=False, effect=False):
    """Outputs: the loop variables with the body's input types (their invariants); with keep_history
    also the history (a variant)."""
    loop_types = body.graph.inputs[:n_vars]
    for index, (given, expected) in enumerate(zip(inputs, loop_types)):
        if given.dtype != expected.dtype or not TensorShape(expected.shape).is_compatible_with(given.shape):
            raise InvalidArgumentError(f"while_loop: loop variable {index} is "
                                       f"{format_shape_dtype(given.shape, given.dtype)}, expected "
                                       f"{format_shape_dtype(expected.shape, expected.dtype)}")
    types = [(v.shape, v.dtype) for v in loop_types]
    return types + [((), dtypes.variant)] if keep_history else types


def _while_impl(*arrays, cond, body, n_vars, variable_slots=(), keep_history=False, effect=False):
    state, captured = list(arrays[:n_vars]), list(arrays[n_vars:])
    history = [] if keep_history else None
    while cond(state + captured)[0]:
        if history is not None:     # the first state is the caller's arrays: keep a copy they cannot change
            history.append(state if history else [np.array(a) for a in state])
        state = body(state + captured)
    results = [np.array(a) if any(a is b for b in arrays) else a for a in state]    # never alias an input
    return results + [_variant(history)] if keep_history else results


def _variant(value):
    holder = np.empty((), object)
    holder[()] = value
    return holder


def _while_vjp(gs, *inputs_and_outs, cond, body, n_vars, variable_slots=(), keep_history=False, effect=False):
    """Loop variables pass their cotangents from iteration to iteration; captures and the Variables
    the body assigns (`variable_slots`: as in TF, the gradient of a Variable is the sum over its
    reads, never through an assignment) get the sum over iterations."""
    *inputs, outs = inputs_and_outs
    floating = [i for i, t in enumerate(inputs) if t.dtype.is_floating]
    flowing = [i for i in floating if i < n_vars and i not in variable_slots]
    summed = [i for i in floating if i >= n_vars or i in variable_slots]
    if not flowing and not summed:
        return [None] * len(inputs)
    seeds = [gs[i] if gs[i] is not None else zeros_like(outs[i]) for i in flowing]
    grads = bind(WHILE_GRAD, [_history(outs)] + inputs[n_vars:] + seeds,
                 {"body_vjp": body.vjp(flowing + summed, flowing), "n_vars": n_vars, "flowing": tuple(flowing),
                  "summed": tuple(summed)})
    result = [None] * len(inputs)
    for index, grad in zip(flowing + summed, grads):
        result[index] = grad
    return result


def _history(outs):
    """The forward node's history output, asking the node to keep one if it does not yet."""
    node = outs[0]._symbol.node if outs[0]._symbol is not None else None
    if node is None:
        raise NotImplementedError("the gradient of a while_loop node that ran eagerly is not supported (eager "
                                  "while_loop runs as a Python loop, which tapes differentiate)")
    if not node.params.get("keep_history"):
        # a new params dict: optimized clones of this graph share the old one and keep no history
        node.params = {**node.params, "keep_history": True}
        node.outputs[0].graph.add_output(node, (), dtypes.variant)
    return Tensor(symbol=node.outputs[-1])


def _while_grad_type(history, *rest, body_vjp, n_vars, flowing, summed):
    return [(v.shape, v.dtype) for v in body_vjp.graph.outputs]


def _while_grad_impl(history, *rest, body_vjp, n_vars, flowing, summed):
    """Walk the history backwards: each iteration's body vjp takes that iteration's loop variables, the
    captures and the cotangents of its results; gives those of its loop variables and captures."""
    captured = list(rest[:len(rest) - len(flowing)])
    grads = list(rest[len(rest) - len(flowing):])
    summed_types = body_vjp.graph.outputs[len(flowing):]       # Variables have static shapes
    sums = [np.zeros_like(captured[i - n_vars]) if i >= n_vars else np.zeros(v.shape, v.dtype.np)
            for i, v in zip(summed, summed_types)]
    for state in reversed(history[()]):
        results = body_vjp(list(state) + captured + grads)
        grads = list(results[:len(flowing)])
        sums = [total + g for total, g in zip(sums, results[len(flowing):])]
    return grads + sums


def _second_order(*args, **params):
    raise NotImplementedError("second-order gradients through a graph while_loop are not supported (the gradient "
                              "of a while_loop is a loop over its history that is not differentiated again); "
                              "take higher-order derivatives of eager code, where loops run in Python")


WHILE = Primitive("while_loop", _while_type, CONTROL, multiple_results=True, same_dtype=())
WHILE.impl = _while_impl
WHILE.vjp = _while_vjp

WHILE_GRAD = Primitive("while_loop_grad", _while_grad_type, CONTROL, multiple_results=True, same_dtype=())
WHILE_GRAD.impl = _while_grad_impl
WHILE_GRAD.vjp = _second_order
