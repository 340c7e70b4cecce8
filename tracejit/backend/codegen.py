"""From a `fused` node to a kernel: classify its inputs (arrays with a broadcast pattern, or
scalars for constants with a single value), translate member ops through their `expr`
templates into statements, and generate the loop nest with kernels.loops."""
import numpy as np

from kernels import loops

_NUMPY_TYPE = {"float32": "np.float32", "float64": "np.float64", "int8": "np.int8", "int16": "np.int16",
               "int32": "np.int32", "int64": "np.int64", "uint8": "np.uint8"}


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
    node = value.node
    if node is None or node.op != "const":
        return None
    array = node.params["value"]
    if array.size == 0 or array.dtype == object:
        return None
    first = array.reshape(-1)[0]
    if array.size == 1 or (array.size <= 1 << 16 and np.all(array == first)):
        return array.dtype.type(first)
    return None


def _pattern(value, out_shape):
    rank, offset = len(out_shape), len(out_shape) - len(value.shape)
    return tuple(d >= offset and value.shape[d - offset] == out_shape[d] for d in range(rank))


def _expression(member, operands):
    out = member.outputs[0]
    if member.op == "cast":
        if out.dtype.is_bool:
            return f"({operands[0]} != 0)"
        if out.dtype.name == "float16":           # float16 values live as float32 inside kernels, rounded
            return f"half_to_float(float_to_half({operands[0]}))"
        return f"{_NUMPY_TYPE[out.dtype.name]}({operands[0]})"
    params = {k: repr(float(v)) if isinstance(v, (int, float)) else v for k, v in member.params.items()}
    return member.prim.expr.format(*operands, **params)


REDUCTION_KINDS = {"reduce_sum": "sum", "reduce_mean": "mean", "reduce_max": "max", "reduce_min": "min"}


def build(node, allow_parallel=True, in_place=None):
    """(module source, KernelInfo, argument plan) for a fused node; the module defines `kernel`.
    in_place: {output index: input index} results stored into an input array (see LoopSpec).
    The plan lists, per kernel argument, ("array", Value) or ("scalar", numpy scalar)."""
    members = node.params["members"]
    reduction = members[-1] if members[-1].op in REDUCTION_KINDS else None
    elementwise = members[:-1] if reduction is not None else members
    out_shape = elementwise[-1].outputs[0].shape      # the loop shape: before any trailing reduction
    # Same-shape kernels of any rank are one flat loop: compiled once for all ranks (the driver passes
    # flat views), so e.g. every parameter's optimizer update shares one compiled kernel.
    flat = reduction is None and len(out_shape) > 1 and all(
        scalar_constant(v) is not None or not v.shape or tuple(v.shape) == tuple(out_shape) for v in node.inputs)
    loop_shape = (int(np.prod(out_shape)),) if flat else out_shape
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
    statements = []
    for k, member in enumerate(elementwise):
        temp = f"t{k}"
        statements.append(f"{temp} = {_expression(member, [names[id(v)] for v in member.inputs])}")
        names[id(member.outputs[0])] = temp
    size = int(np.prod(out_shape))
    reduce_spec = None
    if reduction is not None:
        results = [names[id(reduction.inputs[0])]]
        axes = reduction.params["axis"]
        reduce_spec = (REDUCTION_KINDS[reduction.op], tuple(d in axes for d in range(len(out_shape))))
        in_place = None
    else:
        results = [names[id(v)] for v in node.outputs]
    parallel = allow_parallel and size >= loops.PARALLEL_MIN_ELEMENTS and reduction is None
    half_inputs = [i for i, (kind, v) in enumerate(plan) if kind == "array" and v.dtype.name == "float16"]
    half_results = [j for j, v in enumerate(node.outputs) if v.dtype.name == "float16"]
    ranks = [min(len(v.shape), 1) if flat else len(v.shape) for v in node.inputs]
    spec = loops.LoopSpec(len(loop_shape), inputs, statements, results, parallel, input_ranks=ranks, in_place=in_place,
                          half_inputs=half_inputs, half_results=half_results, reduction=reduce_spec)
    body = loops.generate(spec, "kernel")
    module_text = loops.module_source([("kernel", body)], parallel)
    name = f"k_{loops.source_hash(module_text)}"
    member_ops = [m.op for m in members]
    itemsize = node.outputs[0].dtype.np.itemsize
    nbytes = sum(int(np.prod(v.shape)) * v.dtype.np.itemsize for kind, v in plan if kind == "array")
    nbytes += size * itemsize * len(node.outputs)
    info = KernelInfo(name, member_ops, out_shape, node.outputs[0].dtype.name, size * len(members), nbytes, body,
                      parallel)
    info.loop_shape = tuple(out_shape) if reduction is not None else None
    info.flat = flat
    return module_text, info, plan
