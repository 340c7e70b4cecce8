"""Numba kernels (fused loops, math, matmul, conv, pooling). Independent of tracejit: kernels
receive arrays and loop descriptions. Filled by the Numba backend (issue #4)."""
