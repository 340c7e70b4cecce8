"""Ragged <-> dense conversion, the primitives under RaggedTensor.to_tensor (tracejit/ragged.py).
A ragged dimension is (values [n, ...], row_splits [nrows + 1]): row i is values[splits[i]:splits[i+1]]."""
import numpy as np

from ..errors import InvalidArgumentError
from ..primitive import INDEX
from .core import op


def _positions(row_splits, width):
    """mask [nrows, width] of the dense cells that hold a value, and the value index of each such cell."""
    lengths = np.diff(row_splits)
    cols = np.arange(width)
    mask = cols[None, :] < lengths[:, None]
    return mask, (row_splits[:-1, None] + cols[None, :])[mask]


def _width(row_splits, width):
    return int(np.diff(row_splits).max(initial=0)) if width is None else width


def _check_splits(values, row_splits):
    if not row_splits.dtype.is_integer or row_splits.ndim != 1:
        raise InvalidArgumentError(f"row_splits must be a 1-D integer tensor, got {row_splits.dtype.name}"
                                   f"{list(row_splits.shape)}")
    if values.ndim < 1:
        raise InvalidArgumentError("ragged values must have at least one dimension")


@op("ragged_to_dense", INDEX, same_dtype=(), sample="ragged_to_dense")
def _to_dense(values, row_splits, default, width):
    """Rows padded with `default` to `width` (None: the longest row); longer rows are truncated."""
    _check_splits(values, row_splits)
    nrows = None if row_splits.shape[0] is None else row_splits.shape[0] - 1
    return (nrows, width) + tuple(values.shape[1:]), values.dtype


def _to_dense_impl(values, row_splits, default, width):
    width = _width(row_splits, width)
    out = np.full((len(row_splits) - 1, width) + values.shape[1:], default, values.dtype)
    mask, source = _positions(row_splits, width)
    out[mask] = values[source]
    return out


_to_dense.impl = _to_dense_impl
_to_dense.vjp = lambda g, values, row_splits, out, default, width: (_from_dense(g, row_splits, values), None)


@op("ragged_from_dense", INDEX, same_dtype=(), sample="ragged_from_dense")
def _from_dense(dense, row_splits, like):
    """The values of a ragged tensor shaped like `like`, read from its dense form (zeros where the
    dense form was truncated): the adjoint of ragged_to_dense."""
    _check_splits(like, row_splits)
    return tuple(like.shape), dense.dtype


def _from_dense_impl(dense, row_splits, like):
    out = np.zeros(like.shape, dense.dtype)
    mask, source = _positions(row_splits, dense.shape[1])
    out[source] = dense[mask]
    return out


_from_dense.impl = _from_dense_impl
_from_dense.vjp = lambda g, dense, row_splits, like, out: (
    _to_dense(g, row_splits, default=0, width=dense.shape[1]), None, None)


def ragged_to_dense(values, row_splits, default=0, width=None):
    return _to_dense(values, row_splits, default=default, width=width)
