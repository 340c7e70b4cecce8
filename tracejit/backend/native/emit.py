"""LLVM IR for the native segments of a plan: one function `int32 segment_k(int64 *P, chunk, chunks)`
per segment, in which every node becomes loops over typed pointers, a BLAS call through an
address in P, or nothing at all (views and in-place assignments are memory plan decisions).

Loops run over a node's output shape (the input's, for a trailing reduction), with adjacent
dimensions merged wherever every operand is contiguous across them, so a same-shape chain is one
flat loop. Operands are read through their affine maps: broadcasting, transposes and slices cost
nothing. Reductions accumulate in float64 (int64 for integers). float16 values are computed in
float32 and rounded to float16 after every operation, as eager execution rounds after every op."""
from kernels.blas import ARRAY_DATA_OFFSET
from kernels.ir import KIND_OF_DTYPE, Function, IROps

from ...ir.analysis import shape_size
from ...ir.primitives import FUSED
from .lowering import LOWERINGS, Elementwise
from .plan import WORKSPACE, Storage, c_strides

PARALLEL_MIN_ELEMENTS = 1 << 18      # below this, threads cost more than they save on 2 cores


def compute_kind(dtype):
    """The kind a dtype's values have inside loops (float16 computes as float32)."""
    return "f32" if dtype.name == "float16" else KIND_OF_DTYPE[dtype.name]


def storage_kind(dtype):
    """The kind of a dtype's elements in memory (float16 bits as u16, bool as u8)."""
    return {"float16": "u16", "bool": "u8"}.get(dtype.name) or KIND_OF_DTYPE[dtype.name]


class KernelInfo:
    """One loop nest or BLAS call of a native function, for introspection and cost reports."""

    def __init__(self, segment, members, shape, dtype, flops, nbytes, parallel=False):
        self.segment, self.members, self.shape, self.dtype = segment, members, tuple(shape), dtype
        self.flops, self.bytes, self.parallel = flops, nbytes, parallel

    def __repr__(self):
        return (f"<kernel {self.segment} [{','.join(self.members)}] {self.dtype}{list(self.shape)} "
                f"~{self.flops} flops, {self.bytes} bytes{' parallel' if self.parallel else ''}>")


class SegmentEmitter:
    """Builds one segment's function into `module`. `slots`: P indices of the workspace and BLAS entries."""

    def __init__(self, module, plan, nodes, name, slots, scratch_offset, errors, parallel=False, profile=None):
        """profile: None, or a list shared by the module's segments that collects one entry per
        node, (node, its KernelInfos); each node's cycles are then added to P[profile][entry]."""
        self.plan, self.nodes, self.name, self.slots = plan, nodes, name, slots
        self.profile = profile
        self.fn = Function(module, name)
        self.ops = IROps(self.fn)
        self.parallel = parallel
        self.scratch_offset, self.scratch_needed, self._scratch_top = scratch_offset, 0, 0
        self.kernels = []
        self.errors = errors            # message templates of checks, shared by the module's segments
        self._addresses = {}
        self._workspace = None

    # ---- buffers ----
    def address(self, base):
        """The i64 address of a base's first element (computed once, at the top of the function)."""
        return self._addresses[id(base)]

    def _declare_bases(self, values):
        for value in values:
            base = self.plan.storage[id(value)].base
            if base is None or id(base) in self._addresses:
                continue
            if base.kind == WORKSPACE:
                self._addresses[id(base)] = self.fn.add_bytes(self.workspace(), base.offset)
            else:
                self._addresses[id(base)] = self.data_address(base.slot)

    def data_address(self, slot):
        """The data pointer of the ndarray object whose address is in P[slot]."""
        return self.fn.load_address(self.fn.add_bytes(self.fn.slot(slot), ARRAY_DATA_OFFSET))

    def workspace(self):
        if self._workspace is None:
            self._workspace = self.data_address(self.slots["workspace"])
        return self._workspace

    def fail_if(self, bad, message, value):
        """Return from the function with an error status when `bad` (a bool Scalar) holds: the driver
        raises InvalidArgumentError(message.format(value=value)), as eager execution would."""
        self.errors.append(message)
        code = len(self.errors)
        with self.fn.when(bad, likely=False):
            cell = self.fn.pointer(self.data_address(self.slots["errors"]), "i64")
            self.fn.store(cell, 0, self.fn.cast(value, "i64"))
            self.fn.b.ret(self.fn.const(code, "i32").value)

    def constant(self, array, dtype):
        """Storage of a constant array a rule computed (declared now: it becomes a new slot)."""
        base = self.plan.add_constant(array, dtype)
        self._addresses[id(base)] = self.data_address(base.slot)
        return Storage(base, array.shape)

    def scratch(self, nbytes):
        """The address of workspace memory only the current node uses (after the plan's regions)."""
        address = self.fn.add_bytes(self.workspace(), self.scratch_offset + self._scratch_top)
        self._scratch_top += -(-nbytes // 64) * 64
        self.scratch_needed = max(self.scratch_needed, self._scratch_top)
        return address

    def element_index(self, offset, strides, indices):
        """offset + sum(index * stride) as an i64 Scalar; zero strides and terms vanish."""
        total = None
        for index, stride in zip(indices, strides):
            if not stride:
                continue
            term = index if stride == 1 else index * stride
            total = term if total is None else total + term
        if total is None:
            return self.fn.index(offset)
        return total + offset if offset else total

    def read(self, storage, dtype, indices):
        """One element of a value, in its compute kind."""
        kind = compute_kind(dtype)
        if storage.literal is not None:
            return self.fn.const(storage.literal, kind)
        pointer = self.fn.pointer(self.address(storage.base), storage_kind(dtype))
        raw = self.fn.load(pointer, self.element_index(storage.offset, storage.strides, indices), storage_kind(dtype))
        if dtype.name == "float16":
            return self.fn.half_to_float(raw)
        if dtype.is_bool:
            return self.fn.cast(raw, "bool")
        return raw

    def store(self, storage, dtype, indices, value):
        pointer = self.fn.pointer(self.address(storage.base), storage_kind(dtype))
        value = self.convert(value, dtype)
        if dtype.name == "float16":
            value = self.fn.float_to_half(value)
        elif dtype.is_bool:
            value = self.fn.cast(value, "u8")
        self.fn.store(pointer, self.element_index(storage.offset, storage.strides, indices), value)

    def convert(self, value, dtype):
        """`value` as `dtype` computes it (float16: rounded to float16, kept in float32)."""
        value = self.fn.cast(value, compute_kind(dtype))
        if dtype.name == "float16":
            value = self.fn.half_to_float(self.fn.float_to_half(value))
        return value

    def storage(self, value):
        return self.plan.storage[id(value)]

    # ---- the function ----
    def build(self, final_copies=()):
        self._declare_bases([v for n in self.nodes for v in n.inputs + n.outputs] + [v for _, v in final_copies])
        for base, _ in final_copies:
            if id(base) not in self._addresses:
                self._addresses[id(base)] = self.data_address(base.slot)
        for node in self.nodes:
            self._scratch_top = 0
            first, start = len(self.kernels), self.fn.cycles() if self.profile is not None else None
            emit_node(self, node)
            if start is not None and len(self.kernels) > first:
                self._count_cycles(start, node, self.kernels[first:])
        for base, value in final_copies:
            emit_copy(self, value, Storage(base, base.shape))
        self.fn.finish()
        return self

    def _count_cycles(self, start, node, kernels):
        """P[profile][entry] += cycles since `start` (in a parallel segment, chunk 0's)."""
        fn = self.fn
        entry = len(self.profile)
        self.profile.append((node, kernels))
        elapsed = fn.arith("sub", fn.cycles(), start)
        counters = fn.pointer(self.data_address(self.slots["profile"]), "i64")
        with fn.when(fn.compare("==", fn.wrap(fn.chunk, "i64"), fn.const(0, "i64"))):
            fn.store(counters, entry, fn.arith("add", fn.load(counters, entry, "i64"), elapsed))


def emit_node(em, node):
    if node in em.plan.views:
        return
    if node.prim is FUSED:
        emit_loop(em, node, node.params["members"])
        return
    rule = LOWERINGS.get(node.prim)
    if isinstance(rule, Elementwise) or node.prim.monoid is not None:
        emit_loop(em, node, [node])
    elif node.prim.view:                    # a reshape of a strided value: NumPy copies too
        if shape_size(node.inputs[0].shape) != shape_size(node.outputs[0].shape):
            raise NotImplementedError(f"{node.op} at {node.loc}: a view the memory plan cannot express")
        emit_copy(em, node.inputs[0], em.storage(node.outputs[0]))
    else:
        rule.emit(em, node)


# ---- loops over elements ----------------------------------------------------------------------
def _aligned_strides(storage, rank):
    """The storage's strides aligned right to a loop of `rank` dims (broadcast dims stride 0)."""
    if storage.literal is not None:
        return (0,) * rank
    strides = [0] * (rank - len(storage.shape)) + [s if d != 1 else 0 for s, d in zip(storage.strides, storage.shape)]
    return tuple(strides)


def _merge_dims(shape, stride_sets, reduced):
    """Groups of adjacent loop dims that can run as one: every operand contiguous across them."""
    groups = []
    for d in range(len(shape)):
        if groups:
            last = groups[-1][-1]
            if reduced[last] == reduced[d] and all(s[last] == s[d] * shape[d] for s in stride_sets):
                groups[-1].append(d)
                continue
        groups.append([d])
    return groups


class LoopProgram:
    """Elementwise members (and an optional trailing monoid reduction) over one loop nest."""

    def __init__(self, em, node, members):
        self.em, self.node = em, node
        self.reduction = members[-1] if members[-1].prim.monoid is not None else None
        self.elementwise = members[:-1] if self.reduction is not None else members
        self.members = members
        loop_value = self.reduction.inputs[0] if self.reduction is not None else members[-1].outputs[0]
        self.loop_value = loop_value
        shape = tuple(loop_value.shape)
        rank = len(shape)
        produced = {id(m.outputs[0]) for m in self.elementwise}
        self.operands = []
        for m in members:
            for v in m.inputs:
                if id(v) not in produced and not any(v is o for o in self.operands):
                    self.operands.append(v)
        self.exports = [v for v in node.outputs if id(v) in produced]
        axes = self.reduction.params["axis"] if self.reduction is not None else ()
        reduced = tuple(d in axes for d in range(rank))
        stride_sets = [_aligned_strides(em.storage(v), rank) for v in self.operands + self.exports]
        self.groups = _merge_dims(shape, stride_sets, reduced)
        self.sizes = [shape_size([shape[d] for d in g]) for g in self.groups]
        self.reduced = [reduced[g[0]] for g in self.groups]
        self.rank = rank

    def merged(self, storage):
        strides = _aligned_strides(storage, self.rank)
        return Storage(storage.base, self.sizes, storage.offset, [strides[g[-1]] for g in self.groups],
                       storage.literal)

    def body(self, indices):
        """Compute every member at `indices`; returns {id(value): Scalar}."""
        em = self.em
        values = {}
        for v in self.operands:
            values[id(v)] = em.read(self.merged(em.storage(v)), v.dtype, indices)
        for m in self.elementwise:
            rule = LOWERINGS.get(m.prim)
            result = rule.build(em.ops, m, *[values[id(v)] for v in m.inputs])
            values[id(m.outputs[0])] = em.convert(result, m.outputs[0].dtype)
        return values


def emit_loop(em, node, members):
    program = LoopProgram(em, node, members)
    size = shape_size(program.loop_value.shape)
    parallel = em.parallel and program.reduction is None
    nbytes = sum(shape_size(v.shape) * v.dtype.size for v in program.operands if em.storage(v).literal is None)
    nbytes += sum(shape_size(v.shape) * v.dtype.size for v in node.outputs)
    em.kernels.append(KernelInfo(em.name, [m.op for m in members], program.loop_value.shape,
                                 node.outputs[0].dtype.name, size * len(members), nbytes, parallel))
    if program.reduction is None:
        def body(indices):
            values = program.body(indices)
            for v in program.exports:
                em.store(program.merged(em.storage(v)), v.dtype, indices, values[id(v)])
        nest(em, program.sizes, body, parallel)
    else:
        emit_reduction(em, program)


def nest(em, sizes, body, parallel=False):
    """Nested loops over `sizes` calling body(indices); with `parallel`, the outermost loop covers
    only this call's chunk (each thread of a parallel segment runs one chunk)."""
    fn = em.fn

    def level(depth, indices):
        if depth == len(sizes):
            body(indices)
            return
        start, stop = _chunk_bounds(fn, sizes[0]) if parallel and depth == 0 else (0, sizes[depth])
        with fn.loop(start, stop) as i:
            level(depth + 1, indices + [i])
    level(0, [])


def _chunk_bounds(fn, size):
    """[start, stop) of this call's chunk of range(size), ceil(size / chunks) elements per chunk."""
    chunk, chunks = fn.wrap(fn.chunk, "i64"), fn.wrap(fn.chunks, "i64")
    per = fn.wrap(fn.b.sdiv((chunks + (size - 1)).value, chunks.value), "i64")
    start, stop = chunk * per, chunk * per + per
    return fn.select(start < size, start, fn.index(size)), fn.select(stop < size, stop, fn.index(size))


def _identity(monoid, dtype, kind):
    import numpy as np
    value = monoid.identity
    if kind == "i64" and value in (float("inf"), float("-inf")):
        info = np.iinfo(dtype.np) if dtype.kind in "iu" else np.iinfo(np.int64)
        return int(info.max if value > 0 else info.min)
    return int(value) if kind == "i64" else value


def emit_reduction(em, program):
    """Accumulate over the reduced dims with the monoid, in float64 (int64 for integers): in a
    register when the reduced dims are innermost, else in scratch memory indexed by the kept dims."""
    fn, ops = em.fn, em.ops
    reduction = program.reduction
    out = reduction.outputs[0]
    monoid = reduction.prim.monoid
    combine = LOWERINGS.get(monoid.combine)
    source_dtype = reduction.inputs[0].dtype
    kind = "f64" if source_dtype.is_floating else "i64"
    identity = fn.const(_identity(monoid, source_dtype, kind), kind)
    sizes, reduced = program.sizes, program.reduced
    kept_sizes = [s for s, r in zip(sizes, reduced) if not r]
    count = shape_size([s for s, r in zip(sizes, reduced) if r])
    out_storage = em.storage(out)
    target = Storage(out_storage.base, kept_sizes, out_storage.offset, c_strides(kept_sizes))

    def finalize(acc):
        if not monoid.mean:
            return acc
        if kind == "i64":
            acc = fn.cast(acc, "f64")
        return acc / float(count) if count else acc * float("nan")

    def value_at(indices):
        values = program.body(indices)
        return fn.cast(values[id(program.loop_value)], kind)
    n_reduced = sum(reduced)
    suffix = n_reduced > 0 and all(reduced[len(reduced) - n_reduced:])
    if suffix or not kept_sizes:
        kept, inner = sizes[:len(sizes) - n_reduced], sizes[len(sizes) - n_reduced:]

        def outer_body(outer_indices):
            acc = fn.variable(kind, identity)

            def inner_body(inner_indices):
                acc.set(combine.build(ops, reduction, acc.get(), value_at(outer_indices + inner_indices)))
            nest(em, inner, inner_body)
            em.store(target, out.dtype, outer_indices, finalize(acc.get()))
        nest(em, kept, outer_body)
        return
    kept_total = shape_size(kept_sizes)
    buffer = fn.pointer(em.scratch(kept_total * 8), kind)
    with fn.loop(0, kept_total) as j:
        fn.store(buffer, j, identity)
    kept_strides = c_strides(kept_sizes)

    def body(indices):
        kept_indices = [i for i, r in zip(indices, reduced) if not r]
        slot = em.element_index(0, kept_strides, kept_indices)
        fn.store(buffer, slot, combine.build(ops, reduction, fn.load(buffer, slot, kind), value_at(indices)))
    nest(em, sizes, body)
    flat = Storage(out_storage.base, [kept_total], out_storage.offset, [1])
    with fn.loop(0, kept_total) as j:
        em.store(flat, out.dtype, [j], finalize(fn.load(buffer, j, kind)))


def emit_copy(em, source_value, destination):
    """Copy a value element by element in C order into a contiguous destination (outputs,
    carries, views the plan had to materialize)."""
    source = em.storage(source_value)
    shape = tuple(source_value.shape)
    strides = c_strides(shape)
    flat_destination = Storage(destination.base, [shape_size(shape)], destination.offset, [1])

    def body(indices):
        value = em.read(source, source_value.dtype, indices)
        em.store(flat_destination, source_value.dtype, [em.element_index(0, strides, indices)], value)
    nest(em, list(shape), body)
    em.kernels.append(KernelInfo(em.name, ["copy"], shape, source_value.dtype.name, 0,
                                 2 * shape_size(shape) * source_value.dtype.size))
