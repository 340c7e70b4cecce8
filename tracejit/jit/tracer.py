"""Tracing: run the Python function once with symbolic Tensors and record a Graph."""
from ..errors import TracingError
from ..ir.graph import Graph, building
from ..ir.verify import verify
from ..ops.core import convert_to_tensor
from ..tensor import Tensor
from ..variables import Variable
from . import signature as sig

NONE_OUTPUT = object()


def trace(python_function, name, bound, leaves, allow_variable_creation):
    """Returns (graph, output structure with output indices at its leaves)."""
    graph = Graph(name)
    graph.allow_variable_creation = allow_variable_creation
    symbolic = {}
    with building(graph):
        for leaf in leaves:
            if leaf.kind == sig.TENSOR:
                symbolic[id(leaf)] = Tensor(symbol=graph.add_input(leaf.spec.shape, leaf.spec.dtype, leaf.path))
        it = iter(leaves)
        args, kwargs = _symbolic_arguments(bound, it, symbolic)
        result = python_function(*args, **kwargs)
        outputs = []
        structure = sig.unflatten(result, lambda value: _output_index(graph, value, outputs))
    graph.outputs = outputs
    verify(graph)
    return graph, structure


def _symbolic_arguments(bound, leaves, symbolic):
    """Rebuild the bound arguments, leaves in flatten order, tensors replaced by symbols."""
    def rebuild(value):
        if isinstance(value, dict):
            rebuilt = {k: rebuild(value[k]) for k in sorted(value)}     # flatten order
            return {k: rebuilt[k] for k in value}
        if isinstance(value, (list, tuple)) and not isinstance(value, Tensor):
            items = [rebuild(v) for v in value]
            return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
        leaf = next(leaves)
        return symbolic.get(id(leaf), leaf.value)
    rebuilt = {name: rebuild(value) for name, value in bound.arguments.items()}
    args, kwargs = [], {}
    for param in bound.signature.parameters.values():
        if param.name not in rebuilt:
            continue
        value = rebuilt[param.name]
        if param.kind == param.VAR_POSITIONAL:
            args.extend(value)
        elif param.kind == param.VAR_KEYWORD:
            kwargs.update(value)
        elif param.kind == param.KEYWORD_ONLY:
            kwargs[param.name] = value
        else:
            args.append(value)
    return args, kwargs


def _output_index(graph, value, outputs):
    if value is None:
        return NONE_OUTPUT
    if isinstance(value, Variable):
        value = value.read_value()
    if not isinstance(value, Tensor):
        try:
            value = convert_to_tensor(value)
        except (TypeError, ValueError):
            raise TracingError(f"@function '{graph.name}' returned a {type(value).__name__}, which is not a "
                               "tensor, number, string, None or a list/tuple/dict of those") from None
    symbol = value._symbol if value._symbol is not None else graph.constant(value._value)
    outputs.append(symbol)
    return len(outputs) - 1

