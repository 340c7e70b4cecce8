"""tf.sparse: SparseTensor (indices [n, rank] int64, values [n], dense_shape [rank] int64) and the
operations on it, written with gather/scatter ops, so they run eagerly, trace, and differentiate
with respect to the values and the dense operand."""
import numpy as np

from . import dtypes as dt
from .errors import InvalidArgumentError
from .ops.array import (fill, gather, gather_nd, strided_slice, tensor_scatter_nd_add, tensor_scatter_nd_update,
                        where_indices, zeros)
from .ops.core import convert_to_tensor
from .ops.elementwise import conj, not_equal
from .ops.shape import expand_dims, shape as dynamic_shape, transpose
from .tensor import Tensor, TensorShape


class SparseTensor:
    def __init__(self, indices, values, dense_shape):
        self._indices = convert_to_tensor(indices, dtype=dt.int64) if not isinstance(indices, Tensor) else indices
        self._values = convert_to_tensor(values)
        self._dense_shape = convert_to_tensor(dense_shape, dtype=dt.int64) if not isinstance(
            dense_shape, Tensor) else dense_shape
        if self._indices.dtype != dt.int64 or self._dense_shape.dtype != dt.int64:
            raise InvalidArgumentError("SparseTensor: indices and dense_shape must be int64")
        if self._indices.ndim != 2 or self._values.ndim != 1 or self._dense_shape.ndim != 1:
            raise ValueError(f"SparseTensor: indices must be a matrix, values and dense_shape vectors; got shapes "
                             f"{tuple(self._indices.shape)}, {tuple(self._values.shape)}, "
                             f"{tuple(self._dense_shape.shape)}")

    indices = property(lambda self: self._indices)
    values = property(lambda self: self._values)
    dense_shape = property(lambda self: self._dense_shape)
    dtype = property(lambda self: self._values.dtype)

    @property
    def shape(self):
        if self._dense_shape.is_symbolic:
            return TensorShape([None] * (self._dense_shape.shape[0] or 0))
        return TensorShape(self._dense_shape.numpy().tolist())

    def _static_shape(self, what):
        shape = self.shape
        if not shape.is_fully_defined():
            raise NotImplementedError(f"{what} needs the SparseTensor's dense_shape known while tracing")
        return tuple(shape)

    def with_values(self, new_values):
        return SparseTensor(self._indices, new_values, self._dense_shape)

    def __repr__(self):
        return f"SparseTensor(indices={self._indices}, values={self._values}, dense_shape={self._dense_shape})"


def _check_order(sp_input):
    """TF's validate_indices: indices in range, in row-major order, without repeats."""
    if sp_input.indices.is_symbolic:
        return
    indices, shape = sp_input.indices.numpy(), sp_input.shape
    for i, index in enumerate(indices):
        if np.any(index < 0) or np.any(index >= np.asarray(shape)):
            raise InvalidArgumentError(f"indices[{i}] = {index.tolist()} is out of bounds: need 0 <= index < "
                                       f"{list(shape)}")
        if i and tuple(index) <= tuple(indices[i - 1]):
            what = "repeated" if tuple(index) == tuple(indices[i - 1]) else "out of order"
            raise InvalidArgumentError(f"indices[{i}] = {index.tolist()} is {what}. Many sparse ops require sorted "
                                       "indices. Use `tf.sparse.reorder` to create a correctly ordered copy.")


def to_dense(sp_input, default_value=None, validate_indices=True, name=None):
    shape = sp_input._static_shape("sparse.to_dense")
    if validate_indices:
        _check_order(sp_input)
    default = convert_to_tensor(0 if default_value is None else default_value, dtype_hint=sp_input.dtype)
    return tensor_scatter_nd_update(fill(shape, default), sp_input.indices, sp_input.values)


def from_dense(tensor, name=None):
    """The non-zero entries of a dense tensor, in row-major order."""
    x = convert_to_tensor(tensor)
    indices = where_indices(not_equal(x, zeros((), x.dtype)))
    return SparseTensor(indices, gather_nd(x, indices), dynamic_shape(x, out_type=dt.int64))


def reorder(sp_input, name=None):
    """The same SparseTensor with its entries in row-major order (eager indices only)."""
    if sp_input.indices.is_symbolic:
        raise NotImplementedError("sparse.reorder needs indices known while tracing: reorder before the @function")
    order = np.lexsort(sp_input.indices.numpy().T[::-1]).astype(np.int64)
    return SparseTensor(gather(sp_input.indices, Tensor(order)), gather(sp_input.values, Tensor(order)),
                        sp_input.dense_shape)


def sparse_dense_matmul(sp_a, b, adjoint_a=False, adjoint_b=False, name=None):
    """sp_a (a sparse matrix) @ b: each non-zero a[i, k] adds a[i, k] * b[k, :] to row i."""
    rows_a, cols_a = sp_a._static_shape("sparse.sparse_dense_matmul")
    b = convert_to_tensor(b, dtype_hint=sp_a.dtype)
    if adjoint_b:
        b = conj(transpose(b))
    values = sp_a.values
    rows, cols = strided_slice(sp_a.indices, (slice(None), 0)), strided_slice(sp_a.indices, (slice(None), 1))
    if adjoint_a:
        rows, cols, rows_a, cols_a, values = cols, rows, cols_a, rows_a, conj(values)
    if b.ndim != 2 or b.shape[0] != cols_a:
        raise InvalidArgumentError(f"sparse_dense_matmul: cannot multiply a [{rows_a}, {cols_a}] sparse matrix by "
                                   f"shape {tuple(b.shape)}")
    contributions = gather(b, cols) * expand_dims(values, 1)
    return tensor_scatter_nd_add(zeros((rows_a, b.shape[1]), b.dtype), expand_dims(rows, 1), contributions)
