"""From a FUSED node to a kernel: classify its inputs (arrays with a broadcast pattern, or
scalars for constants with a single value), translate the members through the lowering table
into statements, derive a trailing reduction from its monoid, and generate the loop nest with
kernels.loops."""
import numpy as np

from kernels import loops
from ...ir.analysis import shape_size
from ...ir.graph import constant_array
from .lowering import FLOAT16, LOWERINGS


class KernelInfo:
    """What one generated kernel does, for introspection and debug output."""

    def __init__(self, name, members, shape, dtype, flops, nbytes, source, parallel):
        self.name, self.members, self.shape, self.dtype = name, members, shape, dtype
        self.flops, self.bytes, self.source, self.parallel = flops, nbytes, source, parallel

    def __repr__(self):
        return (f"<kernel {self.name} fused[{','.join(self.members)}] {self.dtype}{list(self.shape)} "
                f"~{self.flops} flops, {self.bytes} bytes{' parallel' if self.parallel else ''}>")


def scalar_constant(value):
    """The single value of a constant input (shape () or all elements equal), else None."""
    array = constant_array(value)
    if array is None or array.size == 0 or array.dtype == object:
        return None
    first = array.reshape(-1)[0]
    if array.size == 1 or (array.size <= 1 << 16 and np.all(array == first)):
        return array.dtype.type(first)
    return None


def _pattern(value, out_shape):
    rank, offset = len(out_shape), len(out_shape) - len(value.shape)
    return tuple(d >= offset and value.shape[d - offset] == out_shape[d] for d in range(rank))


def _reduction_spec(reduction, rank, imports):
    """kernels.loops' description of a trailing reduction, derived from the primitive's monoid."""
    monoid = reduction.prim.monoid
    combine = LOWERINGS.get(monoid.combine)
    imports.update(combine.imports)
    axes = reduction.params["axis"]
    return loops.Reduction(identity=repr(float(monoid.identity)).replace("inf", "np.inf"),
                           combine=combine.expression(reduction, ["{acc}", "{v}"]), mean=monoid.mean,
                           reduced=tuple(d in axes for d in range(rank)))


def ends_in_reduction(node):
    """Does this FUSED node end in a reduction (its result is smaller than its loop)?"""
    return node.params["members"][-1].prim.monoid is not None


def build(node, allow_parallel=True, in_place=None):
    """(module source, KernelInfo, argument plan) for a fused node; the module defines `kernel`.
    in_place: {output index: input index} results stored into an input array (see LoopSpec).
    The plan lists, per kernel argument, ("array", Value) or ("scalar", numpy scalar)."""
    members = node.params["members"]
    reduction = members[-1] if ends_in_reduction(node) else None
    elementwise = members[:-1] if reduction is not None else members
    out_shape = elementwise[-1].outputs[0].shape      # the loop shape: before any trailing reduction
    # Same-shape kernels of any rank are one flat loop: compiled once for all ranks (the driver passes
    # flat views), so e.g. every parameter's optimizer update shares one compiled kernel.
    flat = reduction is None and len(out_shape) > 1 and all(
        scalar_constant(v) is not None or not v.shape or tuple(v.shape) == tuple(out_shape) for v in node.inputs)
    loop_shape = (shape_size(out_shape),) if flat else out_shape
    names, plan, inputs = {}, [], []
    for i, v in enumerate(node.inputs):
        scalar = scalar_constant(v)
        if scalar is not None:
            plan.append(("scalar", np.float32(scalar) if v.dtype.name == "float16" else scalar))
            inputs.append(("scalar",))
        else:
            plan.append(("array", v))
            inputs.append(("array", (True,) if flat and v.shape else _pattern(v, loop_shape)))
        names[id(v)] = f"a{i}"
    statements, imports = [], set()
    for k, member in enumerate(elementwise):
        rule = LOWERINGS.get(member.prim)
        imports.update(rule.imports)
        temp = f"t{k}"
        statements.append(f"{temp} = {rule.expression(member, [names[id(v)] for v in member.inputs])}")
        names[id(member.outputs[0])] = temp
    size = shape_size(out_shape)
    reduce_spec = None
    if reduction is not None:
        results = [names[id(reduction.inputs[0])]]
        reduce_spec = _reduction_spec(reduction, len(out_shape), imports)
        in_place = None
    else:
        results = [names[id(v)] for v in node.outputs]
    parallel = allow_parallel and size >= loops.PARALLEL_MIN_ELEMENTS and reduction is None
    half_inputs = [i for i, (kind, v) in enumerate(plan) if kind == "array" and v.dtype.name == "float16"]
    half_results = [j for j, v in enumerate(node.outputs) if v.dtype.name == "float16"]
    if half_inputs or half_results:
        imports.update({(FLOAT16, "float_to_half"), (FLOAT16, "half_to_float")})
    ranks = [min(len(v.shape), 1) if flat else len(v.shape) for v in node.inputs]
    spec = loops.LoopSpec(len(loop_shape), inputs, statements, results, parallel, input_ranks=ranks, in_place=in_place,
                          half_inputs=half_inputs, half_results=half_results, reduction=reduce_spec)
    body = loops.generate(spec, "kernel")
    module_text = loops.module_source([("kernel", body)], parallel, sorted(imports))
    name = f"k_{loops.source_hash(module_text)}"
    member_ops = [m.op for m in members]
    itemsize = node.outputs[0].dtype.np.itemsize
    nbytes = sum(shape_size(v.shape) * v.dtype.np.itemsize for kind, v in plan if kind == "array")
    nbytes += size * itemsize * len(node.outputs)
    info = KernelInfo(name, member_ops, out_shape, node.outputs[0].dtype.name, size * len(members), nbytes, body,
                      parallel)
    info.loop_shape = tuple(out_shape) if reduction is not None else None
    info.flat = flat
    return module_text, info, plan
