"""The "numba" backend: fused groups become generated loop kernels compiled by Numba, matmul runs
on BLAS, everything else on the ops' NumPy implementations, all called from a generated driver.
Importing this package does not import Numba; building an executable does."""
from .lowering import can_lower  # noqa: F401


def executable(graph, debug=None):
    from .compiled import CompiledExecutable
    return CompiledExecutable(graph, debug)
