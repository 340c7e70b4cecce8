"""Native lowering rules for primitives that are not elementwise: each emits one node's loops (or
its BLAS call) into a SegmentEmitter. They sit in the backend's lowering table beside the
elementwise entries; a primitive with neither runs on the host."""
from llvmlite import ir

from ... import dtypes as dt
from ...ir.analysis import shape_size
from ...ops import REGISTRY as P
from ...ops.conv import window_geometry
from .emit import KernelInfo, compute_kind, emit_copy, nest
from .lowering import LOWERINGS
from .plan import Storage, c_strides

_ROW_MAJOR, _NO_TRANSPOSE, _TRANSPOSE = 101, 111, 112


class Rule:
    """Lowers whole nodes; `accepts(node)` says whether it can lower this one."""

    def accepts(self, node):
        return True

    def emit(self, em, node):
        raise NotImplementedError

    @staticmethod
    def record(em, node, flops, members=None):
        out = node.outputs[0]
        nbytes = sum(shape_size(v.shape) * v.dtype.size for v in node.inputs + node.outputs)
        em.kernels.append(KernelInfo(em.name, members or [node.op], out.shape, out.dtype.name, flops, nbytes))


class Matmul(Rule):
    """C = op(A) op(B) through cblas gemm (row-major, 64-bit integers), one call per batch matrix.
    An operand whose last two dims are neither row- nor column-major (a broadcast, a literal) is
    first copied into scratch memory. `gemm` nodes (C + alpha op(A) op(B)) pass alpha and beta = 1,
    after copying C into the result unless the result is stored over C (an in-place update)."""

    def accepts(self, node):
        from kernels.blas import gemm_address
        dtype = node.outputs[0].dtype
        return dtype.name in ("float32", "float64") and gemm_address(dtype.name) is not None

    def emit(self, em, node):
        fn = em.fn
        a, b = node.inputs[:2]
        out = node.outputs[0]
        accumulate = len(node.inputs) == 3
        if accumulate and not _same_storage(em.storage(node.inputs[2]), em.storage(out)):
            emit_copy(em, node.inputs[2], em.storage(out))
        kind = compute_kind(out.dtype)
        m, n = out.shape[-2], out.shape[-1]
        k = a.shape[-2] if node.params.get("transpose_a") else a.shape[-1]
        a_matrix = _matrix(em, a, node.params.get("transpose_a", False))
        b_matrix = _matrix(em, b, node.params.get("transpose_b", False))
        out_storage = em.storage(out)
        batch = list(out.shape[:-2])
        real = ir.FloatType() if kind == "f32" else ir.DoubleType()
        i32, i64 = ir.IntType(32), ir.IntType(64)
        pointer = real.as_pointer()
        signature = [i32, i32, i32, i64, i64, i64, real, pointer, i64, pointer, i64, real, pointer, i64]
        gemm = fn.slot(em.slots["gemm_" + out.dtype.name])
        size = out.dtype.size

        def address(matrix, indices):
            strides = matrix["batch_strides"]
            lead = len(batch) - len(strides)
            element = em.element_index(matrix["offset"], strides, indices[lead:])
            return fn.b.inttoptr((matrix["address"] + element * size).value, pointer)

        def call(indices):
            c = em.element_index(out_storage.offset, c_strides(out.shape)[:-2], indices)
            c_address = fn.b.inttoptr((em.address(out_storage.base) + c * size).value, pointer)
            arguments = [ir.Constant(i32, _ROW_MAJOR), ir.Constant(i32, a_matrix["trans"]),
                         ir.Constant(i32, b_matrix["trans"]), ir.Constant(i64, m), ir.Constant(i64, n),
                         ir.Constant(i64, k), ir.Constant(real, node.params.get("alpha", 1.0)),
                         address(a_matrix, indices), ir.Constant(i64, a_matrix["ld"]), address(b_matrix, indices),
                         ir.Constant(i64, b_matrix["ld"]), ir.Constant(real, 1.0 if accumulate else 0.0), c_address,
                         ir.Constant(i64, n)]
            fn.call_address(gemm, ir.VoidType(), signature, arguments)
        nest(em, batch, call)
        self.record(em, node, 2 * shape_size(out.shape) * k)


def _same_storage(a, b):
    return a.literal is None and a.base is b.base and a.offset == b.offset and a.strides == b.strides


def _matrix(em, value, transposed):
    """How gemm reads `value`: address, offset and batch strides, leading dimension and transpose
    flag (row-major storage keeps the flag, column-major storage flips it)."""
    storage = em.storage(value)
    rows, cols = value.shape[-2], value.shape[-1]
    if storage.literal is None:
        row_stride, col_stride = storage.strides[-2], storage.strides[-1]
        if (col_stride == 1 or cols == 1) and (row_stride >= max(cols, 1) or rows == 1):
            return {"address": em.address(storage.base), "offset": storage.offset, "batch_strides": storage.strides[:-2],
                    "ld": max(row_stride, cols, 1), "trans": _TRANSPOSE if transposed else _NO_TRANSPOSE}
        if (row_stride == 1 or rows == 1) and (col_stride >= max(rows, 1) or cols == 1):
            return {"address": em.address(storage.base), "offset": storage.offset, "batch_strides": storage.strides[:-2],
                    "ld": max(col_stride, rows, 1), "trans": _NO_TRANSPOSE if transposed else _TRANSPOSE}
    # anything else (a broadcast, a literal): a contiguous copy in scratch memory
    shape = tuple(value.shape)
    address = em.scratch(shape_size(shape) * value.dtype.size)
    strides = c_strides(shape)

    def body(indices):
        em.fn.store(em.fn.pointer(address, compute_kind(value.dtype)), em.element_index(0, strides, indices),
                    em.read(storage, value.dtype, indices))
    nest(em, list(shape), body)
    return {"address": address, "offset": 0, "batch_strides": strides[:-2], "ld": max(cols, 1),
            "trans": _TRANSPOSE if transposed else _NO_TRANSPOSE}


class OneHot(Rule):
    """out[..., k, ...] = on if indices[...] == k else off (k along `axis`)."""

    def emit(self, em, node):
        indices = node.inputs[0]
        out = node.outputs[0]
        axis = node.params["axis"]
        storage = em.storage(indices)
        strides = list(storage.strides) if storage.literal is None else [0] * indices.ndim
        strides.insert(axis, 0)
        view = Storage(storage.base, out.shape, storage.offset, strides, storage.literal)
        kind = compute_kind(out.dtype)
        on, off = em.fn.const(node.params["on_value"], kind), em.fn.const(node.params["off_value"], kind)
        out_storage = em.storage(out)

        def body(loop):
            index = em.fn.cast(em.read(view, indices.dtype, loop), "i64")
            em.store(out_storage, out.dtype, loop, em.fn.select(index == loop[axis], on, off))
        nest(em, list(out.shape), body)
        self.record(em, node, shape_size(out.shape))


class Im2col(Rule):
    """Patches of an NHWC input: row (n, oh, ow), column (kh, kw, c); zero outside the input (padding)."""

    def emit(self, em, node):
        fn = em.fn
        x, out = node.inputs[0], node.outputs[0]
        (kh, kw), (sh, sw), padding = node.params["window"], node.params["strides"], node.params["padding"]
        n, h, w, c = x.shape
        oh, top, _ = window_geometry(h, kh, sh, padding)
        ow, left, _ = window_geometry(w, kw, sw, padding)
        source, target = em.storage(x), em.storage(out)
        zero = fn.const(0, compute_kind(out.dtype))
        padded = top or left or padding == "SAME"

        def body(i):
            y = i[1] * sh + i[3] - top
            xx = i[2] * sw + i[4] - left
            row = (i[0] * oh + i[1]) * ow + i[2]
            column = (i[3] * kw + i[4]) * c + i[5]
            if not padded:
                em.store(target, out.dtype, [row, column], em.read(source, x.dtype, [i[0], y, xx, i[5]]))
                return
            inside = (y >= 0) & (y < h) & (xx >= 0) & (xx < w)
            safe_y = fn.select(inside, y, fn.index(0))
            safe_x = fn.select(inside, xx, fn.index(0))
            value = em.read(source, x.dtype, [i[0], safe_y, safe_x, i[5]])
            em.store(target, out.dtype, [row, column], fn.select(inside, value, zero))
        nest(em, [n, oh, ow, kh, kw, c], body)
        self.record(em, node, 0)


LOWERINGS.register(P["matmul"], Matmul())
LOWERINGS.register(P["gemm"], Matmul())
LOWERINGS.register(P["one_hot"], OneHot())
LOWERINGS.register(P["im2col"], Im2col())


# ---- data movement by index maps ----------------------------------------------------------------
def _probe_map(em, node, fill_marker=0):
    """Where each output element of a data-moving op comes from, computed by running the op's own
    NumPy implementation on probes: input k's probe holds, for each element, 1 + (k's code) where
    the code encodes the input and the element's storage offset. 0 marks a filled element."""
    import numpy as np
    probes, offsets, total = [], [], 1
    for value in node.inputs:
        storage = em.storage(value)
        shape = tuple(value.shape)
        if storage.literal is not None:
            positions = np.zeros(shape, np.int64)
        else:
            positions = storage.offset + sum(np.indices(shape, np.int64)[d] * s for d, s in enumerate(storage.strides)) \
                if shape else np.array(storage.offset, np.int64)
        probes.append(positions + total)
        offsets.append(total)
        span = (int(positions.max()) + 1) if positions.size else 1
        total += span
    params = dict(node.params)
    result = node.prim.impl(*probes, **params) if "constant_values" not in params else \
        node.prim.impl(*probes, **dict(params, constant_values=fill_marker))
    return np.ascontiguousarray(result).astype(np.int64), offsets


class Movement(Rule):
    """Ops that only move elements (tile, concat, stack, pad, strided_slice_grad, slice_update): a
    precomputed index map says, per output element, which input element it copies or that it is a
    fill value. Correct by construction: the map comes from the op's NumPy implementation."""

    def __init__(self, fill=lambda node: 0):
        self.fill = fill

    def emit(self, em, node):
        import numpy as np
        fn = em.fn
        source, offsets = _probe_map(em, node)
        out = node.outputs[0]
        kind = compute_kind(out.dtype)
        index = em.constant(source.reshape(-1), dt.int64)
        index_pointer = fn.pointer(em.address(index.base), "i64")
        out_flat = Storage(em.storage(out).base, [shape_size(out.shape)], em.storage(out).offset, [1])
        fill = fn.const(self.fill(node), kind)
        bounds = offsets[1:] + [None]

        def body(i):
            code = fn.load(index_pointer, i[0], "i64")
            value = fill
            for value_in, start, stop in reversed(list(zip(node.inputs, offsets, bounds))):
                storage = em.storage(value_in)
                if storage.literal is not None:
                    element = fn.const(storage.literal, kind)
                else:
                    position = fn.select(code >= start, code - start, fn.index(0))
                    if stop is not None:
                        position = fn.select(code < stop, position, fn.index(0))
                    element = em.read(Storage(storage.base, [1], 0, [1]), value_in.dtype, [position])
                mine = code >= start if stop is None else (code >= start) & (code < stop)
                value = fn.select(mine, em.fn.cast(element, kind), value)
            em.store(out_flat, out.dtype, i, value)
        nest(em, [shape_size(out.shape)], body)
        self.record(em, node, 0)


class MovementAdjoint(Rule):
    """The adjoint of a data-moving op (pad_grad, col2im): output element j sums the gradients of
    every element the forward op copied from j; the forward op's index map, from its NumPy
    implementation run on a probe of the output's shape, says which."""

    def __init__(self, forward, forward_params, like=None):
        self.forward, self.forward_params, self.like = forward, forward_params, like

    def emit(self, em, node):
        import numpy as np
        fn = em.fn
        g, out = node.inputs[0], node.outputs[0]
        shape = tuple(out.shape)
        probe = np.arange(1, shape_size(shape) + 1, dtype=np.int64).reshape(shape)
        params = self.forward_params(node)
        source = np.ascontiguousarray(self.forward.impl(probe, **params)).astype(np.int64).reshape(-1)
        index = em.constant(source, dt.int64)
        index_pointer = fn.pointer(em.address(index.base), "i64")
        kind = "f64" if out.dtype.is_floating else "i64"
        size = shape_size(shape)
        accumulator = fn.pointer(em.scratch(size * 8), kind)
        with fn.loop(0, size) as j:
            fn.store(accumulator, j, fn.const(0, kind))
        g_storage = em.storage(g)

        def body(i):
            code = fn.load(index_pointer, i[0], "i64")
            target = fn.select(code > 0, code - 1, fn.index(0))
            indices = _unravel(fn, i[0], tuple(g.shape))
            value = fn.cast(em.read(g_storage, g.dtype, indices), kind)
            previous = fn.load(accumulator, target, kind)
            fn.store(accumulator, target, fn.select(code > 0, previous + value, previous))
        nest(em, [shape_size(g.shape)], body)
        out_flat = Storage(em.storage(out).base, [size], em.storage(out).offset, [1])
        with fn.loop(0, size) as j:
            em.store(out_flat, out.dtype, [j], fn.load(accumulator, j, kind))
        self.record(em, node, shape_size(g.shape))


def _unravel(fn, flat, shape):
    """Multi-index Scalars of a flat C-order index over a static shape."""
    indices = []
    for d in range(len(shape)):
        inner = shape_size(shape[d + 1:])
        index = fn.wrap(fn.b.sdiv(flat.value, fn.index(inner).value), "i64") if inner != 1 else flat
        index = fn.wrap(fn.b.srem(index.value, fn.index(shape[d]).value), "i64") if d else index
        indices.append(index)
    return indices


class Fill(Rule):
    """fill_like: every element the same value."""

    def emit(self, em, node):
        out = node.outputs[0]
        value = em.fn.const(node.params["value"], compute_kind(out.dtype))
        storage = em.storage(out)
        nest(em, list(out.shape), lambda i: em.store(storage, out.dtype, i, value))
        self.record(em, node, 0)


class ArgExtreme(Rule):
    """argmax/argmin with TF's CPU rule (Eigen's ArgMax/MinPairReducer): scan from index 0 keeping
    the best value, move only on a strictly better one: nan never wins, ties go to the first index,
    an all-nan slice gives 0."""

    def __init__(self, better):
        self.better = better           # ">" (argmax) or "<" (argmin)

    def emit(self, em, node):
        import numpy as np
        fn = em.fn
        x, out = node.inputs[0], node.outputs[0]
        axis = node.params["axis"]
        shape = tuple(x.shape)
        kind = compute_kind(x.dtype)
        if x.dtype.is_floating:
            start = -np.inf if self.better == ">" else np.inf
        else:
            info = np.iinfo(x.dtype.np) if not x.dtype.is_bool else np.iinfo(np.uint8)
            start = info.min if self.better == ">" else info.max
        outer = [d for d in range(len(shape)) if d != axis]
        storage, out_storage = em.storage(x), em.storage(out)

        def per_output(kept):
            best = fn.variable(kind, fn.const(start, kind))
            where = fn.variable("i64", fn.index(0))
            with fn.loop(0, shape[axis]) as k:
                indices = list(kept)
                indices.insert(axis, k)
                value = em.read(storage, x.dtype, indices)
                better = fn.compare(self.better, value, best.get())
                best.set(fn.select(better, value, best.get()))
                where.set(fn.select(better, k, where.get()))
            em.store(out_storage, out.dtype, list(kept), where.get())
        nest(em, [shape[d] for d in outer], per_output)
        self.record(em, node, shape_size(shape))


class SparseSoftmaxCrossEntropy(Rule):
    """Per row: m = max(x), s = sum(exp(x - m)) (accumulated in float64), label checked,
    out = log(s) - (x[label] - m): one pass to find m, one to sum, no intermediate arrays."""

    def emit(self, em, node):
        from kernels import mathfuncs as M
        fn = em.fn
        labels, logits = node.inputs
        out = node.outputs[0]
        depth = logits.shape[-1]
        kind = compute_kind(logits.dtype)
        x_storage, label_storage, out_storage = em.storage(logits), em.storage(labels), em.storage(out)

        def per_row(row):
            largest = fn.variable(kind, fn.const(float("-inf"), kind))
            with fn.loop(0, depth) as j:
                largest.set(M.maximum(em.ops, em.read(x_storage, logits.dtype, row + [j]), largest.get()))
            total = fn.variable("f64", fn.const(0.0, "f64"))
            shift = largest.get()
            with fn.loop(0, depth) as j:
                term = M.exp(em.ops, em.read(x_storage, logits.dtype, row + [j]) - shift)
                total.set(total.get() + fn.cast(term, "f64"))
            label = fn.cast(em.read(label_storage, labels.dtype, row), "i64")
            em.fail_if((label < 0) | (label >= depth), "Received a label value of {value} which is outside the "
                       f"valid range of [0, {depth}).", label)              # eager's message
            picked = fn.cast(em.read(x_storage, logits.dtype, row + [label]) - shift, "f64")
            em.store(out_storage, out.dtype, row, M.log(em.ops, total.get()) - picked)
        nest(em, list(labels.shape), per_row)
        self.record(em, node, 4 * shape_size(logits.shape))


class Cumsum(Rule):
    def emit(self, em, node):
        fn = em.fn
        x, out = node.inputs[0], node.outputs[0]
        axis, exclusive, reverse = node.params["axis"], node.params["exclusive"], node.params["reverse"]
        shape = tuple(x.shape)
        kind = compute_kind(out.dtype)
        outer = [shape[d] for d in range(len(shape)) if d != axis]
        n = shape[axis]

        def per_line(kept):
            total = fn.variable(kind, fn.const(0, kind))
            with fn.loop(0, n) as step:
                k = (n - 1) - step if reverse else step
                indices = list(kept)
                indices.insert(axis, k)
                value = em.read(em.storage(x), x.dtype, indices)
                if exclusive:
                    em.store(em.storage(out), out.dtype, indices, total.get())
                    total.set(em.convert(total.get() + value, out.dtype))
                else:
                    total.set(em.convert(total.get() + value, out.dtype))
                    em.store(em.storage(out), out.dtype, indices, total.get())
        nest(em, outer, per_line)
        self.record(em, node, shape_size(shape))


def _checked_index(em, node, index, size, what):
    """An index read from a tensor, checked against [0, size) (eager raises the same error)."""
    fn = em.fn
    index = fn.cast(index, "i64")
    em.fail_if((index < 0) | (index >= size), f"{what}: index {{value}} is not in [0, {size})", index)
    return index


class Gather(Rule):
    """out[a..., i..., b...] = params[a..., indices[i...], b...] along `axis`, indices checked."""

    def emit(self, em, node):
        params, indices = node.inputs
        out = node.outputs[0]
        axis = node.params["axis"]
        rank_i = len(indices.shape)

        def body(i):
            index = em.read(em.storage(indices), indices.dtype, i[axis:axis + rank_i])
            index = _checked_index(em, node, index, params.shape[axis], "gather")
            source = i[:axis] + [index] + i[axis + rank_i:]
            em.store(em.storage(out), out.dtype, i, em.read(em.storage(params), params.dtype, source))
        nest(em, list(out.shape), body)
        self.record(em, node, 0)


class GatherGrad(Rule):
    """The adjoint of gather: zeros, then params-shaped sums of g along the gathered indices."""

    def emit(self, em, node):
        fn = em.fn
        g, indices, like = node.inputs
        out = node.outputs[0]
        axis = node.params["axis"]
        rank_i = len(indices.shape)
        kind = compute_kind(out.dtype)
        out_storage = em.storage(out)
        nest(em, list(out.shape), lambda i: em.store(out_storage, out.dtype, i, fn.const(0, kind)))

        def body(i):
            index = em.read(em.storage(indices), indices.dtype, i[axis:axis + rank_i])
            index = _checked_index(em, node, index, like.shape[axis], "gather")
            target = i[:axis] + [index] + i[axis + rank_i:]
            total = em.read(out_storage, out.dtype, target) + em.read(em.storage(g), g.dtype, i)
            em.store(out_storage, out.dtype, target, total)
        nest(em, list(g.shape), body)
        self.record(em, node, shape_size(g.shape))


def _nd_target(em, node, indices, lead, depth, limit_shape, what):
    index_storage = em.storage(indices)
    return [_checked_index(em, node, em.read(index_storage, indices.dtype, lead + [em.fn.index(k)]), limit_shape[k],
                           what) for k in range(depth)]


class GatherNd(Rule):
    def emit(self, em, node):
        params, indices = node.inputs
        out = node.outputs[0]
        depth = indices.shape[-1]
        lead_rank = len(indices.shape) - 1

        def body(i):
            target = _nd_target(em, node, indices, i[:lead_rank], depth, params.shape, "gather_nd")
            value = em.read(em.storage(params), params.dtype, target + i[lead_rank:])
            em.store(em.storage(out), out.dtype, i, value)
        nest(em, list(out.shape), body)
        self.record(em, node, 0)


class ScatterNd(Rule):
    """scatter_nd_update (last write wins, as NumPy's assignment) and scatter_nd_add (sums): a copy
    of x, then the updates at the checked indices."""

    def __init__(self, add):
        self.add = add

    def emit(self, em, node):
        x, indices, updates = node.inputs
        out = node.outputs[0]
        depth = indices.shape[-1]
        lead_rank = len(indices.shape) - 1
        out_storage = em.storage(out)
        nest(em, list(x.shape), lambda i: em.store(out_storage, out.dtype, i, em.read(em.storage(x), x.dtype, i)))
        what = "scatter_nd_add" if self.add else "scatter_nd_update"

        def body(i):
            target = _nd_target(em, node, indices, i[:lead_rank], depth, x.shape, what) + i[lead_rank:]
            value = em.read(em.storage(updates), updates.dtype, i)
            if self.add:
                value = em.read(out_storage, out.dtype, target) + value
            em.store(out_storage, out.dtype, target, value)
        nest(em, list(updates.shape), body)
        self.record(em, node, shape_size(updates.shape))


# ---- pooling --------------------------------------------------------------------------------------
def _window_loops(em, node, x_shape, body_per_window):
    """For each output (n, oh, ow, c): body(n, oh, ow, c, window positions) where each position is
    (y, x, inside) in input coordinates."""
    (kh, kw), (sh, sw), padding = node.params["window"], node.params["strides"], node.params["padding"]
    n, h, w, c = x_shape
    oh, top, _ = window_geometry(h, kh, sh, padding)
    ow, left, _ = window_geometry(w, kw, sw, padding)
    fn = em.fn

    def body(i):
        positions = []
        for a in range(kh):
            for b in range(kw):
                y = i[1] * sh + (a - top)
                x = i[2] * sw + (b - left)
                inside = (y >= 0) & (y < h) & (x >= 0) & (x < w)
                positions.append((fn.select(inside, y, fn.index(0)), fn.select(inside, x, fn.index(0)), inside))
        body_per_window(i, positions)
    nest(em, [n, oh, ow, c], body)


class MaxPool(Rule):
    """max_pool: the maximum of each window (padding never wins), nan propagating like NumPy's max;
    max_pool_select: each window reads `values` at its first maximal element (TF's gradient route)."""

    def __init__(self, select=False):
        self.select = select

    def emit(self, em, node):
        import math
        fn, ops = em.fn, em.ops
        x = node.inputs[0]
        out = node.outputs[0]
        kind = compute_kind(x.dtype)

        def per_window(i, positions):
            best = fn.variable(kind, fn.const(-math.inf, kind))
            chosen = fn.variable(kind, fn.const(0, kind))
            first = True
            for y, xx, inside in positions:
                value = fn.select(inside, em.read(em.storage(x), x.dtype, [i[0], y, xx, i[3]]), fn.const(-math.inf, kind))
                current = best.get()
                if self.select:        # the first maximal element: nan counts as maximal, the first nan wins
                    take = (value > current) | ((value != value) & (current == current)) if not first else \
                        fn.const(True, "bool")
                    best.set(fn.select(take, value, current))
                    picked = em.read(em.storage(node.inputs[2]), node.inputs[2].dtype, [i[0], y, xx, i[3]])
                    chosen.set(fn.select(take & inside, picked, chosen.get()))
                else:
                    from kernels import mathfuncs
                    best.set(mathfuncs.maximum(ops, value, current) if not first else value)
                first = False
            em.store(em.storage(out), out.dtype, i, chosen.get() if self.select else best.get())
        _window_loops(em, node, x.shape, per_window)
        self.record(em, node, shape_size(out.shape) * len(node.params["window"]))


class MaxPoolGrad(Rule):
    """Each window's gradient goes to its first maximal element (as max_pool_select reads it)."""

    def emit(self, em, node):
        fn = em.fn
        x, _, g = node.inputs
        out = node.outputs[0]
        kind = compute_kind(out.dtype)
        out_storage = em.storage(out)
        nest(em, list(out.shape), lambda i: em.store(out_storage, out.dtype, i, fn.const(0, kind)))

        def per_window(i, positions):
            import math
            best = fn.variable(compute_kind(x.dtype), fn.const(-math.inf, compute_kind(x.dtype)))
            where_y, where_x = fn.variable("i64", fn.index(0)), fn.variable("i64", fn.index(0))
            any_inside = fn.variable("bool", fn.const(False, "bool"))
            for k, (y, xx, inside) in enumerate(positions):
                value = fn.select(inside, em.read(em.storage(x), x.dtype, [i[0], y, xx, i[3]]),
                                  fn.const(-math.inf, compute_kind(x.dtype)))
                current = best.get()
                take = ((value > current) | ((value != value) & (current == current))) if k else fn.const(True, "bool")
                take = take & inside if k else inside
                best.set(fn.select(take, value, current))
                where_y.set(fn.select(take, y, where_y.get()))
                where_x.set(fn.select(take, xx, where_x.get()))
                any_inside.set(any_inside.get() | inside)
            target = [i[0], where_y.get(), where_x.get(), i[3]]
            total = em.read(out_storage, out.dtype, target) + em.read(em.storage(g), g.dtype, i)
            with fn.when(any_inside.get()):
                em.store(out_storage, out.dtype, target, total)
        _window_loops(em, node, x.shape, per_window)
        self.record(em, node, shape_size(g.shape))


class AvgPool(Rule):
    """avg_pool: the mean over each window's elements inside the input (TF's SAME excludes padding);
    avg_pool_grad: each window's gradient shared equally among those elements."""

    def __init__(self, grad=False):
        self.grad = grad

    def emit(self, em, node):
        fn = em.fn
        out = node.outputs[0]
        kind = compute_kind(out.dtype)
        if self.grad:
            g, like = node.inputs
            out_storage = em.storage(out)
            nest(em, list(out.shape), lambda i: em.store(out_storage, out.dtype, i, fn.const(0, kind)))
            shape = like.shape
        else:
            x = node.inputs[0]
            shape = x.shape

        def per_window(i, positions):
            count = None
            for _, _, inside in positions:
                one = fn.select(inside, fn.const(1, kind), fn.const(0, kind))
                count = one if count is None else count + one
            if self.grad:
                share = em.read(em.storage(g), g.dtype, i) / count
                for y, xx, inside in positions:
                    target = [i[0], y, xx, i[3]]
                    with fn.when(inside):
                        em.store(out_storage, out.dtype, target, em.read(out_storage, out.dtype, target) + share)
                return
            total = fn.const(0, kind)
            for y, xx, inside in positions:
                value = em.read(em.storage(x), x.dtype, [i[0], y, xx, i[3]])
                total = total + fn.select(inside, value, fn.const(0, kind))
            em.store(em.storage(out), out.dtype, i, total / count)
        _window_loops(em, node, shape, per_window)
        self.record(em, node, shape_size(out.shape))


LOWERINGS.register(P["fill_like"], Fill())
LOWERINGS.register(P["argmax"], ArgExtreme(">"))
LOWERINGS.register(P["argmin"], ArgExtreme("<"))
LOWERINGS.register(P["cumsum"], Cumsum())
LOWERINGS.register(P["sparse_softmax_cross_entropy"], SparseSoftmaxCrossEntropy())
LOWERINGS.register(P["gather"], Gather())
LOWERINGS.register(P["gather_grad"], GatherGrad())
LOWERINGS.register(P["gather_nd"], GatherNd())
LOWERINGS.register(P["scatter_nd_update"], ScatterNd(add=False))
LOWERINGS.register(P["scatter_nd_add"], ScatterNd(add=True))
LOWERINGS.register(P["max_pool"], MaxPool())
LOWERINGS.register(P["max_pool_select"], MaxPool(select=True))
LOWERINGS.register(P["max_pool_grad"], MaxPoolGrad())
LOWERINGS.register(P["avg_pool"], AvgPool())
LOWERINGS.register(P["avg_pool_grad"], AvgPool(grad=True))
for _name in ("tile", "concat", "stack", "strided_slice_grad", "slice_update"):
    LOWERINGS.register(P[_name], Movement())
LOWERINGS.register(P["pad"], Movement(fill=lambda node: node.params["constant_values"]))
LOWERINGS.register(P["pad_grad"], MovementAdjoint(P["pad"], lambda node: dict(
    paddings=node.params["paddings"], mode=node.params["mode"], constant_values=0)))
LOWERINGS.register(P["col2im"], MovementAdjoint(P["im2col"], lambda node: dict(
    window=node.params["window"], strides=node.params["strides"], padding=node.params["padding"])))
