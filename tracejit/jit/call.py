"""A compiled function called under an eager GradientTape: one CALL operation on the tape.

    inputs   the call's tensor arguments, then a read of each Variable the graph uses (so the tape
             routes their gradients to the Variables, as TF records a function call with its
             captured resources)
    outputs  the graph's outputs, then (when a tape records the call) the residuals: the forward
             values the backward graph needs
    impl     the forward graph compiled with the residuals as extra outputs (the Variables are read
             and assigned by reference, as in any compiled call; the read inputs are for the tape)
    vjp      a CALL of the backward graph (compiled too) on the output cotangents and the residuals

The backward graph is traced once per function from the forward graph's nodes, as TF traces a
backward function from the forward graph: GradientTape's reverse pass (autodiff.backward) runs
over the forward nodes inside a SubgraphContext whose parent is the forward graph, so every forward
value a vjp reads becomes a captured input (a residual) and the forward graph, cloned, returns it.
Nodes whose vjp needs more of the forward run (a while loop's history, a py_function's tape) add
that output to the clone. The backward graph is itself a GraphFunction: a tape recording the
backward call (a persistent tape asked twice, nested tapes for higher derivatives) differentiates
it the same way."""
from ..autodiff import backward
from ..context import SubgraphContext, TraceContext, bind, current_context, entered
from ..control_flow.subgraph import Subgraph, vjp_graph
from ..ir.graph import ASSIGN, CONST, FUSED, Graph
from ..ops.broadcast import zeros_like
from ..primitive import CONTROL, Primitive
from ..tensor import Tensor


class GraphFunction:
    """A traced graph called as one differentiable operation. `graph` (inputs: arguments, then the
    large captured arrays fed by reference; variables read by reference) is never modified."""

    def __init__(self, graph, captured_arrays=(), plain=None):
        self.graph = graph
        self.captured_arrays = list(captured_arrays)
        self.n_arguments = len(graph.inputs) - len(self.captured_arrays)
        self.variables = [variable for _, variable in graph.variables]
        self.output_types = [(v.shape, v.dtype) for v in graph.outputs]
        # the plain forward: the ConcreteFunction's own executable when there is one
        self._plain = plain if plain is not None else Subgraph(graph)
        self._taped = None              # (Subgraph of the forward with residuals, residual types)
        self._backward = None
        self._backward_error = None     # why no backward graph can be built (raised when one is needed)
        self._recomputing = None        # the vjp that recomputes the forward (see recomputing_vjp)

    @property
    def sources(self):
        """The Values gradients are taken for: the arguments, then the Variables' input values."""
        return self.graph.inputs[:self.n_arguments] + [v for v, _ in self.graph.variables]

    def run(self, arrays, residuals):
        arrays = list(arrays[:self.n_arguments]) + self.captured_arrays
        return self._forward_with_residuals()[0](arrays) if residuals else self._plain(arrays)

    def residual_types(self):
        return self._forward_with_residuals()[1]

    def _forward_with_residuals(self):
        if self._taped is None:
            self._build_backward()
        return self._taped

    def backward(self):
        if self._backward is None:
            self._build_backward()
        return self._backward

    def differentiable(self):
        """Can a backward graph be built? (Not when a node has no gradient of its own: the gradient of
        a while loop's gradient.) The error is raised if a tape asks for it."""
        if self._backward is None and self._backward_error is None:
            try:
                self._build_backward()
            except NotImplementedError as error:
                self._backward_error = error
        return self._backward_error is None

    def _build_backward(self):
        if self._backward_error is not None:
            raise self._backward_error
        forward = self.graph.clone(self.graph.name)
        backward_graph, residuals = _backward_graph(forward, self.n_arguments)
        forward.outputs = forward.outputs + residuals
        self._taped = (Subgraph(forward), [(v.shape, v.dtype) for v in residuals])
        self._backward = GraphFunction(backward_graph)

    def recomputing_vjp(self):
        """The vjp for cotangents of the residuals too (a tape differentiating the backward call, for
        higher derivatives): a GraphFunction of (arguments, Variable values, cotangents of the floating
        outputs and residuals) that recomputes the forward, as the residuals the backward got are the
        forward's values and their cotangents must flow back through it. (The recomputation runs the
        forward's effects again: a print prints once more when a higher derivative is taken.)"""
        if self._recomputing is None:
            forward = self._forward_with_residuals()[0].graph
            sources = [i for i, v in enumerate(self.sources) if v.dtype.is_floating]
            seeded = [i for i, v in enumerate(forward.outputs) if v.dtype.is_floating]
            self._recomputing = GraphFunction(vjp_graph(forward, sources, seeded, self.captured_arrays))
        return self._recomputing

    def __repr__(self):
        return self.graph.name


def _backward_graph(forward, n_arguments):
    """(backward Graph, forward Values it reads): inputs = a cotangent per floating output, then the
    residuals; outputs = the gradient of each floating source (zeros where unconnected)."""
    wrapped = {}

    def tensor(value):
        if value.node is not None and value.node.prim is CONST:      # constants are copied, not fed back
            return Tensor(value.node.params["value"])
        return wrapped.setdefault(id(value), Tensor(symbol=value))
    entries = [(n.prim, [tensor(v) for v in n.inputs], n.params,
                [tensor(v) for v in n.outputs] if n.prim.multiple_results else tensor(n.outputs[0]))
               for n in list(forward.nodes)
               if n.prim not in (CONST, ASSIGN, FUSED) and n.prim.differentiable and n.outputs]
    targets = [tensor(v) for v in forward.outputs if v.dtype.is_floating]
    sources = [tensor(v) for v in forward.inputs[:n_arguments] + [v for v, _ in forward.variables]]
    graph = Graph(f"{forward.name}_grad")
    seeds = [Tensor(symbol=graph.add_input(t.shape, t.dtype)) for t in targets]
    context = SubgraphContext(graph, TraceContext(forward))
    with entered(context):
        grads = backward(entries, targets, seeds)
        results = [grads.get(id(s)) if id(s) in grads else zeros_like(s) for s in sources if s.dtype.is_floating]
        graph.outputs = [context.symbol(g, "a gradient") for g in results]
    residuals = [outer._symbol for outer, _ in context.captures.values()]
    return graph, residuals


# ---- the primitive ----------------------------------------------------------------------------------
def call(function, arguments):
    """Run `function` (a GraphFunction) on argument tensors as one operation: recorded on the tapes
    of the current (eager) context, with the residuals its backward needs. Returns its outputs."""
    residuals = bool(current_context().tapes) and function.differentiable()
    inputs = list(arguments) + [variable.read_value() for variable in function.variables]
    outputs = bind(CALL, inputs, {"function": function, "residuals": residuals})
    return outputs[:len(function.output_types)]


def _call_type(*inputs, function, residuals):
    return function.output_types + (function.residual_types() if residuals else [])


def _call_impl(*arrays, function, residuals):
    return function.run(arrays, residuals)


def _call_vjp(gs, *inputs_and_outs, function, residuals):
    *inputs, outs = inputs_and_outs
    n_outputs = len(function.output_types)
    seeds = [g if g is not None else zeros_like(o) for g, o in zip(gs, outs) if o.dtype.is_floating]
    if any(g is not None for g in gs[n_outputs:]):      # a higher derivative: through the residuals too
        grads = call(function.recomputing_vjp(), list(inputs) + seeds)
    else:
        grads = call(function.backward(), seeds[:_floating(outs[:n_outputs])] + list(outs[n_outputs:]))
    sources = [i for i, v in enumerate(function.sources) if v.dtype.is_floating]
    result = [None] * len(inputs)
    for index, grad in zip(sources, grads):
        result[index] = grad
    return result


def _floating(tensors):
    return sum(1 for t in tensors if t.dtype.is_floating)


CALL = Primitive("call", _call_type, CONTROL, multiple_results=True, same_dtype=())
CALL.impl, CALL.vjp = _call_impl, _call_vjp
