"""Graph utilities shared by tracing, passes, backends and TF1 sessions: sizes, use counts,
reachability and a stable topological order. Each is written once, here."""
import heapq


def shape_size(shape):
    """Number of elements of a shape, or None when a dimension (or the rank) is unknown."""
    if shape is None or getattr(shape, "_unknown_rank", False):
        return None
    size = 1
    for d in shape:
        if d is None:
            return None
        size *= d
    return size


def is_static(shape):
    """Are the rank and every dimension known? (A py_function's result may have an unknown rank.)"""
    return shape is not None and None not in shape


def consumers(nodes):
    """id(Value) -> the nodes that read it, in program order."""
    users = {}
    for node in nodes:
        for v in node.inputs:
            users.setdefault(id(v), []).append(node)
    return users


def use_counts(graph):
    """id(Value) -> number of uses by nodes and graph outputs."""
    counts = {}
    for node in graph.nodes:
        for v in node.inputs:
            counts[id(v)] = counts.get(id(v), 0) + 1
    for v in graph.outputs:
        counts[id(v)] = counts.get(id(v), 0) + 1
    return counts


def ancestors(values):
    """id() of every Value the given values are computed from, themselves included."""
    needed, stack = set(), list(values)
    while stack:
        v = stack.pop()
        if id(v) in needed:
            continue
        needed.add(id(v))
        if v.node is not None:
            stack.extend(v.node.inputs)
    return needed


def topological_order(nodes, position):
    """Nodes ordered so every value is defined before use; ties keep `position` (id(node) -> rank),
    and effects keep their relative order (they may touch the same state)."""
    producer = {id(v): n for n in nodes for v in n.outputs}
    deps = {id(n): {id(producer[id(v)]) for v in n.inputs if id(v) in producer} for n in nodes}
    previous_effect = None
    for n in nodes:
        if n.effect:
            if previous_effect is not None:
                deps[id(n)].add(id(previous_effect))
            previous_effect = n
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
        _, _, n = heapq.heappop(ready)
        order.append(n)
        for user in users.get(id(n), ()):
            remaining[id(user)] -= 1
            if remaining[id(user)] == 0:
                heapq.heappush(ready, (position[id(user)], index[id(user)], user))
    if len(order) != len(nodes):
        raise AssertionError("the graph has a cycle")
    return order
