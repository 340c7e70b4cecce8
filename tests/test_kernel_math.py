"""kernels.mathfuncs: vectorizable exp/expm1/log/log1p/tanh/sigmoid/softplus within a few ulp of
NumPy over wide ranges, special values as NumPy, float32 in -> float32 out."""
import math

import numpy as np
import pytest
from numba import njit

from kernels import mathfuncs as M

FUNCS = {"exp": (np.exp, (-745, 709)), "expm1": (np.expm1, (-40, 709)), "log": (np.log, (1e-300, 1e300)),
         "log1p": (np.log1p, (-0.999, 1e10)), "tanh": (np.tanh, (-25, 25)),
         "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), (-700, 700)), "softplus": (lambda x: np.logaddexp(x, 0), (-700, 700)),
         "erf": (np.vectorize(math.erf), (-6, 6))}
SPECIAL = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-310, -1e-310, 5e-324, 1.0, -1.0, 1e-20, -1e-20, 710.0,
                    -746.0, 0.5 * np.log(2), 1e308])
_appliers = {}


def applier(name):
    """One compiled loop per function, shared by the tests (compile once)."""
    if name not in _appliers:
        fn = getattr(M, name)

        @njit(error_model="numpy", fastmath={"contract"})
        def apply(x, out):
            for i in range(x.shape[0]):
                out[i] = fn(x[i])
        _appliers[name] = apply
    return _appliers[name]


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


@pytest.mark.parametrize("dtype,max_ulp", [(np.float64, 4), (np.float32, 3)])
@pytest.mark.parametrize("name", sorted(FUNCS))
def test_accuracy_against_numpy(name, dtype, max_ulp):
    if name == "erf" and dtype == np.float32:
        max_ulp = 4             # the rational approximation's worst case (near |x| = 2)
    reference, (low, high) = FUNCS[name]
    x = _inputs(low, high, dtype)
    out = np.empty_like(x)
    applier(name)(x, out)
    assert out.dtype == dtype
    with np.errstate(all="ignore"):
        expected = reference(x.astype(np.float64)).astype(dtype)   # correctly rounded to dtype
    err = ulp_error(out, expected, dtype)
    worst = int(np.argmax(err))
    assert err.max() <= max_ulp, f"{name}({x[worst]!r}) = {out[worst]!r}, expected {expected[worst]!r}"


@pytest.mark.parametrize("name", ["relu", "maximum", "minimum"])
def test_nan_propagates_like_numpy(name):
    fn = getattr(M, name)
    args = (np.nan,) if name == "relu" else (np.nan, 1.0)

    @njit
    def call(a):
        return fn(*a)
    assert np.isnan(call(args)) and np.isnan(call(args[::-1]))
    assert call((-2.0,) if name == "relu" else (-2.0, 3.0)) == {"relu": 0.0, "maximum": 3.0, "minimum": -2.0}[name]


def test_python_fallbacks_follow_numpy():
    assert M.tanh(0.5) == np.tanh(0.5) and M.sigmoid(0.0) == 0.5 and M.relu(-1.0) == 0.0
