"""Constant folding: nodes whose inputs are constants (or that depend only on known shapes)
are evaluated once at compile time. Stateful ops (random) are never folded."""
import numpy as np

from ..ops.core import apply_impl

MAX_FOLDED_ELEMENTS = 1 << 20
SHAPE_ONLY = {"fill_like", "shape"}     # results depend on the input's shape, not its values


def _constant(value):
    node = value.node
    return node.params["value"] if node is not None and node.op == "const" else None


def run(graph):
    changes = []
    for i, node in enumerate(graph.nodes):
        if node.prim is None or node.prim.stateful or not node.outputs:
            continue
        out = node.outputs[0]
        if None in out.shape or int(np.prod(out.shape)) > MAX_FOLDED_ELEMENTS:
            continue
        if node.op in SHAPE_ONLY:
            if None in node.inputs[0].shape:
                continue
            arrays = [np.empty(node.inputs[0].shape, node.inputs[0].dtype.np)]
        else:
            arrays = [_constant(v) for v in node.inputs]
            if any(a is None for a in arrays):
                continue
        with np.errstate(all="ignore"):
            try:
                result = apply_impl(node.prim.impl, arrays, node.params, out.dtype.np)
            except Exception:     # e.g. an integer division by zero: leave it to fail at run time
                continue
        node.op, node.prim, node.inputs, node.params = "const", None, [], {"value": np.array(result, order="C")}
        changes.append(f"folded {out!r} = {_summary(result)}")
    return changes


def _summary(array):
    return str(array.tolist()) if array.size <= 4 else f"<{array.dtype}{list(array.shape)}>"
