"""tracejit.linalg."""
from .ops import eye, einsum, matmul, norm, transpose  # noqa: F401
from .ops.linalg import det, inv, solve  # noqa: F401


def matrix_transpose(a, name=None):
    return transpose(a, perm=list(range(a.ndim - 2)) + [a.ndim - 1, a.ndim - 2])

