"""Elementwise fusion: connected elementwise nodes with the same output shape become one
FUSED node (one loop nest in the backend). Inputs may broadcast; results used outside the
group (by other nodes, outputs or assigns) are exported. A group whose single result feeds one
float reduction with a monoid computes that reduction in the same loop. Groups never create
cycles. Which primitives may enter a loop is the backend's call (`can_lower`)."""
from ..dtypes import string
from ..ir.analysis import consumers, is_static, shape_size, topological_order, use_counts
from ..ir.graph import FUSED, Node
from ..primitive import ELEMENTWISE

MIN_GROUP = 2
# LLVM's optimizer is superlinear in the size of one loop body: a longer chain becomes several loops
MAX_GROUP = 256
# A lone elementwise op also becomes a kernel when it is this large: the kernel writes into a pooled
# buffer, where NumPy would allocate (and page-fault) a fresh array on every call.
MIN_SINGLE_ELEMENTS = 1 << 12


def fusible(node, can_lower):
    prim = node.prim
    if prim.kind != ELEMENTWISE or not prim.pure or not node.outputs or not can_lower(node):
        return False
    return all(v.dtype != string for v in node.inputs + node.outputs) and is_static(node.outputs[0].shape)


def _any_elementwise(node):
    return True


class Group:
    def __init__(self, members, positions):
        self.members = members
        self.ids = {id(m) for m in members}
        self.first = min(positions)
        self.shape = members[0].outputs[0].shape

    def add(self, node):
        self.members.append(node)
        self.ids.add(id(node))


def _depends_on(value, group, position, group_of):
    """Does `value` (transitively) depend on a member of `group`? Nodes before the group cannot,
    unless they belong to another group: a fused group runs as one unit, so what any of its
    members reads comes before all of its results (two groups must never wait for each other)."""
    stack, seen = [value], set()
    while stack:
        v = stack.pop()
        node = v.node
        if node is None or id(node) in seen:
            continue
        if id(node) in group.ids:
            return True
        seen.add(id(node))
        other = group_of.get(id(node))
        if other is not None:
            seen.update(id(m) for m in other.members)
            stack.extend(u for m in other.members for u in m.inputs)
        elif position.get(id(node), -1) >= group.first:
            stack.extend(node.inputs)
    return False


def _reads_back(node, group, position, group_of):
    """Does `node` read, through nodes or groups outside `group`, a value the group computes?"""
    return any(u.node is not None and id(u.node) not in group.ids and _depends_on(u, group, position, group_of)
               for u in node.inputs)


def _legal(group, position, group_of):
    """No member reads (through nodes or groups outside the group) a value computed by the group."""
    return not any(_reads_back(m, group, position, group_of) for m in group.members)


def _group(graph, can_lower):
    """Groups in one pass over the nodes. Joining one group checks only the new node's inputs (a
    new cycle between groups needs a path from one of them back to the group), so a long chain
    fuses in linear time; merging several groups checks the merged group whole."""
    position = {id(n): i for i, n in enumerate(graph.nodes)}
    group_of, groups = {}, {}            # id(group) -> group, in creation order
    for node in graph.nodes:
        if not fusible(node, can_lower):
            continue
        candidates = []
        for v in node.inputs:
            g = group_of.get(id(v.node)) if v.node is not None else None
            if g is not None and g.shape == node.outputs[0].shape and g not in candidates:
                candidates.append(g)
        chosen = None
        if len(candidates) > 1 and sum(len(g.members) for g in candidates) < MAX_GROUP:     # merge them all if legal
            members = sorted([m for g in candidates for m in g.members] + [node], key=lambda m: position[id(m)])
            merged = Group(members, [position[id(m)] for m in members])
            if _legal(merged, position, group_of):
                for g in candidates:
                    del groups[id(g)]
                chosen = merged
        if chosen is None:
            for g in candidates:         # else join one
                if len(g.members) < MAX_GROUP and not _reads_back(node, g, position, group_of):
                    g.add(node)
                    chosen = g
                    break
        if chosen is None:
            chosen = Group([node], [position[id(node)]])
        groups[id(chosen)] = chosen
        for m in chosen.members if len(candidates) > 1 and chosen not in candidates else [node]:
            group_of[id(m)] = chosen
    groups = list(groups.values())
    _attach_reductions(graph, groups)
    return [g for g in groups if len(g.members) >= MIN_GROUP or
            (len(g.members) == 1 and shape_size(g.shape) >= MIN_SINGLE_ELEMENTS and not g.members[0].prim.view)]


def _attach_reductions(graph, groups):
    """A group whose only result feeds exactly one float reduction computes the reduction in the
    same loop (softmax denominators, cross-entropy row sums, mean of squares, bias gradients)."""
    uses = use_counts(graph)
    users_of = consumers(graph.nodes)
    for g in groups:
        leaving = [m.outputs[0] for m in g.members
                   if any(id(c) not in g.ids for c in users_of.get(id(m.outputs[0]), ()))
                   or any(v is m.outputs[0] for v in graph.outputs)]
        if len(leaving) != 1:
            continue
        value = leaving[0]
        users = users_of.get(id(value), [])
        if uses.get(id(value), 0) != 1 or len(users) != 1:
            continue
        reduction = users[0]
        if reduction.prim.monoid is not None and value.dtype.is_floating and shape_size(value.shape) > 0:
            g.add(reduction)


def _fused_node(group, used_outside):
    produced = {id(v) for m in group.members for v in m.outputs}
    inputs, seen = [], set()
    for m in group.members:
        for v in m.inputs:
            if id(v) not in produced and id(v) not in seen:
                seen.add(id(v))
                inputs.append(v)
    exports = [m.outputs[0] for m in group.members if id(m.outputs[0]) in used_outside]
    return Node(FUSED, inputs, {"members": group.members}, exports, group.members[-1].loc)


def run(graph, can_lower=_any_elementwise):
    """can_lower(node) -> whether the backend can compute this elementwise node inside a loop."""
    groups = _group(graph, can_lower)
    if not groups:
        return []
    member_of = {id(m): g for g in groups for m in g.members}
    used_outside = {id(v) for v in graph.outputs}
    for node in graph.nodes:
        g = member_of.get(id(node))
        for v in node.inputs:
            if g is None or v.node is None or member_of.get(id(v.node)) is not g:
                used_outside.add(id(v))
    # a group nothing uses is dead code (DCE may be disabled, e.g. while bisecting): left unfused
    groups = [g for g in groups if any(id(m.outputs[0]) in used_outside for m in g.members)]
    member_of = {id(m): g for g in groups for m in g.members}
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
    graph.nodes = topological_order(nodes, position)
    return [f"fused[{','.join(m.op for m in g.members)}] -> {', '.join(map(repr, fused[id(g)].outputs))}"
            for g in groups]


# ---- why kernels are where they are (concrete.fusion_report) ----
def boundary_reason(producer, consumer, value, uses, can_lower=_any_elementwise):
    """Why `producer` (which computes `value`) and `consumer` (which reads it) run in different
    kernels, by the rules above."""
    for node in (producer, consumer):
        trailing_reduction = node is consumer and node.prim.monoid is not None
        if node.prim.kind != ELEMENTWISE and not trailing_reduction:
            return f"{node.op} boundary"
    for node in (producer, consumer):
        if node.prim.monoid is None and not fusible(node, can_lower):
            return f"{node.op} does not lower into a loop"
    if consumer.prim.monoid is not None:
        if not value.dtype.is_floating:
            return "reduction of integers (kept exact, outside loops)"
        if uses.get(id(value), 0) > 1:
            return f"{uses[id(value)]} consumers (a fused reduction needs its input's only reader)"
        return "the group has other results (a reduction joins a group with one result)"
    if tuple(producer.outputs[0].shape) != tuple(consumer.outputs[0].shape):
        return f"shape mismatch {list(producer.outputs[0].shape)} vs {list(consumer.outputs[0].shape)}"
    return "merging would create a cycle through a node outside the group"
