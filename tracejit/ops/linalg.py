"""matmul with batch broadcasting and transposes (`@`)."""
import numpy as np

from .. import dtypes as dt
from ..errors import InvalidArgumentError
from .broadcast import sum_to
from ..primitive import MATMUL
from .core import convert_inputs, op
from .rules import broadcast_shapes


@op("matmul", MATMUL, dtypes=dt.ARITHMETIC, sample="matmul")
def _matmul(a, b, transpose_a=False, transpose_b=False):
    if a.ndim < 2 or b.ndim < 2:
        raise InvalidArgumentError(f"matmul: inputs must be at least 2-D, got shapes {tuple(a.shape)} and "
                                   f"{tuple(b.shape)}")
    n, k = (a.shape[-1], a.shape[-2]) if transpose_a else (a.shape[-2], a.shape[-1])
    k2, m = (b.shape[-1], b.shape[-2]) if transpose_b else (b.shape[-2], b.shape[-1])
    if k is not None and k2 is not None and k != k2:
        raise InvalidArgumentError(f"Matrix size-incompatible: In[0]: {list(a.shape)}, In[1]: {list(b.shape)}"
                                   f"{' (transposed)' if transpose_a or transpose_b else ''}")
    batch = broadcast_shapes("matmul", a.shape[:-2], b.shape[:-2])
    return batch + (n, m), a.dtype


def _matmul_impl(a, b, transpose_a=False, transpose_b=False):
    return np.matmul(np.swapaxes(a, -1, -2) if transpose_a else a, np.swapaxes(b, -1, -2) if transpose_b else b)


def _matmul_vjp(g, a, b, out, transpose_a=False, transpose_b=False):
    mm = _matmul
    if not transpose_a and not transpose_b:
        ga, gb = mm(g, b, transpose_b=True), mm(a, g, transpose_a=True)
    elif not transpose_a:
        ga, gb = mm(g, b), mm(g, a, transpose_a=True)
    elif not transpose_b:
        ga, gb = mm(b, g, transpose_b=True), mm(a, g)
    else:
        ga, gb = mm(b, g, transpose_a=True, transpose_b=True), mm(g, a, transpose_a=True, transpose_b=True)
    return sum_to(ga, a), sum_to(gb, b)


_matmul.impl = _matmul_impl
_matmul.vjp = _matmul_vjp


def matmul(a, b, transpose_a=False, transpose_b=False, adjoint_a=False, adjoint_b=False, name=None):
    a, b = convert_inputs(_matmul, (a, b))
    return _matmul(a, b, transpose_a=bool(transpose_a or adjoint_a), transpose_b=bool(transpose_b or adjoint_b))

