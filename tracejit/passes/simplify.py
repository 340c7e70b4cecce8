"""Algebraic simplification: a table of local rewrites, Primitive -> rule(node) returning the
Value that replaces the node's output (or None to leave it)."""
import numpy as np

from ..custom_gradient import CUSTOM_GRADIENT
from ..ir.analysis import is_static
from ..ir.primitives import VARIABLE_READ, uniform_scalar
from ..ops import REGISTRY as P
from ..ops.rules import reduced_shape, sum_to_axes

REWRITTEN = "rewritten"      # a rule changed the node in place


def _is(value, number):
    scalar = uniform_scalar(value)
    return scalar is not None and bool(scalar == number)


def _same_type(node, value):
    out = node.outputs[0]
    return value.shape == out.shape and value.dtype == out.dtype


def _keep_if_same(node, value):
    return value if _same_type(node, value) else None


def _identity_operand(unit, commutative):
    def rule(node):
        x, y = node.inputs
        if _is(y, unit):
            return _keep_if_same(node, x)
        if commutative and _is(x, unit):
            return _keep_if_same(node, y)
        return None
    return rule


def _double_transpose(node):
    inner = node.inputs[0].node
    if inner is None or inner.prim is not P["transpose"]:
        return None
    perm = tuple(inner.params["perm"][p] for p in node.params["perm"])
    if perm == tuple(range(len(perm))):
        return inner.inputs[0]
    node.inputs, node.params = [inner.inputs[0]], {"perm": perm}
    return REWRITTEN


def _reshape_chain(node):
    x = node.inputs[0]
    if is_static(x.shape) and tuple(x.shape) == tuple(node.outputs[0].shape):
        return x
    inner = x.node
    if inner is not None and inner.prim is P["reshape"]:
        node.inputs = [inner.inputs[0]]
        return _reshape_chain(node) or REWRITTEN
    return None


def _as_reshape(node):
    """expand_dims/squeeze with static shapes are reshapes (so reshape chains collapse)."""
    shape = node.outputs[0].shape
    if not is_static(shape):
        return None
    node.prim, node.params = P["reshape"], {"shape": tuple(shape)}
    return _reshape_chain(node) or REWRITTEN


def _double_negative(node):
    inner = node.inputs[0].node
    return inner.inputs[0] if inner is not None and inner.prim is P["negative"] else None


def _pow_constant(node):
    x, y = node.inputs
    for exponent, prim in ((2, P["square"]), (0.5, P["sqrt"])):
        if _is(y, exponent) and _same_type(node, x):
            node.prim, node.inputs = prim, [x]
            return REWRITTEN
    return _keep_if_same(node, x) if _is(y, 1) else None


def _same_shape_passthrough(node):
    return _keep_if_same(node, node.inputs[0])


def _sum_to_as_reduce_sum(node):
    """sum_to with static shapes is a reduce_sum (which reduction fusion understands)."""
    g, like = node.inputs
    if not is_static(g.shape) or not is_static(like.shape):
        return None
    if tuple(g.shape) == tuple(like.shape):
        return g
    axes = sum_to_axes(g.shape, like.shape)
    for keepdims in (False, True):
        if reduced_shape(g.shape, axes, keepdims) == tuple(like.shape):
            node.prim, node.inputs = P["reduce_sum"], [g]
            node.params = {"axis": axes, "keepdims": keepdims}
            return REWRITTEN
    return None


def _scalar_view(rule):
    """A view (reshape, transpose, broadcast...) of broadcast_to(scalar) is broadcast_to(scalar)
    of the view's shape; otherwise `rule`."""
    def rewrite(node):
        source = node.inputs[0].node
        if source is not None and source.prim is P["broadcast_to"] and source.inputs[0].shape == () and \
                is_static(node.outputs[0].shape) and node.outputs[0].dtype == source.outputs[0].dtype:
            node.prim, node.inputs = P["broadcast_to"], [source.inputs[0]]
            node.params = {"shape": tuple(node.outputs[0].shape)}
            return REWRITTEN
        return rule(node) if rule is not None else None
    return rewrite


RULES = {
    P["multiply"]: _identity_operand(1, True), P["add"]: _identity_operand(0, True),
    P["subtract"]: _identity_operand(0, False), P["divide"]: _identity_operand(1, False),
    P["transpose"]: _double_transpose, P["reshape"]: _reshape_chain, P["negative"]: _double_negative,
    P["pow"]: _pow_constant, P["identity"]: _same_shape_passthrough, P["stop_gradient"]: _same_shape_passthrough,
    P["cast"]: _same_shape_passthrough, P["broadcast_like"]: _same_shape_passthrough,
    P["sum_to"]: _sum_to_as_reduce_sum, P["broadcast_to"]: _same_shape_passthrough,
    P["expand_dims"]: _as_reshape, P["squeeze"]: _as_reshape, P["ensure_shape"]: _same_shape_passthrough,
    VARIABLE_READ: lambda node: node.inputs[0],          # a read for gradients only
}
for _prim in (P["reshape"], P["transpose"], P["broadcast_like"], P["expand_dims"], P["squeeze"]):
    RULES[_prim] = _scalar_view(RULES.get(_prim))


# Rules for nodes of several results: the Values that replace them, in order. tf.custom_gradient's
# node is an identity on its first inputs, needed only while gradients are built.
MULTI_RULES = {CUSTOM_GRADIENT: lambda node: node.inputs[:node.params["n_results"]]}


def run_rules(graph, prims):
    """Only the rules of these primitives (saving a graph drops the nodes that only shape gradients)."""
    return run(graph, lambda prim: prim in prims)


def run(graph, applies=lambda prim: True):
    changes, substitute, kept = [], {}, []
    for node in graph.nodes:
        node.inputs = [substitute.get(id(v), v) for v in node.inputs]
        if not applies(node.prim):
            kept.append(node)
            continue
        multi = MULTI_RULES.get(node.prim)
        if multi is not None:
            replacements = multi(node)
            substitute.update((id(out), value) for out, value in zip(node.outputs, replacements))
            changes.append(f"{', '.join(map(repr, node.outputs))} = {node.op} replaced by {replacements}")
            continue
        rule, before = RULES.get(node.prim), node.op
        result = rule(node) if rule is not None else None
        if result is REWRITTEN:
            changes.append(f"{node.outputs[0]!r} = {before} rewritten as {node.op} {node.inputs}")
        elif result is not None:
            substitute[id(node.outputs[0])] = result
            changes.append(f"{node.outputs[0]!r} = {before} replaced by {result!r}")
            continue
        kept.append(node)
    graph.nodes = kept
    graph.outputs = [substitute.get(id(v), v) for v in graph.outputs]
    return changes
