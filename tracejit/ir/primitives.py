"""The IR's own structural primitives (see graph.py): constants, variable assignments, fused
groups, and reads of a Variable after an assignment inside a control-flow subgraph."""
import numpy as np

from ..primitive import STRUCTURE, Primitive

CONST = Primitive("const", kind=STRUCTURE, differentiable=False)
ASSIGN = Primitive("assign", kind=STRUCTURE, effect=True, differentiable=False)
FUSED = Primitive("fused", kind=STRUCTURE, differentiable=False)


def constant_array(value):
    """The ndarray of a CONST node's output, else None."""
    node = value.node
    return node.params["value"] if node is not None and node.prim is CONST else None


def _read_type(value, start):
    return value.shape, value.dtype


# A Variable read after an assignment in a trace (context.py): the value is `value` (what was
# assigned), but for gradients built from the graph (a control-flow body's vjp, the backward graph
# of a function called under a tape) it is a read of the Variable, as in TF: the gradient goes to
# `start` (the Variable's value where the graph starts, attributed to the Variable), never through
# the assignment to what computed `value`. Simplification replaces it by `value` once gradients are
# built.
VARIABLE_READ = Primitive("variable_read", _read_type, STRUCTURE, same_dtype=())
VARIABLE_READ.impl = lambda value, start: value
VARIABLE_READ.vjp = lambda g, value, start, out: (None, g)


def uniform_scalar(value):
    """When every element of `value` is one constant number — a constant array of equal elements,
    or views of one (broadcasts, reshapes, transposes, slices) — that number as a 0-d array of the
    constant's dtype; else None. (NaN elements never compare equal: not uniform.)"""
    node = value.node
    while node is not None and node.prim.view:
        node = node.inputs[0].node
    if node is None or node.prim is not CONST:
        return None
    array = node.params["value"]
    return uniform_element(array) if isinstance(array, np.ndarray) else None


def uniform_element(array):
    """The one value every element of a numeric `array` has, as a 0-d array of its dtype; else None
    (also for empty arrays, and past 2**24 elements, where checking costs more than it saves)."""
    if array.size == 0 or array.dtype.kind not in "biuf":
        return None
    first = array.reshape(-1)[0]
    if array.size > 1 and not (array.size <= 1 << 24 and bool(np.all(array == first))):
        return None
    return np.array(first, dtype=array.dtype)
