"""Elementwise fusion: connected elementwise nodes with the same output shape become one
`fused` node (one loop nest in the backend). Inputs may broadcast; results used outside the
group (by other nodes, outputs or assigns) are exported. Groups never create cycles."""
import heapq

from ..dtypes import string
from ..ir.graph import Node

MIN_GROUP = 2
# A lone elementwise op also becomes a kernel when it is this large: the kernel writes into a pooled
# buffer, where NumPy would allocate (and page-fault) a fresh array on every call.
MIN_SINGLE_ELEMENTS = 1 << 12


def fusible(node):
    prim = node.prim
    if prim is None or prim.kind != "elementwise" or prim.expr is None or prim.stateful or not node.outputs:
        return False
    values = node.inputs + node.outputs
    if node.op in ("floordiv", "floormod") and node.outputs[0].dtype.is_integer:
        return False           # eager raises on integer division by zero; a numba loop cannot
    return all(v.dtype != string for v in values) and None not in node.outputs[0].shape


class Group:
    def __init__(self, members, positions):
        self.members = members
        self.ids = {id(m) for m in members}
        self.first = min(positions)
        self.shape = members[0].outputs[0].shape

    def add(self, node):
        self.members.append(node)
        self.ids.add(id(node))


def _depends_on(value, group, position):
    """Does `value` (transitively) depend on a member of `group`? Nodes before the group cannot."""
    stack, seen = [value], set()
    while stack:
        v = stack.pop()
        node = v.node
        if node is None or id(node) in seen or position.get(id(node), -1) < group.first:
            continue
        if id(node) in group.ids:
            return True
        seen.add(id(node))
        stack.extend(node.inputs)
    return False


def _legal(group, position):
    """No member reads (through nodes outside the group) a value computed by the group."""
    return not any(u.node is not None and id(u.node) not in group.ids and _depends_on(u, group, position)
                   for m in group.members for u in m.inputs)


def _group(graph):
    position = {id(n): i for i, n in enumerate(graph.nodes)}
    group_of, groups = {}, []
    for node in graph.nodes:
        if not fusible(node):
            continue
        candidates = []
        for v in node.inputs:
            g = group_of.get(id(v.node)) if v.node is not None else None
            if g is not None and g.shape == node.outputs[0].shape and g not in candidates:
                candidates.append(g)
        options = ([candidates] if len(candidates) > 1 else []) + [[g] for g in candidates]
        chosen = None
        for option in options:       # merge every neighbouring group if legal, else join one
            members = sorted([m for g in option for m in g.members] + [node], key=lambda m: position[id(m)])
            merged = Group(members, [position[id(m)] for m in members])
            if _legal(merged, position):
                chosen = (option, merged)
                break
        if chosen is None:
            merged = Group([node], [position[id(node)]])
            groups.append(merged)
        else:
            option, merged = chosen
            groups = [g for g in groups if not any(g is o for o in option)] + [merged]
        for m in merged.members:
            group_of[id(m)] = merged
    _attach_reductions(graph, groups)
    return [g for g in groups if len(g.members) >= MIN_GROUP or
            (len(g.members) == 1 and _size(g.shape) >= MIN_SINGLE_ELEMENTS and g.members[0].op != "broadcast_like")]


REDUCTIONS = ("reduce_sum", "reduce_mean", "reduce_max", "reduce_min")


def _attach_reductions(graph, groups):
    """A group whose only result feeds exactly one float reduction computes the reduction in the
    same loop (softmax denominators, cross-entropy row sums, mean of squares, bias gradients)."""
    uses = graph.uses()
    consumers = {}
    for node in graph.nodes:
        for v in node.inputs:
            consumers.setdefault(id(v), []).append(node)
    for g in groups:
        leaving = [m.outputs[0] for m in g.members
                   if any(id(c) not in g.ids for c in consumers.get(id(m.outputs[0]), ()))
                   or any(v is m.outputs[0] for v in graph.outputs)]
        if len(leaving) != 1:
            continue
        value = leaving[0]
        users = consumers.get(id(value), [])
        if uses.get(id(value), 0) != 1 or len(users) != 1:
            continue
        reduction = users[0]
        if reduction.op in REDUCTIONS and value.dtype.is_floating and _size(value.shape) > 0:
            g.add(reduction)


def _size(shape):
    size = 1
    for d in shape:
        size *= d
    return size


def _fused_node(group, used_outside):
    produced = {id(v) for m in group.members for v in m.outputs}
    inputs, seen = [], set()
    for m in group.members:
        for v in m.inputs:
            if id(v) not in produced and id(v) not in seen:
                seen.add(id(v))
                inputs.append(v)
    exports = [m.outputs[0] for m in group.members if id(m.outputs[0]) in used_outside]
    return Node("fused", None, inputs, {"members": group.members}, exports, group.members[-1].loc)


def run(graph):
    groups = _group(graph)
    if not groups:
        return []
    member_of = {id(m): g for g in groups for m in g.members}
    used_outside = {id(v) for v in graph.outputs}
    for node in graph.nodes:
        g = member_of.get(id(node))
        for v in node.inputs:
            if g is None or v.node is None or member_of.get(id(v.node)) is not g:
                used_outside.add(id(v))
    fused = {id(g): _fused_node(g, used_outside) for g in groups}
    position = {}
    nodes = []
    for i, node in enumerate(graph.nodes):
        g = member_of.get(id(node))
        if g is None:
            nodes.append(node)
            position[id(node)] = i
        elif node is g.members[-1]:
            nodes.append(fused[id(g)])
            position[id(fused[id(g)])] = i
    graph.nodes = _topological(nodes, position)
    return [f"fused[{','.join(m.op for m in g.members)}] -> {', '.join(map(repr, fused[id(g)].outputs))}"
            for g in groups]


def _topological(nodes, position):
    """Stable topological order (by original position); assigns keep their relative order."""
    producer = {id(v): n for n in nodes for v in n.outputs}
    deps = {id(n): {id(producer[id(v)]) for v in n.inputs if id(v) in producer} for n in nodes}
    previous_assign = None
    for n in nodes:
        if n.op == "assign":
            if previous_assign is not None:
                deps[id(n)].add(id(previous_assign))
            previous_assign = n
    users = {}
    for n in nodes:
        for d in deps[id(n)]:
            users.setdefault(d, []).append(n)
    remaining = {id(n): len(deps[id(n)]) for n in nodes}
    index = {id(n): i for i, n in enumerate(nodes)}
    ready = [(position[id(n)], i, n) for i, n in enumerate(nodes) if remaining[id(n)] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, i, n = heapq.heappop(ready)
        order.append(n)
        for user in users.get(id(n), ()):
            remaining[id(user)] -= 1
            if remaining[id(user)] == 0:
                heapq.heappush(ready, (position[id(user)], index[id(user)], user))
    if len(order) != len(nodes):
        raise AssertionError("fusion produced a cycle")
    return order
