"""float16 <-> float32 bit conversion for kernels (numba has no float16 loads or stores):
kernels see float16 arrays as uint16 views, widen on read, compute in float32 and round to
nearest even on store — NumPy's npy_halfbits_to_floatbits / npy_floatbits_to_halfbits."""
import numpy as np
from numba import njit

_JIT = dict(error_model="numpy", fastmath={"contract"}, cache=True)


@njit(**_JIT)
def half_to_float(h):
    h = np.uint32(h)
    sign = (h & np.uint32(0x8000)) << np.uint32(16)
    exponent = (h >> np.uint32(10)) & np.uint32(0x1F)
    mantissa = h & np.uint32(0x3FF)
    if exponent == 0:                                    # zero or subnormal: mantissa * 2**-24
        magnitude = np.float32(mantissa) * np.float32(5.9604644775390625e-08)
        return -magnitude if sign else magnitude
    if exponent == 31:                                   # inf or nan
        bits = sign | np.uint32(0x7F800000) | (mantissa << np.uint32(13))
    else:
        bits = sign | ((exponent + np.uint32(112)) << np.uint32(23)) | (mantissa << np.uint32(13))
    return np.uint32(bits).view(np.float32)


@njit(**_JIT)
def float_to_half(x):
    f = np.float32(x).view(np.uint32)
    sign = np.uint16((f >> np.uint32(16)) & np.uint32(0x8000))
    f_exp = f & np.uint32(0x7F800000)
    if f_exp >= np.uint32(0x47800000):                  # overflow, inf or nan
        sig = f & np.uint32(0x007FFFFF)
        if f_exp == np.uint32(0x7F800000) and sig != 0:
            payload = np.uint16(0x7C00 + (sig >> np.uint32(13)))
            return sign + (payload if payload != np.uint16(0x7C00) else np.uint16(0x7C01))
        return sign + np.uint16(0x7C00)
    if f_exp <= np.uint32(0x38000000):                  # subnormal half or zero
        if f_exp < np.uint32(0x33000000):
            return sign
        e = f_exp >> np.uint32(23)
        sig = np.uint32(0x00800000) + (f & np.uint32(0x007FFFFF))
        # round to nearest, ties to even: the mask includes the result's lowest bit (bit 126 - e)
        if (sig & ((np.uint32(1) << (np.uint32(127) - e)) - np.uint32(1))) != (np.uint32(1) << (np.uint32(125) - e)):
            sig += np.uint32(1) << (np.uint32(125) - e)
        sig >>= np.uint32(126) - e                      # half subnormal = sig * 2**(e - 126)
        return sign + np.uint16(sig)
    h_exp = np.uint16((f_exp - np.uint32(0x38000000)) >> np.uint32(13))
    sig = f & np.uint32(0x007FFFFF)
    if (sig & np.uint32(0x00003FFF)) != np.uint32(0x00001000):   # round to nearest, ties to even
        sig += np.uint32(0x00001000)
    return sign + h_exp + np.uint16(sig >> np.uint32(13))          # a mantissa carry rolls into the exponent
