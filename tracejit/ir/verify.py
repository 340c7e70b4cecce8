"""Graph invariants: SSA order, assigns target variable inputs, every primitive node's type
matches its op's type rule."""
from ..tensor import format_shape_dtype, known_dims
from .primitives import ASSIGN, CONST, FUSED


class GraphVerificationError(AssertionError):
    pass


def verify(graph):
    defined = {v.id for v in graph.inputs} | {v.id for v, _ in graph.variables}
    var_inputs = {v.id for v, _ in graph.variables}
    for node in graph.nodes:
        for v in node.inputs:
            if v.graph is not graph or v.id not in defined:
                raise GraphVerificationError(f"{node.op} at {node.loc} uses {v!r} before it is defined")
        if node.prim is ASSIGN:
            if node.inputs[0].id not in var_inputs:
                raise GraphVerificationError(f"assign at {node.loc} targets {node.inputs[0]!r}, not a variable")
            continue
        if node.prim is FUSED:
            _verify_fused(node)
        elif node.prim is not CONST:
            _check_type(node)
        for out in node.outputs:
            if out.id in defined:
                raise GraphVerificationError(f"{out!r} is defined twice")
            defined.add(out.id)
    for v in graph.outputs:
        if v.graph is not graph or v.id not in defined:
            raise GraphVerificationError(f"output {v!r} is not defined")
    return graph


def _check_type(node):
    result_type = node.prim.rule(*node.inputs, **node.params)
    types = result_type if node.prim.multiple_results else [result_type]
    if len(types) != len(node.outputs):
        raise GraphVerificationError(f"{node.op} at {node.loc}: type rule gives {len(types)} results, node has "
                                     f"{len(node.outputs)}")
    for (shape, dtype), out in zip(types, node.outputs):
        if known_dims(shape) != out.shape or dtype != out.dtype:
            raise GraphVerificationError(f"{node.op} at {node.loc}: type rule gives "
                                         f"{format_shape_dtype(shape, dtype)}, node has "
                                         f"{format_shape_dtype(out.shape, out.dtype)}")


def _verify_fused(node):
    available = {id(v) for v in node.inputs}
    for member in node.params["members"]:
        if any(id(v) not in available for v in member.inputs):
            raise GraphVerificationError(f"fused node at {node.loc}: member {member.op} reads a value that is "
                                         "neither a fused input nor computed earlier in the group")
        _check_type(member)
        available.add(id(member.outputs[0]))
    if any(id(v) not in available for v in node.outputs):
        raise GraphVerificationError(f"fused node at {node.loc} exports a value its members do not compute")
