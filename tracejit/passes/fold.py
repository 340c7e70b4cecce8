"""Constant folding: pure nodes whose inputs are constants (or whose result depends only on a
known shape) are evaluated once at compile time."""
import numpy as np

from ..ir.analysis import is_static, shape_size
from ..ir.graph import CONST, constant_array
from ..primitive import STRUCTURE

MAX_FOLDED_ELEMENTS = 1 << 20


def run(graph):
    changes = []
    for node in graph.nodes:
        prim = node.prim
        if prim.kind == STRUCTURE or not prim.pure or prim.multiple_results or node.effect or not node.outputs:
            continue
        out = node.outputs[0]
        size = shape_size(out.shape)
        if size is None or size > MAX_FOLDED_ELEMENTS:
            continue
        if prim.shape_only:
            if not is_static(node.inputs[0].shape):
                continue
            arrays = [np.empty(node.inputs[0].shape, node.inputs[0].dtype.np)]
        else:
            arrays = [constant_array(v) for v in node.inputs]
            if any(a is None for a in arrays):
                continue
        with np.errstate(all="ignore"):
            try:
                result = prim.apply(arrays, node.params, out.dtype.np)
            except Exception:     # e.g. an integer division by zero: leave it to fail at run time
                continue
        node.prim, node.inputs, node.params = CONST, [], {"value": np.array(result, order="C")}
        changes.append(f"folded {out!r} = {_summary(result)}")
    return changes


def _summary(array):
    return str(array.tolist()) if array.size <= 4 else f"<{array.dtype}{list(array.shape)}>"
