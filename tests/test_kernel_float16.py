"""float16 bit conversions used by kernels agree with NumPy exactly."""
import numpy as np
from numba import njit

from kernels.float16 import float_to_half, half_to_float


@njit
def widen(bits, out):
    for i in range(bits.shape[0]):
        out[i] = half_to_float(bits[i])


@njit
def narrow(values, out):
    for i in range(values.shape[0]):
        out[i] = float_to_half(values[i])


def test_every_half_widens_exactly():
    bits = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    out = np.empty(bits.shape, np.float32)
    widen(bits, out)
    expected = bits.view(np.float16).astype(np.float32)
    same = (out.view(np.uint32) == expected.view(np.uint32)) | (np.isnan(out) & np.isnan(expected))
    assert same.all()


@np.errstate(over="ignore", invalid="ignore")   # reference casts overflow to inf; nextafter(nan) is nan
def test_narrowing_rounds_like_numpy():
    rng = np.random.default_rng(0)
    halves = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16).astype(np.float32)
    values = np.concatenate([
        halves, np.nextafter(halves, np.float32(np.inf)), np.nextafter(halves, np.float32(-np.inf)),
        rng.normal(0, 1e4, 100000).astype(np.float32), rng.normal(0, 1e-5, 100000).astype(np.float32),
        np.array([65504, 65519.99, 65520, 1e10, -1e10, 2.0 ** -25, 2.0 ** -24 * 1.5, np.inf, -np.inf], np.float32)])
    out = np.empty(values.shape, np.uint16)
    narrow(values, out)
    expected = values.astype(np.float16).view(np.uint16)
    nan = np.isnan(values)
    assert (out[~nan] == expected[~nan]).all()
    assert np.isnan(out[nan].view(np.float16)).all()
