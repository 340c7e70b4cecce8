"""Vectorizable scalar math for generated loops: straight-line code (selects, no branches, no libm
calls) that LLVM vectorizes; there is no SVML here, and libm's tanh is ~45x slower than a
vectorized polynomial. Float64 cores use Cody-Waite range reduction and fdlibm polynomials
(<= 4 ulp); exp/expm1/sigmoid (<= 3 ulp), tanh (<= 6 ulp, XLA's rational form) and erf (<= 4 ulp)
have float32 cores (8 SIMD lanes); log, log1p and softplus compute float32 in float64 and round once. Special values (nan,
+-inf, 0, denormals) follow NumPy.

Each function takes `ops` and `x`: with `NumpyOps` it computes on NumPy arrays (the tests check
accuracy that way), with kernels.ir.IROps it emits LLVM IR for one element. The algorithm is
written once for both."""
import math

import numpy as np

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_SQRT2 = 1.4142135623730951
_LG = (6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01,
       2.222219843214978396e-01, 1.818357216161805012e-01, 1.531383769920937332e-01,
       1.479819860511658591e-01)
_KINDS = {"f32": np.float32, "f64": np.float64, "i32": np.int32, "i64": np.int64, "u32": np.uint32}


class NumpyOps:
    """The operations math code needs beyond Python operators, on NumPy arrays."""

    floor, ceil, rint, sqrt, fabs = (staticmethod(f) for f in (np.floor, np.ceil, np.rint, np.sqrt, np.fabs))
    sin, cos, copysign, where, isnan = (staticmethod(f) for f in (np.sin, np.cos, np.copysign, np.where, np.isnan))

    @staticmethod
    def to_int(x, kind):
        return np.asarray(x).astype(_KINDS[kind])

    to_float = to_int

    @staticmethod
    def bits_to_float(bits, kind):
        return np.asarray(bits).view(_KINDS[kind])

    float_to_bits = bits_to_float

    @staticmethod
    def const(value, like):
        return np.asarray(like).dtype.type(value)

    @staticmethod
    def kind(x):
        return {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}[np.asarray(x).dtype]


def _clamp(ops, x, low, high):
    """min(max(x, low), high); nan stays nan."""
    x = ops.where(x < low, ops.const(low, x), x)
    return ops.where(x > high, ops.const(high, x), x)


# ---- float64 cores --------------------------------------------------------------------------------
def _pow2(ops, k):
    """2.0**k for integer k (int64) in [-1022, 1023], by building the exponent bits."""
    return ops.bits_to_float((k + 1023) << 52, "f64")


def _expm1_reduced(r):
    """expm1 on |r| <= ln2/2: Taylor series to r**13 (error below 1e-16 relative)."""
    p = r * (1.0 / 6227020800.0) + 1.0 / 479001600.0
    for n in (11, 10, 9, 8, 7, 6, 5, 4, 3):
        p = p * r + 1.0 / math.factorial(n)
    p = p * r + 0.5
    return r + r * r * p


def _split(ops, x):
    """x = k*ln2 + r with |r| <= ln2/2; x clamped to the range where exp is finite and nonzero."""
    x = _clamp(ops, x, -746.0, 710.0)
    k = ops.floor(x * _LOG2E + 0.5)
    r = (x - k * _LN2_HI) - k * _LN2_LO
    return ops.to_int(k, "i64"), r


def exp64(ops, x):
    k, r = _split(ops, x)
    k1 = k >> 1
    result = (1.0 + _expm1_reduced(r)) * _pow2(ops, k1) * _pow2(ops, k - k1)   # two steps: denormals, 2**1024
    return ops.where(ops.isnan(x), x, result)


def expm1_64(ops, x):
    k, r = _split(ops, x)
    p = _expm1_reduced(r)
    k1 = k >> 1
    scaled = (1.0 + p) * _pow2(ops, k1) * _pow2(ops, k - k1) - 1.0
    result = ops.where(k == 0, p, scaled)
    return ops.where(ops.isnan(x), x, result)


def log64(ops, x):
    tiny = x < 2.2250738585072014e-308
    scaled = ops.where(tiny, x * 18014398509481984.0, x)          # denormals: scale by 2**54 first
    bits = ops.float_to_bits(scaled, "i64")
    k = ((bits >> 52) & 0x7FF) - 1023 - ops.where(tiny, ops.const(54, bits), ops.const(0, bits))
    m = ops.bits_to_float((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000, "f64")
    big = m > _SQRT2
    m = ops.where(big, m * 0.5, m)
    dk = ops.to_float(ops.where(big, k + 1, k), "f64")
    f = m - 1.0
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (_LG[1] + w * (_LG[3] + w * _LG[5]))
    t2 = z * (_LG[0] + w * (_LG[2] + w * (_LG[4] + w * _LG[6])))
    result = dk * _LN2_HI - ((hfsq - (s * (hfsq + t1 + t2) + dk * _LN2_LO)) - f)
    result = ops.where(x == np.inf, x, result)
    result = ops.where(x >= 0.0, result, ops.const(np.nan, x))     # negative or nan
    return ops.where(x == 0.0, ops.const(-np.inf, x), result)


def log1p64(ops, x):
    u = 1.0 + x
    finite = (u > 0.0) & (u < np.inf)
    correction = ops.where(finite, ((u - 1.0) - x) / ops.where(finite, u, ops.const(1.0, u)), ops.const(0.0, u))
    return ops.where(u == 1.0, x, log64(ops, u) - correction)       # correction: what rounding 1 + x lost


def tanh64(ops, x):
    em = expm1_64(ops, -2.0 * ops.fabs(x))                      # in (-1, 0]: no cancellation
    return ops.copysign(-em / (em + 2.0), x)


def sigmoid64(ops, x):
    return 1.0 / (1.0 + exp64(ops, -x))


def softplus64(ops, x):
    return log1p64(ops, exp64(ops, -ops.fabs(x))) + ops.where(x > 0.0, x, ops.const(0.0, x))


# ---- float32 cores: 8 SIMD lanes instead of 4; constants are float32 so nothing promotes ----------
_F = np.float32
_LOG2E_F, _LN2_HI_F, _LN2_LO_F = _F(1.44269504), _F(0.693359375), _F(-2.12194440e-4)
_EXP_LO_F, _EXP_HI_F = _F(-104.0), _F(89.0)
_C = [_F(1.0 / math.factorial(n)) for n in range(2, 9)]


def _pow2_f(ops, k):
    return ops.bits_to_float((k + 127) << 23, "f32")


def _expm1_reduced_f(r):
    """expm1 on |r| <= ln2/2 in float32: Taylor series to r**8."""
    p = r * _C[6] + _C[5]
    for c in reversed(_C[:5]):
        p = p * r + c
    return r + r * r * p


def _split_f(ops, x):
    x = _clamp(ops, x, _EXP_LO_F, _EXP_HI_F)
    k = ops.floor(x * _LOG2E_F + _F(0.5))
    r = (x - k * _LN2_HI_F) - k * _LN2_LO_F
    return ops.to_int(k, "i32"), r


def exp32(ops, x):
    k, r = _split_f(ops, x)
    k1 = k >> 1
    result = (_F(1.0) + _expm1_reduced_f(r)) * _pow2_f(ops, k1) * _pow2_f(ops, k - k1)
    return ops.where(ops.isnan(x), x, result)


def expm1_32(ops, x):
    k, r = _split_f(ops, x)
    p = _expm1_reduced_f(r)
    k1 = k >> 1
    scaled = (_F(1.0) + p) * _pow2_f(ops, k1) * _pow2_f(ops, k - k1) - _F(1.0)
    result = ops.where(k == 0, p, scaled)
    return ops.where(ops.isnan(x), x, result)


# tanh as XLA/Eigen compute it for float32: an odd rational function, degree 13 over degree 6, on
# x clamped to +-7.905 (where it reaches 1.0f). <= 6 ulp (near |x| = 6), half the work of the
# expm1 form; below |x| = 0.0004, tanh(x) rounds to x.
_TANH_P = [_F(c) for c in (4.89352455891786e-03, 6.37261928875436e-04, 1.48572235717979e-05, 5.12229709037114e-08,
                           -8.60467152213735e-11, 2.00018790482477e-13, -2.76076847742355e-16)]
_TANH_Q = [_F(c) for c in (4.89352518554385e-03, 2.26843463243900e-03, 1.18534705686654e-04, 1.19825839466702e-06)]
_TANH_CLAMP, _TANH_TINY = _F(7.90531110763549805), _F(0.0004)


def tanh32(ops, x):
    clamped = _clamp(ops, x, -_TANH_CLAMP, _TANH_CLAMP)
    x2 = clamped * clamped
    p = _TANH_P[6]
    for c in reversed(_TANH_P[:6]):
        p = p * x2 + c
    q = _TANH_Q[3]
    for c in reversed(_TANH_Q[:3]):
        q = q * x2 + c
    return ops.where(ops.fabs(x) < _TANH_TINY, x, clamped * p / q)


def sigmoid32(ops, x):
    e = exp32(ops, -ops.fabs(x))            # exp(x) for x < 0 reaches denormals instead of 1/inf
    r = _F(1.0) / (_F(1.0) + e)
    return ops.where(x >= _F(0.0), r, e * r)


_ERF_ALPHA = [_F(c) for c in (-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06,
                               -5.69250639462346e-05, -7.34990630326855e-04, -2.95459980854025e-03,
                               -1.60960333262415e-02)]
_ERF_BETA = [_F(c) for c in (-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03,
                              -7.37332916720468e-03, -1.42647390514189e-02)]


def erf32(ops, x):
    """Rational approximation x*P(x^2)/Q(x^2) below |x| = 3, 1 - erfc(|x|) above."""
    c = _clamp(ops, x, _F(-4.0), _F(4.0))
    x2 = c * c
    p = x2 * _ERF_ALPHA[0] + _ERF_ALPHA[1]
    for coefficient in _ERF_ALPHA[2:]:
        p = p * x2 + coefficient
    q = x2 * _ERF_BETA[0] + _ERF_BETA[1]
    for coefficient in _ERF_BETA[2:]:
        q = q * x2 + coefficient
    small = c * p / q
    # |x| >= 3: erf = 1 - erfc, erfc by its asymptotic series (error ~2e-8, under half an ulp of 1)
    magnitude = ops.fabs(x)
    a = ops.where(magnitude > _F(3.0), magnitude, ops.const(3.0, x))
    inv2 = _F(1.0) / (a * a)
    erfc = exp32(ops, -a * a) / (a * _F(1.7724538509055159)) * (
        _F(1.0) - _F(0.5) * inv2 + _F(0.75) * inv2 * inv2 - _F(1.875) * inv2 * inv2 * inv2)
    large = ops.copysign(_F(1.0) - erfc, x)
    result = ops.where(magnitude < _F(3.0), small, large)
    return ops.where(ops.isnan(x), x, result)


# ---- public names: float32 -> float32 cores where they exist, float64 otherwise -------------------
def _by_kind(name, core64, core32=None):
    def function(ops, x):
        if ops.kind(x) == "f32":
            if core32 is not None:
                return core32(ops, x)
            return ops.to_float(core64(ops, ops.to_float(x, "f64")), "f32")
        return core64(ops, x)
    function.__name__ = name
    return function


exp = _by_kind("exp", exp64, exp32)
expm1 = _by_kind("expm1", expm1_64, expm1_32)
log = _by_kind("log", log64)
log1p = _by_kind("log1p", log1p64)
tanh = _by_kind("tanh", tanh64, tanh32)
sigmoid = _by_kind("sigmoid", sigmoid64, sigmoid32)
softplus = _by_kind("softplus", softplus64)


def maximum(ops, a, b):
    return ops.where((a >= b) | ops.isnan(a), a, b)          # nan wins, like np.maximum


def minimum(ops, a, b):
    return ops.where((a <= b) | ops.isnan(a), a, b)


def relu(ops, x):
    return ops.where((x > ops.const(0, x)) | (x != x), x, ops.const(0, x))


def sign(ops, x):
    zero, one = ops.const(0, x), ops.const(1, x)
    result = ops.where(x > zero, one, ops.where(x < zero, -one, zero))
    return ops.where(x != x, x, result)                       # nan stays nan (ints: never)


# ---- float64 erf (fdlibm s_erf.c coefficients) --------------------------------------------------
_ERX = 8.45062911510467529297e-01
_EFX = 1.28379167095512586316e-01
_PP = (1.28379167095512558561e-01, -3.25042107247001499370e-01, -2.84817495755985104766e-02,
       -5.77027029648944159157e-03, -2.37630166566501626084e-05)
_QQ = (3.97917223959155352819e-01, 6.50222499887672944485e-02, 5.08130628187576562776e-03,
       1.32494738004321644526e-04, -3.96022827877536812320e-06)
_PA = (-2.36211856075265944077e-03, 4.14856118683748331666e-01, -3.72207876035701323847e-01,
       3.18346619901161753674e-01, -1.10894694282396677476e-01, 3.54783043256182359371e-02,
       -2.16637559486879084300e-03)
_QA = (1.06420880400844228286e-01, 5.40397917702171048937e-01, 7.18286544141962662868e-02,
       1.26171219808761642112e-01, 1.36370839120290507362e-02, 1.19844998467991074170e-02)
_RA = (-9.86494403484714822705e-03, -6.93858572707181764372e-01, -1.05586262253232909814e+01,
       -6.23753324503260060396e+01, -1.62396669462573470355e+02, -1.84605092906711035994e+02,
       -8.12874355063065934246e+01, -9.81432934416914548592e+00)
_SA = (1.96512716674392571292e+01, 1.37657754143519042600e+02, 4.34565877475229228821e+02,
       6.45387271733267880336e+02, 4.29008140027567833386e+02, 1.08635005541779435134e+02,
       6.57024977031928170135e+00, -6.04244152148580987438e-02)
_RB = (-9.86494292470009928597e-03, -7.99283237680523006574e-01, -1.77579549177547519889e+01,
       -1.60636384855821916062e+02, -6.37566443368389627722e+02, -1.02509513161107724954e+03,
       -4.83519191608651397019e+02)
_SB = (3.03380607434824582924e+01, 3.25792512996573918826e+02, 1.53672958608443695994e+03,
       3.19985821950859553908e+03, 2.55305040643316442583e+03, 4.74528541206955367215e+02,
       -2.24409524465858183362e+01)


def _poly(z, coefficients):
    result = z * coefficients[-1] + coefficients[-2]
    for c in reversed(coefficients[:-2]):
        result = result * z + c
    return result


def erf64(ops, x):
    """fdlibm's s_erf.c: rational approximations on |x| < 0.84375, < 1.25 and < 6 (erf = 1 above),
    all evaluated and selected without branches."""
    ax = ops.fabs(x)
    z = x * x
    small = x + x * (_poly(z, _PP) / (1.0 + z * _poly(z, _QQ)))                # |x| < 0.84375
    s = ax - 1.0
    medium = _ERX + _poly(s, _PA) / (1.0 + s * _poly(s, _QA))                  # |x| < 1.25
    big = ops.where(ax < 6.0, ax, ops.const(6.0, ax))
    w = 1.0 / (big * big)
    r = ops.where(big < 1.0 / 0.35, _poly(w, _RA), _poly(w, _RB))
    q = ops.where(big < 1.0 / 0.35, 1.0 + w * _poly(w, _SA), 1.0 + w * _poly(w, _SB))
    zz = ops.bits_to_float(ops.float_to_bits(big, "i64") & -4294967296, "f64")  # big with the low word cleared
    erfc = exp64(ops, -zz * zz - 0.5625) * exp64(ops, (zz - big) * (zz + big) + r / q) / big
    large = 1.0 - erfc                                                           # 1.25 <= |x| < 6
    magnitude = ops.where(ax < 0.84375, ops.fabs(small), ops.where(ax < 1.25, medium,
                                                                    ops.where(ax < 6.0, large, ops.const(1.0, x))))
    return ops.where(ops.isnan(x), x, ops.copysign(magnitude, x))


erf = _by_kind("erf", erf64, erf32)
