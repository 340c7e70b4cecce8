"""Subgraphs: the graphs a control-flow node runs (a loop's condition and body, the branches of
cond, their gradients), kept in the node's params.

    trace_subgraph(fn, input types)   fn traced in a SubgraphContext (context.py): what it reads
                                      from the enclosing trace becomes extra inputs (captures)
    Subgraph(graph)                   optimized and compiled by the current backend on first use
                                      and cached, so a loop body is native code like any function
    inline(graph, tensors)            the graph's nodes bound again in the current context (to
                                      merge cheap branches, or to differentiate a subgraph)
    Subgraph.vjp(wrt, seeded)         a Subgraph computing vector-Jacobian products: the forward
                                      is recomputed inside it (inlined under a GradientTape), so
                                      nothing but its inputs must be kept from the forward run
"""
import collections
import itertools
import threading

from .. import nest
from ..context import SubgraphContext, bind, entered
from ..errors import LeakedTensorError
from ..ir.graph import ASSIGN, CONST, FUSED, Graph
from ..ir.verify import verify
from ..ops.core import convert_to_tensor
from ..primitive import CONTROL
from ..tensor import Tensor


class Subgraph:
    """A graph a node runs on arrays (a control-flow body, which has no variables; a function's
    forward or backward graph, jit/call.py): `subgraph(arrays)` -> list of arrays. Its executable
    is built by the backend current at the first call (passes + lowering, as for a @function) and
    cached per backend."""

    def __init__(self, graph):
        verify(graph)
        self.graph = graph
        self._executables = {}      # backend module name -> executable
        self._vjps = {}             # (wrt, seeded) -> Subgraph
        self._lock = threading.Lock()

    @property
    def name(self):
        return self.graph.name

    def __call__(self, arrays):
        return self.executable()(arrays)

    def executable(self):
        # The compiler layer is imported here, when a graph first runs: tracing needs none of it.
        from ..backend import current_backend
        backend = current_backend()
        executable = self._executables.get(backend.__name__)
        if executable is None:
            with self._lock:
                executable = self._executables.get(backend.__name__)
                if executable is None:
                    from ..passes import optimize
                    optimized, _ = optimize(self.graph, can_lower=backend.can_lower)
                    executable = self._executables[backend.__name__] = backend.executable(optimized)
        return executable

    @property
    def has_effects(self):
        return any(node.effect for node in self.graph.nodes)

    @property
    def only_pure_ops(self):
        """Nothing but pure, non-control-flow nodes: cheap and safe to run when not needed."""
        return all(node.prim.pure and not node.effect and node.prim.kind != CONTROL for node in self.graph.nodes)

    def vjp(self, wrt, seeded):
        """The Subgraph of the vector-Jacobian product: inputs = this graph's inputs + a cotangent per
        output index in `seeded`; outputs = the gradient of each input index in `wrt` (zeros where
        unconnected). Cached per (wrt, seeded)."""
        key = (tuple(wrt), tuple(seeded))
        found = self._vjps.get(key)
        if found is None:
            found = self._vjps[key] = Subgraph(vjp_graph(self.graph, wrt, seeded))
        return found

    def __repr__(self):
        return self.graph.name


_counters = collections.defaultdict(itertools.count)


def unique_name(base):
    """Subgraph names are unique per process, so printed IR tells nested bodies apart."""
    return f"{base}_{next(_counters[base]) + 1}"


def trace_subgraph(fn, input_types, name, parent):
    """Run fn(*placeholders) in a SubgraphContext over `parent`. input_types: [(shape, dtype)].
    Returns (graph, context, fn's result); the caller sets graph.outputs (with output_values)."""
    graph = Graph(unique_name(name))
    placeholders = [Tensor(symbol=graph.add_input(shape, dtype)) for shape, dtype in input_types]
    context = SubgraphContext(graph, parent)
    with entered(context):
        result = fn(*placeholders)
    return graph, context, result


def output_values(context, tensors, what):
    """The subgraph Values of fn's result tensors (eager values become constants, outer ones captures)."""
    return [context.symbol(convert_to_tensor(t), what) for t in tensors]


def order_inputs(graph, context, leading, captures):
    """graph.inputs = the `leading` inputs, then one per (key, outer tensor) of `captures` (its capture
    input, or an unused one when this graph does not read it): the layout its node feeds."""
    inputs = list(leading)
    for key, outer in captures:
        capture = context.captures.get(key)
        inputs.append(capture[1] if capture is not None else graph.new_value(outer.shape, outer.dtype, name="unused"))
    graph.inputs = inputs


def merged_captures(*contexts):
    """[(key, outer tensor)] of what the contexts captured, each once, in order of first capture."""
    merged = {}
    for context in contexts:
        for key, (outer, _) in context.captures.items():
            merged.setdefault(key, outer)
    return list(merged.items())


# ---- re-binding a graph's nodes -----------------------------------------------------------------
def inline(graph, inputs, variables=None):
    """Bind `graph`'s nodes again, in the current context, on `inputs` (tensors for graph.inputs);
    returns the tensors of graph.outputs. Tapes recording here see every node. `variables` gives a
    tensor per variable input Value ({id(Value): tensor}): the graph's Variables become values and
    its assignments are left out (reads are SSA values already)."""
    values = {id(v): t for v, t in zip(graph.inputs, inputs)}
    values.update(variables or {})
    for node in graph.nodes:
        if node.prim is CONST:
            values[id(node.outputs[0])] = Tensor(node.params["value"])
            continue
        if node.prim is ASSIGN and variables is not None:
            continue
        if node.prim in (ASSIGN, FUSED):
            raise AssertionError(f"cannot inline {node.op} nodes (graph {graph.name})")
        out = bind(node.prim, [values[id(v)] for v in node.inputs], node.params)
        for value, tensor in zip(node.outputs, out if node.prim.multiple_results else [out]):
            values[id(value)] = tensor
    return [values[id(v)] for v in graph.outputs]


def vjp_graph(graph, wrt, seeded, fixed=()):
    """The graph of vector-Jacobian products of `graph`, recomputing it (it is inlined under a
    GradientTape). Its sources are graph.inputs but the last len(fixed) (those are the arrays `fixed`,
    a function's large captured arrays), then a value per Variable of the graph (assignments are
    left out). Inputs: the sources, then a cotangent per output index in `seeded`; outputs: the
    gradient of each source index in `wrt` (zeros where unconnected)."""
    from ..autodiff import GradientTape
    vjp = Graph(unique_name(f"{graph.name}_grad"))
    fed = graph.inputs[:len(graph.inputs) - len(fixed)] + [v for v, _ in graph.variables]
    sources = [Tensor(symbol=vjp.add_input(v.shape, v.dtype)) for v in fed]
    seeds = [Tensor(symbol=vjp.add_input(graph.outputs[i].shape, graph.outputs[i].dtype)) for i in seeded]
    context = SubgraphContext(vjp, None)
    with entered(context):
        with GradientTape() as tape:
            for i in wrt:
                tape.watch(sources[i])
            arguments = sources[:len(fed) - len(graph.variables)] + [Tensor(a) for a in fixed]
            variables = {id(v): t for (v, _), t in zip(graph.variables, sources[len(arguments) - len(fixed):])}
            ys = inline(graph, arguments, variables if graph.variables else None)
        try:
            grads = tape.gradient([ys[i] for i in seeded], [sources[i] for i in wrt], output_gradients=seeds,
                                  unconnected_gradients="zero")
        except LeakedTensorError as error:
            raise NotImplementedError(
                f"the gradient of '{graph.name}' recomputes it (a while_loop or cond body, or a higher derivative of "
                "a function call), but a gradient function refers to a tensor of the original trace: a "
                "tf.custom_gradient grad_fn there may use its arguments (dy, variables) but not values computed in "
                f"the forward pass ({error})") from None
        vjp.outputs = output_values(context, grads, "a gradient")
    return vjp


# ---- loop variables and branch results: tensors, and composites made of tensors ----------------
def flatten_values(structure, what):
    """(component tensors, rebuild) of a nested structure whose leaves are tensors, Variables,
    Python numbers or composites (objects with `_to_components()` and `_from_components(tensors)`,
    e.g. TensorArray). rebuild(tensors) gives the structure back with new tensors."""
    leaves = nest.flatten(structure)
    parts, counts = [], []
    for index, leaf in enumerate(leaves):
        if hasattr(leaf, "_to_components"):
            components = leaf._to_components()
        else:
            components = [_as_tensor(leaf, what, index)]
        parts += components
        counts.append(len(components))

    def rebuild(tensors):
        tensors, rebuilt = list(tensors), []
        for leaf, count in zip(leaves, counts):
            taken, tensors = tensors[:count], tensors[count:]
            rebuilt.append(leaf._from_components(taken) if hasattr(leaf, "_to_components") else taken[0])
        return nest.pack_sequence_as(structure, rebuilt)
    return parts, rebuild


def _as_tensor(value, what, index):
    if hasattr(value, "_as_tensor") and not isinstance(value, Tensor):
        return value._as_tensor()
    try:
        return convert_to_tensor(value)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{what}[{index}] is a {type(value).__name__} ({value!r}), which is neither a tensor nor "
                        f"convertible to one: {error}") from None
