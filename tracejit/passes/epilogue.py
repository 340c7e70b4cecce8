"""GEMM epilogues: `c + s * matmul(a, b)` and `c - s * matmul(a, b)` (s a scalar constant or
absent, c of the product's shape and dtype) become one `gemm` node, which BLAS computes as
C = alpha A B + beta C. An SGD update of a weight matrix then reads and writes the weights once,
with no product buffer and no separate update loop (and in place, see inplace.py)."""
from ..ir.analysis import use_counts
from ..ir.graph import Node
from ..ir.primitives import constant_array
from ..ops import REGISTRY

_MATMUL, _GEMM = REGISTRY["matmul"], REGISTRY["gemm"]
_ADD, _SUBTRACT, _MULTIPLY = REGISTRY["add"], REGISTRY["subtract"], REGISTRY["multiply"]


def _scalar(value):
    array = constant_array(value)
    return float(array) if array is not None and array.shape == () else None


def _scaled_product(value, uses):
    """(matmul node, scale) when `value` is matmul(a, b) or a scalar constant times it, used only here."""
    node = value.node
    if node is None or uses.get(id(value)) != 1:
        return None
    if node.prim is _MATMUL:
        return node, 1.0
    if node.prim is _MULTIPLY:
        for product, scale in (node.inputs, node.inputs[::-1]):
            s = _scalar(scale)
            if s is not None and product.node is not None and product.node.prim is _MATMUL and \
                    uses.get(id(product)) == 1:
                return product.node, s
    return None


def _rewrite(node, uses):
    """The gemm node replacing an add/subtract `node`, or None."""
    out = node.outputs[0]
    if out.dtype.name not in ("float32", "float64"):
        return None
    first, second = node.inputs
    options = [(first, second)] if node.prim is _SUBTRACT else [(first, second), (second, first)]
    for c, term in options:
        found = _scaled_product(term, uses)
        if found is None or tuple(c.shape) != tuple(out.shape) or c.dtype != out.dtype:
            continue
        matmul, scale = found
        alpha = -scale if node.prim is _SUBTRACT else scale
        a, b = matmul.inputs
        gemm = Node(_GEMM, [a, b, c], {"alpha": alpha, **matmul.params}, [out], node.loc)
        out.node = gemm
        return gemm
    return None


def run(graph):
    uses = use_counts(graph)
    changes, nodes, replaced = [], [], {}
    for node in graph.nodes:
        if node.prim in (_ADD, _SUBTRACT) and None not in node.outputs[0].shape:
            gemm = _rewrite(node, uses)
            if gemm is not None:
                nodes.append(gemm)
                replaced[id(node)] = gemm
                changes.append(f"{node.outputs[0]!r} = {node.op}(..matmul..) -> gemm alpha={gemm.params['alpha']:g}")
                continue
        nodes.append(node)
    if replaced:
        graph.nodes = nodes          # the matmul and the multiply are now unused: DCE removes them
    return changes
