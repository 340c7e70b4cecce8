"""Graph invariants: SSA order, assigns target variable inputs, every primitive node's type
matches its op's type rule."""


class GraphVerificationError(AssertionError):
    pass


def verify(graph):
    defined = {v.id for v in graph.inputs} | {v.id for v, _ in graph.variables}
    var_inputs = {v.id for v, _ in graph.variables}
    for node in graph.nodes:
        for v in node.inputs:
            if v.graph is not graph or v.id not in defined:
                raise GraphVerificationError(f"{node.op} at {node.loc} uses {v!r} before it is defined")
        if node.op == "assign":
            if node.inputs[0].id not in var_inputs:
                raise GraphVerificationError(f"assign at {node.loc} targets {node.inputs[0]!r}, not a variable")
            continue
        if node.prim is not None:
            shape, dtype = node.prim.rule(*node.inputs, **node.params)
            out = node.outputs[0]
            if tuple(shape) != tuple(out.shape) or dtype != out.dtype:
                raise GraphVerificationError(
                    f"{node.op} at {node.loc}: type rule gives {dtype.name}{list(shape)}, node has "
                    f"{out.dtype.name}{list(out.shape)}")
        for out in node.outputs:
            if out.id in defined:
                raise GraphVerificationError(f"{out!r} is defined twice")
            defined.add(out.id)
    for v in graph.outputs:
        if v.graph is not graph or v.id not in defined:
            raise GraphVerificationError(f"output {v!r} is not defined")
    return graph
