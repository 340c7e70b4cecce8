"""The IR's own structural primitives (see graph.py): constants, variable assignments and fused groups."""
from ..primitive import STRUCTURE, Primitive

CONST = Primitive("const", kind=STRUCTURE, differentiable=False)
ASSIGN = Primitive("assign", kind=STRUCTURE, effect=True, differentiable=False)
FUSED = Primitive("fused", kind=STRUCTURE, differentiable=False)


def constant_array(value):
    """The ndarray of a CONST node's output, else None."""
    node = value.node
    return node.params["value"] if node is not None and node.prim is CONST else None
