"""`concrete.fusion_report()`: every kernel of the optimized graph (a fused loop or a single op)
with its member ops, static cost (FLOPs, bytes moved, arithmetic intensity) and, for each value it
reads from another kernel, why the two were not fused (the fuse pass's own rules)."""
from ..ir.analysis import shape_size, use_counts
from ..ir.primitives import ASSIGN, CONST, FUSED
from ..passes.fuse import boundary_reason
from ..primitive import MATMUL, STRUCTURE


class Kernel:
    def __init__(self, node, members, flops, nbytes, boundaries):
        self.node, self.members, self.flops, self.bytes = node, members, flops, nbytes
        self.boundaries = boundaries        # [(value read, producer op, reason)]

    @property
    def name(self):
        return f"fused[{','.join(self.members)}]" if self.node.prim is FUSED else self.members[0]

    @property
    def intensity(self):
        return self.flops / self.bytes if self.bytes else 0.0

    def __repr__(self):
        return f"<Kernel {self.name}: {self.flops} flops, {self.bytes} bytes>"


class FusionReport:
    def __init__(self, name, kernels):
        self.name, self.kernels = name, kernels

    def __str__(self):
        lines = [f"fusion report of {self.name}: {len(self.kernels)} kernels"]
        for k in self.kernels:
            out = k.node.outputs[0]
            lines.append(f"  {k.name} -> {', '.join(map(repr, k.node.outputs))} {out.dtype.name}{list(out.shape)}: "
                         f"{k.flops} flops, {k.bytes} bytes, {k.intensity:.2f} flop/B  # {k.node.loc}")
            for value, producer, reason in k.boundaries:
                lines.append(f"      reads {value!r} from {producer}: not fused: {reason}")
        return "\n".join(lines)

    __repr__ = __str__


def _cost(node, members):
    """(flops, bytes): matmul 2*M*N*K per product, one flop per element per other op; bytes of the
    values read from outside and written."""
    flops = 0
    for m in members:
        out = m.outputs[0]
        if m.prim.kind == MATMUL:
            a = m.inputs[0]
            k = a.shape[-2] if m.params.get("transpose_a") else a.shape[-1]
            flops += 2 * shape_size(out.shape) * k
        else:
            flops += shape_size(m.inputs[0].shape if m.prim.monoid is not None else out.shape)
    nbytes = sum(shape_size(v.shape) * v.dtype.size for v in node.inputs + node.outputs)
    return flops, nbytes


def fusion_report(concrete, can_lower):
    graph = concrete.optimized_graph
    uses = use_counts(graph)
    member_node = {}                # id(member) -> the member itself, for producers inside FUSED nodes
    for node in graph.nodes:
        for m in node.params["members"] if node.prim is FUSED else [node]:
            for v in m.outputs:
                member_node[id(v)] = m
    kernels = []
    for node in graph.nodes:
        if node.prim in (CONST, ASSIGN) or (node.prim.kind == STRUCTURE and node.prim is not FUSED) or \
                node.prim.view or not node.outputs or any(d is None for v in node.outputs for d in v.shape):
            continue
        members = node.params["members"] if node.prim is FUSED else [node]
        boundaries = []
        for value in node.inputs:
            producer = member_node.get(id(value))
            if producer is None or producer.prim is CONST or producer.prim.view:
                continue
            consumer = next(m for m in members if any(v is value for v in m.inputs))
            boundaries.append((value, producer.op, boundary_reason(producer, consumer, value, uses, can_lower)))
        flops, nbytes = _cost(node, members)
        kernels.append(Kernel(node, [m.op for m in members], flops, nbytes, boundaries))
    return FusionReport(concrete.graph.name, kernels)
