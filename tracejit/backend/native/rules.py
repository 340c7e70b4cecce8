"""Native lowering rules for primitives that are not elementwise: each emits one node's loops (or
its BLAS call) into a SegmentEmitter. They sit in the backend's lowering table beside the
elementwise entries; a primitive with neither runs on the host."""
from llvmlite import ir

from ...ir.analysis import shape_size
from ...ops import REGISTRY as P
from ...ops.conv import window_geometry
from .emit import KernelInfo, compute_kind, nest
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
    first copied into scratch memory."""

    def accepts(self, node):
        from kernels.blas import gemm_address
        dtype = node.outputs[0].dtype
        return dtype.name in ("float32", "float64") and gemm_address(dtype.name) is not None

    def emit(self, em, node):
        fn = em.fn
        a, b = node.inputs
        out = node.outputs[0]
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
                         ir.Constant(i64, k), ir.Constant(real, 1.0), address(a_matrix, indices),
                         ir.Constant(i64, a_matrix["ld"]), address(b_matrix, indices), ir.Constant(i64, b_matrix["ld"]),
                         ir.Constant(real, 0.0), c_address, ir.Constant(i64, n)]
            fn.call_address(gemm, ir.VoidType(), signature, arguments)
        nest(em, batch, call)
        self.record(em, node, 2 * shape_size(out.shape) * k)


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
LOWERINGS.register(P["one_hot"], OneHot())
LOWERINGS.register(P["im2col"], Im2col())
