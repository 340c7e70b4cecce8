"""Scalar math for generated loops, written so LLVM can vectorize it (no SVML here: numba's
math.exp/log/tanh are scalar libm calls, ~45x slower for tanh). Float64 cores use Cody-Waite
range reduction and fdlibm polynomials (<= 4 ulp). exp/expm1/tanh/sigmoid (<= 3 ulp) and erf
(<= 4 ulp) have float32 cores (8 SIMD lanes); the other functions compute float32 in float64 and
round once. float64 erf stays a scalar libm call.
Special values (nan, +-inf, 0, denormals) follow NumPy.

Each public name is a plain Python function (NumPy semantics, for use and tests outside numba)
overloaded for numba by dtype: float32 in -> float32 out."""
import math

import numpy as np
from numba import njit, types
from numba.extending import overload

_JIT = dict(error_model="numpy", fastmath={"contract"}, cache=True)
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_SQRT2 = 1.4142135623730951
_LG = (6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01,
       2.222219843214978396e-01, 1.818357216161805012e-01, 1.531383769920937332e-01,
       1.479819860511658591e-01)


@njit(**_JIT)
def _pow2(k):
    """2.0**k for integer k in [-1022, 1023], by building the exponent bits."""
    return np.int64((k + 1023) << 52).view(np.float64)


@njit(**_JIT)
def _expm1_reduced(r):
    """expm1 on |r| <= ln2/2: Taylor series to r**13 (error below 1e-16 relative)."""
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    return r + r * r * p


@njit(**_JIT)
def _split(x):
    """x = k*ln2 + r with |r| <= ln2/2; x clamped to the range where exp is finite and nonzero."""
    x = min(max(x, -746.0), 710.0)
    k = np.floor(x * _LOG2E + 0.5)
    r = (x - k * _LN2_HI) - k * _LN2_LO
    return np.int64(k), r


@njit(**_JIT)
def exp64(x):
    k, r = _split(x)
    k1 = k >> 1
    result = (1.0 + _expm1_reduced(r)) * _pow2(k1) * _pow2(k - k1)   # two steps: denormals and 2**1024
    return x if x != x else result


@njit(**_JIT)
def expm1_64(x):
    k, r = _split(x)
    p = _expm1_reduced(r)
    k1 = k >> 1
    scaled = (1.0 + p) * _pow2(k1) * _pow2(k - k1) - 1.0
    result = p if k == 0 else scaled
    return x if x != x else result


@njit(**_JIT)
def log64(x):
    tiny = x < 2.2250738585072014e-308
    scaled = x * 18014398509481984.0 if tiny else x          # denormals: scale by 2**54 first
    bits = np.float64(scaled).view(np.int64)
    k = ((bits >> 52) & 0x7FF) - 1023 - (54 if tiny else 0)
    m = np.int64((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000).view(np.float64)
    big = m > _SQRT2
    m = m * 0.5 if big else m
    dk = np.float64(k + 1 if big else k)
    f = m - 1.0
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (_LG[1] + w * (_LG[3] + w * _LG[5]))
    t2 = z * (_LG[0] + w * (_LG[2] + w * (_LG[4] + w * _LG[6])))
    result = dk * _LN2_HI - ((hfsq - (s * (hfsq + t1 + t2) + dk * _LN2_LO)) - f)
    if x == 0.0:
        return -np.inf
    if not x >= 0.0:                                          # negative or nan
        return np.nan
    return x if x == np.inf else result


@njit(**_JIT)
def log1p64(x):
    u = 1.0 + x
    correction = ((u - 1.0) - x) / u if (u > 0.0 and u < np.inf) else 0.0   # what rounding 1 + x lost
    return x if u == 1.0 else log64(u) - correction


@njit(**_JIT)
def tanh64(x):
    em = expm1_64(-2.0 * abs(x))                               # in (-1, 0]: no cancellation
    return np.copysign(-em / (em + 2.0), x)                    # (a branch here blocks vectorization)


@njit(**_JIT)
def sigmoid64(x):
    return 1.0 / (1.0 + exp64(-x))


@njit(**_JIT)
def softplus64(x):
    return log1p64(exp64(-abs(x))) + max(x, 0.0)


# ---- float32 cores: 8 SIMD lanes instead of 4; every constant is float32 so nothing promotes ----
_F = np.float32
_LOG2E_F, _LN2_HI_F, _LN2_LO_F = _F(1.44269504), _F(0.693359375), _F(-2.12194440e-4)
_EXP_LO_F, _EXP_HI_F = _F(-104.0), _F(89.0)
_C = [_F(1.0 / math.factorial(n)) for n in range(2, 9)]
_C2, _C3, _C4, _C5, _C6, _C7, _C8 = _C
_ONE_F, _TWO_F, _HALF_F = _F(1.0), _F(2.0), _F(0.5)


@njit(**_JIT)
def _pow2_f(k):
    return np.int32((k + 127) << 23).view(np.float32)


@njit(**_JIT)
def _expm1_reduced_f(r):
    """expm1 on |r| <= ln2/2 in float32: Taylor series to r**8."""
    p = _C8 * r + _C7
    p = p * r + _C6
    p = p * r + _C5
    p = p * r + _C4
    p = p * r + _C3
    p = p * r + _C2
    return r + r * r * p


@njit(**_JIT)
def _split_f(x):
    x = min(max(x, _EXP_LO_F), _EXP_HI_F)
    k = np.floor(x * _LOG2E_F + _HALF_F)
    r = (x - k * _LN2_HI_F) - k * _LN2_LO_F
    return np.int32(k), r


@njit(**_JIT)
def exp32(x):
    k, r = _split_f(x)
    k1 = k >> 1
    result = (_ONE_F + _expm1_reduced_f(r)) * _pow2_f(k1) * _pow2_f(k - k1)
    return x if x != x else result


@njit(**_JIT)
def expm1_32(x):
    k, r = _split_f(x)
    p = _expm1_reduced_f(r)
    k1 = k >> 1
    scaled = (_ONE_F + p) * _pow2_f(k1) * _pow2_f(k - k1) - _ONE_F
    result = p if k == 0 else scaled
    return x if x != x else result


@njit(**_JIT)
def tanh32(x):
    em = expm1_32(_F(-2.0) * abs(x))
    return np.copysign(-em / (em + _TWO_F), x)


@njit(**_JIT)
def sigmoid32(x):
    e = exp32(-abs(x))                      # exp(x) for x < 0 reaches denormals instead of 1/inf
    r = _ONE_F / (_ONE_F + e)
    return r if x >= 0 else e * r


_ERF_ALPHA = [_F(c) for c in (-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06,
                               -5.69250639462346e-05, -7.34990630326855e-04, -2.95459980854025e-03,
                               -1.60960333262415e-02)]
_ERF_BETA = [_F(c) for c in (-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03,
                              -7.37332916720468e-03, -1.42647390514189e-02)]
_A0, _A1, _A2, _A3, _A4, _A5, _A6 = _ERF_ALPHA
_B0, _B1, _B2, _B3, _B4 = _ERF_BETA
_ERF_CLAMP = _F(4.0)


@njit(**_JIT)
def erf32(x):
    """Rational approximation x*P(x^2)/Q(x^2) below |x| = 3, 1 - erfc(|x|) above."""
    c = min(max(x, -_ERF_CLAMP), _ERF_CLAMP)
    x2 = c * c
    p = _A0 * x2 + _A1
    p = p * x2 + _A2
    p = p * x2 + _A3
    p = p * x2 + _A4
    p = p * x2 + _A5
    p = p * x2 + _A6
    q = _B0 * x2 + _B1
    q = q * x2 + _B2
    q = q * x2 + _B3
    q = q * x2 + _B4
    small = c * p / q
    # |x| >= 3: erf = 1 - erfc, erfc by its asymptotic series (error ~2e-8, under half an ulp of 1)
    a = max(abs(x), _F(3.0))
    inv2 = _ONE_F / (a * a)
    erfc = exp32(-a * a) / (a * _F(1.7724538509055159)) * (
        _ONE_F - _HALF_F * inv2 + _F(0.75) * inv2 * inv2 - _F(1.875) * inv2 * inv2 * inv2)
    large = np.copysign(_ONE_F - erfc, x)
    result = small if abs(x) < _F(3.0) else large
    return x if x != x else result


def _float_overload(python_fn, core64, core32=None):
    """Overload `python_fn` in numba: float32 -> float32 (a float32 core, or the float64 core
    rounded once), everything else through the float64 core."""
    @overload(python_fn, jit_options=_JIT)
    def impl(x):
        if isinstance(x, types.Float) and x.bitwidth == 32:
            if core32 is not None:
                return lambda x: core32(x)
            return lambda x: np.float32(core64(np.float64(x)))
        if isinstance(x, (types.Float, types.Integer)):
            return lambda x: core64(np.float64(x))
    return python_fn


def _numpy(fn):
    def scalar(x):
        with np.errstate(all="ignore"):
            return fn(x)
    scalar.__name__ = fn.__name__
    return scalar


exp = _float_overload(_numpy(np.exp), exp64, exp32)
expm1 = _float_overload(_numpy(np.expm1), expm1_64, expm1_32)
log = _float_overload(_numpy(np.log), log64)
log1p = _float_overload(_numpy(np.log1p), log1p64)
tanh = _float_overload(_numpy(np.tanh), tanh64, tanh32)
sigmoid = _float_overload(_numpy(lambda x: 1 / (1 + np.exp(-x))), sigmoid64, sigmoid32)
softplus = _float_overload(_numpy(lambda x: np.logaddexp(x, 0)), softplus64)


def relu(x):
    return np.maximum(x, 0)


@overload(relu, jit_options=_JIT)
def _relu(x):
    zero = x(0) if isinstance(x, types.Number) else None
    return lambda x: x if (x > 0 or x != x) else zero


def maximum(a, b):
    return np.maximum(a, b)


@overload(maximum, jit_options=_JIT)
def _maximum(a, b):
    return lambda a, b: a if (a >= b or a != a) else b          # nan wins, like np.maximum


def minimum(a, b):
    return np.minimum(a, b)


@overload(minimum, jit_options=_JIT)
def _minimum(a, b):
    return lambda a, b: a if (a <= b or a != a) else b


def _erf_numpy(x):
    from scipy.special import erf as scipy_erf
    return scipy_erf(x)


@njit(**_JIT)
def erf64(x):
    return math.erf(x)           # float64 stays a scalar libm call: accurate, not vectorized


erf = _float_overload(_erf_numpy, erf64, erf32)

# Functions numba already vectorizes or that stay scalar libm calls (sin, cos).
sqrt, floor, ceil, sign = np.sqrt, np.floor, np.ceil, np.sign
round = np.rint                  # half to even, like np.round
isnan, isinf, isfinite = np.isnan, np.isinf, np.isfinite
sin, cos = np.sin, np.cos

__all__ = ["exp", "expm1", "log", "log1p", "tanh", "sigmoid", "softplus", "relu", "maximum", "minimum", "sqrt",
           "floor", "ceil", "sign", "round", "isnan", "isinf", "isfinite", "erf", "sin", "cos"]
