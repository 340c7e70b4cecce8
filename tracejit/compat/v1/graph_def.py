"""A TF1 graph as a TensorBoard GraphDef (hand-encoded protobuf, see summary/events.py)."""
from ...ir.primitives import ASSIGN
from ...summary import events


def graph_def(graph):
    nodes = [(v.name, "Placeholder", [], events.DATATYPE_ENUM.get(v.dtype.name)) for v in graph.inputs]
    nodes += [(v.name.rsplit(":", 1)[0], "VariableV2", [], events.DATATYPE_ENUM.get(v.dtype.name))
              for v, _ in graph.variables]
    for node in graph.nodes:
        if node.prim is ASSIGN or not node.outputs:
            continue
        out = node.outputs[0]
        name = out.name.split(":")[0] if out.name else None         # "while:0": one op of several outputs
        nodes.append((name or f"v{out.id}", name.split("/")[-1].split("_")[0] if name else node.op,
                      [v.name or f"v{v.id}" for v in node.inputs], events.DATATYPE_ENUM.get(out.dtype.name)))
    return events.graph_def(nodes)
