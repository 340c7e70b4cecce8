"""Common-subexpression elimination: identical (op, inputs, params) nodes compute once;
identical small constants are shared."""
import numpy as np

from ..ir.graph import CONST
from ..primitive import STRUCTURE

MAX_SHARED_CONSTANT = 4096


def _param_key(value):
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, slice):
        return ("slice", value.start, value.stop, value.step)
    if isinstance(value, (tuple, list)):
        return tuple(_param_key(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _param_key(v)) for k, v in value.items()))
    return (type(value).__name__, repr(value))


def _eligible(node):
    if node.prim is CONST:
        return node.params["value"].size <= MAX_SHARED_CONSTANT
    return node.prim.pure and node.prim.kind != STRUCTURE and not node.prim.multiple_results and not node.effect


def run(graph):
    seen, substitute, changes, kept = {}, {}, [], []
    for node in graph.nodes:
        node.inputs = [substitute.get(id(v), v) for v in node.inputs]
        if not _eligible(node):
            kept.append(node)
            continue
        out = node.outputs[0]
        key = (node.prim, tuple(id(v) for v in node.inputs), _param_key(node.params), out.dtype.name, out.shape)
        previous = seen.setdefault(key, out)
        if previous is out:
            kept.append(node)
        else:
            substitute[id(out)] = previous
            changes.append(f"{out!r} = {node.op} is a duplicate of {previous!r}")
    graph.nodes = kept
    graph.outputs = [substitute.get(id(v), v) for v in graph.outputs]
    return changes
