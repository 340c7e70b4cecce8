import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
# the real MNIST lives in the workplace's shared folder beside the checkout (never in the repo)
os.environ.setdefault("TRACEJIT_DATASETS", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))

import tracejit as tf  # noqa: E402
from tracejit import dtypes as dt  # noqa: E402

# Compiled vs eager tolerances per dtype (the NumPy interpreter is exact; compiled kernels may
# reorder float arithmetic or use vectorized math functions accurate to a few ulp).
TOLERANCES = {dt.float16: dict(rtol=1e-2, atol=1e-3), dt.float32: dict(rtol=1e-5, atol=1e-6),
              dt.float64: dict(rtol=1e-12, atol=1e-14)}


def assert_close(actual, expected, dtype=None):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    tol = TOLERANCES.get(dtype or dt.as_dtype(expected.dtype)) if expected.dtype.kind == "f" else None
    if tol:
        np.testing.assert_allclose(actual, expected, **tol)
    else:
        np.testing.assert_array_equal(actual, expected)


@pytest.fixture(autouse=True)
def _isolated_state(monkeypatch):
    """Each test starts eager, without debug output, with no global seed."""
    monkeypatch.delenv("TRACEJIT_DEBUG", raising=False)
    tf.config.run_functions_eagerly(False)
    tf.config.set_compile_mode("sync")         # native code is compiled before the first call returns

    tf.random.set_seed(None)
    yield
    tf.config.run_functions_eagerly(False)
    tf.compat.v1.enable_v2_behavior()         # a TF1 test leaves no default graph behind


def finite_differences(f, x, eps=1e-6):
    """Central differences of the scalar function f at x (float64), one element at a time."""
    x = np.array(x, np.float64)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[index] += eps
        down[index] -= eps
        grad[index] = (f(up) - f(down)) / (2 * eps)
    return grad


@pytest.fixture(params=["native", "numpy"])
def backend(request):
    """Runs a test on each backend."""
    previous = tf.config.backend()
    tf.config.set_backend(request.param)
    yield request.param
    tf.config.set_backend(previous)
