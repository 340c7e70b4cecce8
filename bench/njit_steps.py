"""Hand-written whole-step @numba.njit baselines: the near-limit reference beside NumPy. Used only
when numba is importable; run.py compiles them during warm-up, outside the timings.

Choices, measured on the 2-core bench machine:
- matmuls call cblas_sgemm of the OpenBLAS NumPy itself uses, through a ctypes function pointer:
  32x784 @ 784x128 in ~45 us, against ~190 us for the best explicit loop nest (rows of x in blocks
  of 4, inner loop over a contiguous row of w1) and ~300 us for plain i-k-j loops. np.dot inside
  @njit is as fast alone but calls SciPy's OpenBLAS, a second thread pool that fights NumPy's for
  the 2 cores (ms-long stalls in interleaved timings), and takes seconds more to compile.
- error_model="numpy": with Python's error model every float division checks for zero and the
  loops do not vectorize (the chain: 4.5 ms -> 0.45 ms at 1M).
- the chain's tanh is the float32 rational approximation XLA (so jax.jit) uses: libm's tanhf does not
  vectorize (17 ms at 1M). prange over the elements (workqueue threading layer: it does not spin
  after a parallel region and steal the core from the next variant the way OpenMP does)."""
import ctypes
import glob
import os

import numpy as np

from workloads import BETA1, BETA2, EPS, LR, mlp_params

try:
    import numba
except ImportError:             # pragma: no cover - the njit column is then left out
    numba = None


def _numpy_sgemm():
    """cblas_sgemm (row major, 64-bit integers) of NumPy's bundled OpenBLAS as a ctypes function, or None."""
    libs = glob.glob(os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs", "libscipy_openblas64*"))
    symbol = getattr(ctypes.CDLL(libs[0]), "scipy_cblas_sgemm64_", None) if libs else None
    if symbol is None:
        return None
    i32, i64, f32, ptr = ctypes.c_int, ctypes.c_int64, ctypes.c_float, ctypes.c_void_p
    prototype = ctypes.CFUNCTYPE(None, i32, i32, i32, i64, i64, i64, f32, ptr, i64, ptr, i64, f32, ptr, i64)
    return prototype(ctypes.cast(symbol, ptr).value)


_sgemm = _numpy_sgemm() if numba is not None else None


def available():
    return _sgemm is not None


if numba is not None:
    numba.config.THREADING_LAYER = "workqueue"
    njit = numba.njit(error_model="numpy", cache=False)
    prange = numba.prange


def _matmul(a, b, out, transpose_a, transpose_b):
    """out = op(a) @ op(b), op transposing when asked; every array C-contiguous float32."""
    inner = a.shape[0] if transpose_a else a.shape[1]
    _sgemm(101, 112 if transpose_a else 111, 112 if transpose_b else 111, out.shape[0], out.shape[1], inner,
           np.float32(1), a.ctypes.data, a.shape[1], b.ctypes.data, b.shape[1], np.float32(0),
           out.ctypes.data, out.shape[1])


# ---------------------------------------------------------------- MLP step
def _mlp_grads(x, y, w1, b1, w2, b2, h, p, dh, gw1, gb1, gw2, gb2):
    """Forward, mean softmax cross-entropy and backward into the gradient buffers; returns the loss."""
    batch, hidden = h.shape
    classes = p.shape[1]
    zero, inv_batch = np.float32(0), np.float32(1.0 / batch)
    _matmul(x, w1, h, False, False)                    # h = relu(x @ w1 + b1)
    for i in range(batch):
        for j in range(hidden):
            h[i, j] = max(h[i, j] + b1[j], zero)
    _matmul(h, w2, p, False, False)                    # p = (softmax(h @ w2 + b2) - one_hot) / batch
    loss = 0.0
    for i in range(batch):
        top = p[i, 0] + b2[0]
        for j in range(classes):
            p[i, j] += b2[j]
            top = max(top, p[i, j])
        label_logit = p[i, y[i]] - top
        total = zero
        for j in range(classes):
            p[i, j] = np.exp(p[i, j] - top)
            total += p[i, j]
        loss += np.log(total) - label_logit
        for j in range(classes):
            p[i, j] = p[i, j] / total * inv_batch
        p[i, y[i]] -= inv_batch
    _matmul(h, p, gw2, True, False)
    _matmul(p, w2, dh, False, True)                    # dh = (p @ w2.T) * (h > 0)
    for i in range(batch):
        for j in range(hidden):
            if h[i, j] <= zero:
                dh[i, j] = zero
    _matmul(x, dh, gw1, True, False)
    gb1[:] = zero
    gb2[:] = zero
    for i in range(batch):                             # bias gradients: column sums
        for j in range(hidden):
            gb1[j] += dh[i, j]
        for j in range(classes):
            gb2[j] += p[i, j]
    return loss / batch


def _sgd(p, g, lr):
    p, g = p.ravel(), g.ravel()
    for i in range(p.size):
        p[i] -= lr * g[i]


def _adam(p, g, m, v, lr_t, b1, b2, eps):
    p, g, m, v = p.ravel(), g.ravel(), m.ravel(), v.ravel()
    c1, c2 = np.float32(1) - b1, np.float32(1) - b2
    for i in range(p.size):
        m[i] = b1 * m[i] + c1 * g[i]
        v[i] = b2 * v[i] + c2 * g[i] * g[i]
        p[i] -= lr_t * m[i] / (np.sqrt(v[i]) + eps)


if available():
    _matmul = numba.njit(inline="always", error_model="numpy")(_matmul)
    _mlp_grads, _sgd, _adam = njit(_mlp_grads), njit(_sgd), njit(_adam)


class NjitMLP:
    """The MLP 784-128-10 step of workloads.NumpyMLP (same init, same update) as @njit loops into
    buffers allocated once."""

    def __init__(self, optimizer, sgd_lr=0.1):
        self.params = mlp_params()
        self.grads = [np.zeros_like(p) for p in self.params]
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.optimizer, self.sgd_lr, self.t = optimizer, np.float32(sgd_lr), 0
        self.buffers = {}

    def step(self, x, y):
        batch, hidden, classes = x.shape[0], self.params[0].shape[1], self.params[2].shape[1]
        if batch not in self.buffers:
            self.buffers[batch] = [np.empty((batch, n), np.float32) for n in (hidden, classes, hidden)]
        loss = _mlp_grads(x, y, *self.params, *self.buffers[batch], *self.grads)
        if self.optimizer == "sgd":
            for p, g in zip(self.params, self.grads):
                _sgd(p, g, self.sgd_lr)
            return loss
        self.t += 1
        lr_t = np.float32(LR * np.sqrt(1 - BETA2 ** self.t) / (1 - BETA1 ** self.t))
        for p, g, m, v in zip(self.params, self.grads, self.m, self.v):
            _adam(p, g, m, v, lr_t, np.float32(BETA1), np.float32(BETA2), np.float32(EPS))
        return loss


# ---------------------------------------------------------------- y = tanh(x*a+b)*c + x*x
# XLA's float32 tanh (Eigen's generic_fast_tanh_float): clamp to +-7.905, then p(z)/q(z)
_TANH_P = tuple(np.float32(v) for v in (-2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11,
                                   5.12229709037114e-08, 1.48572235717979e-05, 6.37261928875436e-04,
                                   4.89352455891786e-03))
_TANH_Q = tuple(np.float32(v) for v in (1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03,
                                   4.89352518554385e-03))
_TANH_CLAMP = np.float32(7.90531110763549805)


def _tanh32(z):
    a13, a11, a9, a7, a5, a3, a1 = _TANH_P
    b6, b4, b2, b0 = _TANH_Q
    z = min(max(z, -_TANH_CLAMP), _TANH_CLAMP)
    z2 = z * z
    p = ((((((a13 * z2 + a11) * z2 + a9) * z2 + a7) * z2 + a5) * z2 + a3) * z2 + a1) * z
    q = ((b6 * z2 + b4) * z2 + b2) * z2 + b0
    return p / q


def _chain(x, a, b, c):
    """A new array each call, like NumPy. At 16M the page faults of the fresh 64 MB dominate both;
    tracejit recycles its previous output buffer when the caller has dropped it, and does not pay them."""
    out = np.empty_like(x)
    for i in prange(x.size):
        v = x[i]
        out[i] = _tanh32(v * a + b) * c + v * v
    return out


if numba is not None:
    _tanh32 = numba.njit(inline="always", error_model="numpy")(_tanh32)
    chain = numba.njit(parallel=True, error_model="numpy")(_chain)
