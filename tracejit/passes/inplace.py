"""In-place update planning: an assignment `v <- f(v, ...)` computed by one fused loop can store
its result straight into v's buffer (the loop reads v[i] before writing v[i]), instead of into a
fresh buffer that then replaces v's. Marks such ASSIGN nodes with `in_place=True`; backends
that keep variable buffers honour the mark. Safe when:
  - v is assigned once in the graph, from a value a FUSED node computes elementwise (no trailing
    reduction: the loop runs over v's own index space) and that node reads v — or from a gemm
    node accumulating into v (C = alpha A B + C) whose A and B are not v or views of it;
  - nothing after that node reads v's old value, and v's old value is not a graph output."""
from ..ir.graph import ASSIGN, FUSED
from ..ops import REGISTRY

_GEMM = REGISTRY["gemm"]


def _view_of(value, target):
    """Is `value` `target` itself or a view primitive's result over it?"""
    while value is not target:
        node = value.node
        if node is None or not node.prim.view:
            return False
        value = node.inputs[0]
    return True


def _updates_in_place(writer, variable_value):
    """Can `writer` store its result over `variable_value`'s buffer while reading it?"""
    if writer.prim is FUSED:
        return writer.params["members"][-1].prim.monoid is None and \
            any(v is variable_value for v in writer.inputs)
    a, b, c = writer.inputs
    return c is variable_value and not _view_of(a, variable_value) and not _view_of(b, variable_value)


def run(graph):
    position = {id(n): i for i, n in enumerate(graph.nodes)}
    writer_of = {id(v): n for n in graph.nodes if n.prim is FUSED or n.prim is _GEMM for v in n.outputs}
    readers = {}
    for n in graph.nodes:
        for v in n.inputs:
            readers.setdefault(id(v), []).append(n)
    assigns = {}
    for n in graph.nodes:
        if n.prim is ASSIGN:
            assigns.setdefault(id(n.inputs[0]), []).append(n)
    returned = {id(v) for v in graph.outputs}
    changes = []
    for variable_value, variable in graph.variables:
        mine = assigns.get(id(variable_value), [])
        if len(mine) != 1 or id(variable_value) in returned:
            continue
        assign = mine[0]
        value = assign.inputs[1]
        writer = writer_of.get(id(value))
        if writer is None or not _updates_in_place(writer, variable_value):
            continue
        if tuple(value.shape) != tuple(variable_value.shape) or value.dtype != variable_value.dtype:
            continue
        if all(position[id(r)] <= position[id(writer)] for r in readers[id(variable_value)] if r is not assign):
            assign.params = {**assign.params, "in_place": True}     # params are shared with the traced graph
            what = f"fused[{','.join(m.op for m in writer.params['members'])}]" if writer.prim is FUSED else writer.op
            changes.append(f"{variable.name} <- {value!r} stored in place by {what}")
    return changes
