"""tracejit.linalg."""
from .ops import eye, matmul, transpose  # noqa: F401
from .ops import reduce_sum as _reduce_sum, square as _square, sqrt as _sqrt


def norm(tensor, ord="euclidean", axis=None, keepdims=False, name=None):
    if ord not in ("euclidean", 2, "fro"):
        raise NotImplementedError(f"linalg.norm: ord={ord!r} is not supported (only the Euclidean norm)")
    return _sqrt(_reduce_sum(_square(tensor), axis=axis, keepdims=keepdims))


def matrix_transpose(a, name=None):
    return transpose(a, perm=list(range(a.ndim - 2)) + [a.ndim - 1, a.ndim - 2])
