"""Constant folding: pure nodes whose inputs are constants (or whose result depends only on a
known shape) are evaluated once at compile time. A result whose elements are all equal (zeros
for a ReLU gradient's select, the 1/N of a mean's gradient) becomes `broadcast_to(scalar)`, not an
array of copies: native code reads it as a literal, and elementwise ops on such values fold on
the scalar whatever their shape."""
import numpy as np

from ..ir.analysis import is_static, shape_size
from ..ir.graph import CONST, Node, constant_array
from ..ir.primitives import uniform_element, uniform_scalar
from ..ops import REGISTRY
from ..primitive import ELEMENTWISE, STRUCTURE

MAX_FOLDED_ELEMENTS = 1 << 20
_BROADCAST_TO = REGISTRY["broadcast_to"]


def _folded(node):
    """The node's constant result, or None."""
    prim, out = node.prim, node.outputs[0]
    if not is_static(out.shape):
        return None
    if prim.shape_only:
        if not is_static(node.inputs[0].shape) or shape_size(out.shape) > MAX_FOLDED_ELEMENTS:
            return None
        arrays = [np.empty(node.inputs[0].shape, node.inputs[0].dtype.np)]
    elif prim.kind == ELEMENTWISE and all(uniform_scalar(v) is not None for v in node.inputs):
        arrays = [uniform_scalar(v) for v in node.inputs]       # uniform in, uniform out: one element
    else:
        arrays = [_constant_value(v) for v in node.inputs]
        if any(a is None for a in arrays) or shape_size(out.shape) > MAX_FOLDED_ELEMENTS:
            return None
    with np.errstate(all="ignore"):
        try:
            return np.asarray(prim.apply(arrays, node.params, out.dtype.np), dtype=out.dtype.np)
        except Exception:     # e.g. an integer division by zero: leave it to fail at run time
            return None


def _constant_value(value):
    """The array a constant value holds (a uniform one broadcast to its shape), or None."""
    array = constant_array(value)
    if array is not None:
        return array
    scalar = uniform_scalar(value)
    if scalar is None or not is_static(value.shape) or shape_size(value.shape) > MAX_FOLDED_ELEMENTS:
        return None
    return np.broadcast_to(scalar.astype(value.dtype.np), value.shape)


def _as_broadcast_scalar(graph, node, array):
    """Turn `node` into broadcast_to(scalar constant) when `array` (its value) is uniform; the new
    constant node, else None."""
    out = node.outputs[0]
    element = uniform_element(array) if out.shape != () and is_static(out.shape) else None
    if element is None:
        return None
    scalar = Node(CONST, [], {"value": element.astype(out.dtype.np)}, [], node.loc)
    scalar.outputs = [graph.new_value((), out.dtype, scalar)]
    node.prim, node.inputs, node.params = _BROADCAST_TO, [scalar.outputs[0]], {"shape": tuple(out.shape)}
    return scalar


def run(graph):
    changes, nodes = [], []
    for node in graph.nodes:
        prim = node.prim
        if prim is CONST and node.params["value"].size > 1:
            scalar = _as_broadcast_scalar(graph, node, node.params["value"])
            if scalar is not None:          # a constant array of copies (tf.zeros([...]) in the trace)
                nodes.append(scalar)
                changes.append(f"{node.outputs[0]!r} = uniform constant as broadcast_to({scalar.params['value']})")
        elif prim.kind != STRUCTURE and prim.pure and not prim.multiple_results and not node.effect and node.outputs \
                and not _is_broadcast_scalar(node):
            result = _folded(node)
            if result is not None:
                scalar = _as_broadcast_scalar(graph, node, result)
                if scalar is not None:
                    nodes.append(scalar)
                    changes.append(f"folded {node.outputs[0]!r} = broadcast_to({scalar.params['value']})")
                elif result.shape == tuple(node.outputs[0].shape):
                    node.prim, node.inputs, node.params = CONST, [], {"value": np.array(result, order="C")}
                    changes.append(f"folded {node.outputs[0]!r} = {_summary(result)}")
        nodes.append(node)
    graph.nodes = nodes
    return changes


def _is_broadcast_scalar(node):
    """Already the form this pass gives uniform values."""
    return node.prim is _BROADCAST_TO and node.inputs[0].shape == () and constant_array(node.inputs[0]) is not None


def _summary(array):
    return str(array.tolist()) if array.size <= 4 else f"<{array.dtype}{list(array.shape)}>"
