"""Tracing: run the Python function once with symbolic Tensors and record a Graph."""
from .. import nest
from ..context import TraceContext, entered
from ..errors import TracingError
from ..ir.graph import Graph
from ..ir.verify import verify
from ..ops.core import convert_to_tensor
from ..tensor import Tensor
from ..variables import Variable
from . import signature as sig

NONE_OUTPUT = object()


def trace(python_function, name, bound, leaves, allow_variable_creation, capture_bytes=None, observer=None):
    """Returns (graph, output structure with output indices at its leaves). capture_bytes and
    observer: see TraceContext."""
    graph = Graph(name)
    symbolic = {}
    with entered(TraceContext(graph, allow_variable_creation, capture_bytes, observer)) as context:
        for leaf in leaves:
            if leaf.kind == sig.TENSOR:
                if leaf.spec.shape.rank is None:
                    raise NotImplementedError(
                        f"@function '{name}': argument {leaf.path} has unknown rank ({leaf.spec}); a traced graph "
                        "needs the rank: give the TensorSpec a shape with None for the dimensions that vary, e.g. "
                        "TensorSpec([None, None]) (tf.compat.v1 placeholders may have unknown rank)")
                symbolic[id(leaf)] = Tensor(symbol=graph.add_input(leaf.spec.shape, leaf.spec.dtype, leaf.path))
        it = iter(leaves)
        args, kwargs = _symbolic_arguments(bound, it, symbolic)
        result = python_function(*args, **kwargs)
        outputs = []
        structure = nest.map_structure(lambda value: _output_index(context, value, outputs), result)
    graph.outputs = outputs
    verify(graph)
    return graph, structure


def _symbolic_arguments(bound, leaves, symbolic):
    """The bound arguments with tensor leaves replaced by their symbolic tensors."""
    def next_leaf():
        leaf = next(leaves)
        return symbolic.get(id(leaf), leaf.value)
    return sig.rebuild_arguments(bound, next_leaf)


def _output_index(context, value, outputs):
    if value is None:
        return NONE_OUTPUT
    if isinstance(value, Variable):
        value = value.read_value()
    if not isinstance(value, Tensor):
        try:
            value = convert_to_tensor(value)
        except (TypeError, ValueError):
            raise TracingError(f"@function '{context.graph.name}' returned a {type(value).__name__}, which is not "
                               "a tensor, number, string, None or a list/tuple/dict of those") from None
    outputs.append(context.symbol(value, "the function's result"))
    return len(outputs) - 1

