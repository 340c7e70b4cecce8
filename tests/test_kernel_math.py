"""kernels.mathfuncs: vectorizable exp/expm1/log/log1p/tanh/sigmoid/softplus/erf within a few ulp of
NumPy over wide ranges, special values as NumPy, float32 in -> float32 out. Checked twice: on
NumPy arrays (NumpyOps) and compiled to native code through kernels.ir (what the backend runs)."""
import ctypes
import math

import numpy as np
import pytest
from llvmlite import ir

from kernels import mathfuncs as M
from kernels.ir import Function, IROps
from tracejit.backend.native.compile import LoadedCode, compile_ir

FUNCS = {"exp": (np.exp, (-745, 709)), "expm1": (np.expm1, (-40, 709)), "log": (np.log, (1e-300, 1e300)),
         "log1p": (np.log1p, (-0.999, 1e10)), "tanh": (np.tanh, (-25, 25)),
         "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), (-700, 700)), "softplus": (lambda x: np.logaddexp(x, 0), (-700, 700)),
         "erf": (np.vectorize(math.erf), (-6, 6))}
SPECIAL = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-310, -1e-310, 5e-324, 1.0, -1.0, 1e-20, -1e-20, 710.0,
                    -746.0, 0.5 * np.log(2), 1e308])
_KIND = {np.float32: "f32", np.float64: "f64"}
_compiled = {}


def native(name, dtype, arity=1):
    """out[i] = M.name(x[i]...) compiled through kernels.ir: P = [x, (y,) out] data addresses, n in chunks."""
    key = (name, dtype, arity)
    if key not in _compiled:
        module = ir.Module(name=f"apply_{name}")
        fn = Function(module, "apply")
        kind = _KIND[dtype]
        pointers = [fn.pointer(fn.slot(i), kind) for i in range(arity + 1)]
        with fn.loop(0, fn.wrap(fn.chunk, "i64")) as i:
            args = [fn.load(p, i, kind) for p in pointers[:arity]]
            fn.store(pointers[arity], i, getattr(M, name)(IROps(fn), *args))
        fn.finish()
        code = LoadedCode(compile_ir(str(module)))
        _compiled[key] = code, code.function("apply")       # the code lives as long as its function is used
    function = _compiled[key][1]

    def apply(*arrays):
        out = np.empty_like(arrays[0])
        slots = (ctypes.c_int64 * (arity + 1))(*[a.ctypes.data for a in arrays], out.ctypes.data)
        assert function(ctypes.addressof(slots), arrays[0].size, 1) == 0
        return out
    return apply


def _inputs(low, high, dtype):
    rng = np.random.default_rng(0)
    if low > 0:
        x = np.exp(rng.uniform(np.log(low), np.log(high), 20000))
    else:
        x = rng.uniform(low, high, 20000)
        x = np.concatenate([x, rng.uniform(-1, 1, 5000), rng.uniform(-1e-6, 1e-6, 1000)])
    with np.errstate(over="ignore"):       # float64 inputs beyond float32's range become inf
        return np.concatenate([x, SPECIAL]).astype(dtype)


def ulp_error(actual, expected, dtype):
    actual, expected = actual.astype(np.float64), expected.astype(np.float64)
    both_nan = np.isnan(actual) & np.isnan(expected)
    same = (actual == expected) | both_nan
    spacing = np.spacing(np.abs(expected).astype(dtype)).astype(np.float64)
    with np.errstate(all="ignore"):
        err = np.where(same, 0.0, np.abs(actual - expected) / spacing)
    return err


@pytest.mark.parametrize("where", ["native", "numpy"])
@pytest.mark.parametrize("dtype,max_ulp", [(np.float64, 4), (np.float32, 3)])
@pytest.mark.parametrize("name", sorted(FUNCS))
def test_accuracy_against_numpy(name, dtype, max_ulp, where):
    if name == "erf" and dtype == np.float32:
        max_ulp = 4 if where == "native" else 6   # the rational approximation's worst case (near |x| = 2); NumPy has no FMA
    if name == "tanh" and dtype == np.float32:
        max_ulp = 6                               # XLA's rational tanh, worst near |x| = 6 (relative error 4e-7)
    reference, (low, high) = FUNCS[name]
    x = _inputs(low, high, dtype)
    with np.errstate(all="ignore"):
        out = native(name, dtype)(x) if where == "native" else getattr(M, name)(M.NumpyOps(), x)
        expected = reference(x.astype(np.float64)).astype(dtype)   # correctly rounded to dtype
    assert out.dtype == dtype
    err = ulp_error(out, expected, dtype)
    worst = int(np.argmax(err))
    assert err.max() <= max_ulp, f"{name}({x[worst]!r}) = {out[worst]!r}, expected {expected[worst]!r}"


@pytest.mark.parametrize("name", ["relu", "maximum", "minimum"])
def test_nan_propagates_like_numpy(name):
    arity = 1 if name == "relu" else 2
    apply = native(name, np.float64, arity)
    values = [np.array([np.nan, -2.0, 3.0])] + ([np.array([1.0, 3.0, np.nan])] if arity == 2 else [])
    out = apply(*values)
    reference = {"relu": lambda x: np.maximum(x, 0), "maximum": np.maximum, "minimum": np.minimum}[name]
    np.testing.assert_array_equal(out, reference(*values))


def test_every_half_converts_like_numpy():
    """float16 loads and stores (LLVM's half conversions) agree with NumPy on all 65,536 halves and
    round float32 to nearest even exactly like astype(float16)."""
    module = ir.Module(name="halves")
    fn = Function(module, "widen_narrow")
    bits_in = fn.pointer(fn.slot(0), "u16")
    widened = fn.pointer(fn.slot(1), "f32")
    floats_in = fn.pointer(fn.slot(2), "f32")
    bits_out = fn.pointer(fn.slot(3), "u16")
    with fn.loop(0, fn.wrap(fn.chunk, "i64")) as i:
        fn.store(widened, i, fn.half_to_float(fn.load(bits_in, i, "u16")))
    with fn.loop(0, fn.wrap(fn.chunks, "i64")) as i:
        fn.store(bits_out, i, fn.float_to_half(fn.load(floats_in, i, "f32")))
    fn.finish()
    code = LoadedCode(compile_ir(str(module)))
    function = code.function("widen_narrow")
    bits = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    halves = bits.view(np.float16).astype(np.float32)
    rng = np.random.default_rng(0)
    with np.errstate(over="ignore", invalid="ignore"):
        values = np.concatenate([
            halves, np.nextafter(halves, np.float32(np.inf)), np.nextafter(halves, np.float32(-np.inf)),
            rng.normal(0, 1e4, 100000).astype(np.float32), rng.normal(0, 1e-5, 100000).astype(np.float32),
            np.array([65504, 65519.99, 65520, 1e10, -1e10, 2.0 ** -25, 2.0 ** -24 * 1.5, np.inf, -np.inf], np.float32)])
        expected_bits = values.astype(np.float16).view(np.uint16)
    out_floats, out_bits = np.empty(bits.shape, np.float32), np.empty(values.shape, np.uint16)
    slots = (ctypes.c_int64 * 4)(bits.ctypes.data, out_floats.ctypes.data, values.ctypes.data, out_bits.ctypes.data)
    assert function(ctypes.addressof(slots), bits.size, values.size) == 0
    same = (out_floats.view(np.uint32) == halves.view(np.uint32)) | (np.isnan(out_floats) & np.isnan(halves))
    assert same.all()
    nan = np.isnan(values)
    assert (out_bits[~nan] == expected_bits[~nan]).all()
    assert np.isnan(out_bits[nan].view(np.float16)).all()
