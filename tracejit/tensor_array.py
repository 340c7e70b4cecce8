"""tf.TensorArray. As in TF there are two implementations behind one class:

- eagerly, a Python list of tensors (TF's _EagerTensorArray): write/unstack/scatter change the
  array and return it; reads clear the element unless clear_after_read=False; elements may have
  different shapes when infer_shape=False. Gradients flow through the tensors themselves (stack
  and unstack are tf.stack / tf.unstack, recorded by tapes).
- in a trace or TF1 graph, a dense buffer tensor [size, *element_shape] (where TF uses a
  TensorList variant): write is a scatter into it (rows appended first when dynamic_size),
  read/gather a gather, stack the buffer itself, unstack makes the value the buffer, concat a
  reshape. Every operation returns a new TensorArray (use the result, as TF requires). The buffer
  is an ordinary tensor, so a TensorArray is a loop variable of while_loop (its single component)
  and is differentiable through the ops above. A static size and element shape keep everything
  static (native code); a symbolic size or dynamic_size gives a buffer of unknown length.
  Elements of different shapes (infer_shape=False) and split into unequal lengths need the eager
  implementation (NotImplementedError here).

The element shape may be unknown until the first write; a TensorArray entering a while_loop
before any write learns it from a trial trace of the loop body (see control_flow.while_loop)."""
import numpy as np

from . import dtypes as dt
from .context import current_context
from .errors import InvalidArgumentError
from .ops import array as A
from .ops import elementwise as E
from .ops.core import convert_to_tensor
from .ops.reduction import reduce_max
from .ops.shape import expand_dims, reshape, shape as _shape
from .tensor import Tensor, TensorShape


class TensorArray:
    """tf.TensorArray(dtype, size=None, dynamic_size=None, clear_after_read=None, tensor_array_name=None,
    handle=None, flow=None, infer_shape=True, element_shape=None, colocate_with_first_write_call=True,
    name=None). Delegates to its implementation, chosen by the context it is created in."""

    def __init__(self, dtype, size=None, dynamic_size=None, clear_after_read=None, tensor_array_name=None,
                 handle=None, flow=None, infer_shape=True, element_shape=None, colocate_with_first_write_call=True,
                 name=None):
        if handle is not None or flow is not None:
            raise NotImplementedError("TensorArray handle= and flow= are not supported (tracejit TensorArrays have "
                                      "no separate handle): pass the TensorArray itself")
        implementation = _EagerTensorArray if current_context().executing_eagerly else _GraphTensorArray
        self._implementation = implementation(dt.as_dtype(dtype), size, bool(dynamic_size), clear_after_read,
                                              infer_shape, TensorShape(element_shape))

    @classmethod
    def _wrapping(cls, implementation):
        array = cls.__new__(cls)
        array._implementation = implementation
        return array

    def _result(self, implementation):
        """An operation's result: this array when it changed in place (eager), else a new one (graph)."""
        return self if implementation is self._implementation else TensorArray._wrapping(implementation)

    dtype = property(lambda self: self._implementation.dtype)
    element_shape = property(lambda self: self._implementation.element_shape)
    dynamic_size = property(lambda self: self._implementation.dynamic_size)

    def read(self, index, name=None):
        return self._implementation.read(index)

    def write(self, index, value, name=None):
        return self._result(self._implementation.write(index, value))

    def stack(self, name=None):
        return self._implementation.stack()

    def gather(self, indices, name=None):
        return self._implementation.gather(indices)

    def concat(self, name=None):
        return self._implementation.concat()

    def unstack(self, value, name=None):
        return self._result(self._implementation.unstack(value))

    def scatter(self, indices, value, name=None):
        return self._result(self._implementation.scatter(indices, value))

    def split(self, value, lengths, name=None):
        return self._result(self._implementation.split(value, lengths))

    def size(self, name=None):
        return self._implementation.size()

    def close(self, name=None):
        return self._implementation.close()

    def identity(self):
        return self

    def mark_used(self):
        pass

    # ---- as a loop variable or branch result: its component tensors ----------------------------
    def _to_components(self):
        return self._implementation.components()

    def _from_components(self, tensors):
        return self._result(self._implementation.from_components(tensors))

    def _component_invariants(self, shape):
        return self._implementation.component_invariants(shape)

    @property
    def _needs_element_shape(self):
        return getattr(self._implementation, "needs_element_shape", False)

    def _with_element_shape_of(self, written):
        written = getattr(written, "_implementation", None)
        return self._result(self._implementation.with_element_shape_of(written))

    def __repr__(self):
        return f"<tf.TensorArray dtype={self.dtype.name} element_shape={self.element_shape}>"


def _check_dtype(value, dtype):
    if value.dtype != dtype:
        raise InvalidArgumentError(f"TensorArray dtype is {dtype.name} but Op is trying to write dtype "
                                   f"{value.dtype.name}")


def _int(index, what):
    """A Python int from an index known now, else None."""
    if isinstance(index, Tensor):
        return None if index.is_symbolic else int(index.numpy())
    return int(index)


class _TensorArrayBase:
    @property
    def dtype(self):
        return self._dtype

    @property
    def element_shape(self):
        return self._element_shape

    @property
    def dynamic_size(self):
        return self._dynamic_size

    def _merge_element_shape(self, shape):
        shape = TensorShape(shape)
        if not shape.is_compatible_with(self._element_shape):
            raise ValueError(f"Inconsistent shapes: saw {shape} but expected {self._element_shape}")
        if self._infer_shape:
            self._element_shape = _merged(self._element_shape, shape)


def _merged(a, b):
    if a.rank is None:
        return TensorShape(b)
    if b.rank is None:
        return TensorShape(a)
    return TensorShape([x if x is not None else y for x, y in zip(a, b)])


# ---- eager ------------------------------------------------------------------------------------------
class _EagerTensorArray(_TensorArrayBase):
    def __init__(self, dtype, size, dynamic_size, clear_after_read, infer_shape, element_shape):
        if size is None:
            raise ValueError("Size must be declared for TensorArrays when eager execution is enabled.")
        self._dtype, self._dynamic_size, self._infer_shape = dtype, dynamic_size, infer_shape
        self._element_shape = element_shape
        self._clear_after_read = True if clear_after_read is None else clear_after_read
        self._previously_read = set()
        self._tensors = [None] * _int(size, "size")

    def read(self, index, name=None):
        index = _int(index, "index")
        if index < 0:
            raise InvalidArgumentError(f"Reading from negative indices (index {index}) is not allowed.")
        if index >= len(self._tensors):
            raise InvalidArgumentError(f"Tried to read from index {index} but array size is: {len(self._tensors)}")
        tensor = self._tensors[index]
        if tensor is None:
            if index in self._previously_read:
                raise InvalidArgumentError(f"Could not read index {index} twice because it was cleared after a "
                                           "previous read (perhaps try setting clear_after_read = false?)")
            tensor = self._zeros(index)
        if self._clear_after_read:
            self._tensors[index] = None
            self._previously_read.add(index)
        return tensor

    def write(self, index, value, name=None):
        self._write(_int(index, "index"), value)
        return self

    def _write(self, index, value):
        if index < 0:
            raise InvalidArgumentError(f"Writing to negative indices (index {index}) is not allowed.")
        if index >= len(self._tensors):
            if not self._dynamic_size:
                raise InvalidArgumentError(f"Tried to write to index {index} but array is not resizeable and size "
                                           f"is: {len(self._tensors)}")
            self._tensors.extend([None] * (index + 1 - len(self._tensors)))
        value = value._as_tensor() if hasattr(value, "_as_tensor") and not isinstance(value, Tensor) else \
            convert_to_tensor(value, dtype_hint=self._dtype)
        _check_dtype(value, self._dtype)
        if self._infer_shape:
            self._merge_element_shape(value.shape)
        self._tensors[index] = value

    def _zeros(self, index):
        if not self._element_shape.is_fully_defined():
            raise InvalidArgumentError(f"TensorArray element {index} was never written and the element shape "
                                       f"{self._element_shape} is not fully defined")
        value = self._tensors[index] = A.zeros(tuple(self._element_shape), self._dtype)
        return value

    def stack(self, name=None):
        if not self._tensors:
            if self._element_shape.is_fully_defined():
                return A.zeros((0,) + tuple(self._element_shape), self._dtype)
            raise InvalidArgumentError("Tried to stack elements of an empty list with non-fully-defined element_shape")
        return A.stack([t if t is not None else self._zeros(i) for i, t in enumerate(self._tensors)])

    def gather(self, indices, name=None):
        indices = convert_to_tensor(indices)
        return A.stack([self._tensors[i] if self._tensors[i] is not None else self._zeros(i)
                        for i in np.asarray(indices.numpy()).reshape(-1)])

    def concat(self, name=None):
        tensors = [t if t is not None else self._zeros(i) for i, t in enumerate(self._tensors)]
        for i, t in enumerate(tensors):
            if t.ndim == 0:
                raise InvalidArgumentError(f"Concat saw a scalar shape at index {i} but requires at least vectors.")
        return A.concat(tensors, 0)

    def unstack(self, value, name=None):
        value = convert_to_tensor(value, dtype_hint=self._dtype)
        _check_dtype(value, self._dtype)
        tensors = A.unstack(value)
        if len(tensors) > len(self._tensors) and not self._dynamic_size:
            raise ValueError(f"Cannot unstack {len(tensors)} tensors into a TensorArray of static size "
                             f"{len(self._tensors)}")
        self._merge_element_shape(value.shape[1:])
        self._tensors = list(tensors)
        return self

    def scatter(self, indices, value, name=None):
        value = convert_to_tensor(value, dtype_hint=self._dtype)
        for index, element in zip(np.asarray(convert_to_tensor(indices).numpy()).reshape(-1), A.unstack(value)):
            self._write(int(index), element)
        return self

    def split(self, value, lengths, name=None):
        value = convert_to_tensor(value, dtype_hint=self._dtype)
        lengths = [int(n) for n in np.asarray(convert_to_tensor(lengths).numpy()).reshape(-1)]
        if value.ndim == 0:
            raise InvalidArgumentError(f"Expected value to be at least a vector, but received shape: "
                                       f"{list(value.shape)}")
        if sum(lengths) != value.shape[0]:
            raise InvalidArgumentError(f"Expected sum of lengths to be equal to values.shape[0], but sum of lengths is "
                                       f"{sum(lengths)} and value's shape is: {list(value.shape)}")
        if not self._dynamic_size and len(lengths) != len(self._tensors):
            raise InvalidArgumentError(f"TensorArray's size is not equal to the size of lengths ({len(self._tensors)} "
                                       f"vs. {len(lengths)}), and the TensorArray is not marked as dynamically "
                                       "resizeable")
        starts = np.cumsum([0] + lengths)
        self._tensors = [value[int(a):int(b)] for a, b in zip(starts[:-1], starts[1:])]
        return self

    def size(self, name=None):
        return convert_to_tensor(np.int32(len(self._tensors)))

    def close(self, name=None):
        del self._tensors[:]

    # a loop variable of an eager (Python) while_loop: itself
    def components(self):
        return []

    def from_components(self, tensors):
        return self

    def component_invariants(self, shape):
        return []


# ---- graph: a dense buffer ---------------------------------------------------------------------------
class _GraphTensorArray(_TensorArrayBase):
    def __init__(self, dtype, size, dynamic_size, clear_after_read, infer_shape, element_shape, buffer=None):
        if size is None and buffer is None:
            raise ValueError("Argument `size` must be provided if argument `flow` is not provided.")
        self._dtype, self._dynamic_size, self._infer_shape = dtype, dynamic_size, infer_shape
        self._element_shape = element_shape
        self._size = size if buffer is None else None       # until the buffer exists (the element shape is known)
        self._buffer = buffer
        if buffer is None and element_shape.is_fully_defined():
            self._buffer = self._zeros_buffer(tuple(element_shape))

    def _new(self, buffer):
        return _GraphTensorArray(self._dtype, None, self._dynamic_size, None, self._infer_shape,
                                 self._element_shape, buffer)

    def _zeros_buffer(self, element_shape):
        size = _int(self._size, "size")
        if size is not None:
            return A.zeros((size,) + element_shape, self._dtype)
        return A._grow_rows(A.zeros((0,) + element_shape, self._dtype), convert_to_tensor(self._size, dtype=dt.int32))

    def _buffer_for(self, element_shape):
        """The buffer to write elements of this shape into: zeros when nothing exists yet (this array is
        left as it is: an operation returns a new array)."""
        return self._buffer if self._buffer is not None else self._zeros_buffer(tuple(element_shape))

    def _require_buffer(self, what):
        if self._buffer is None:
            raise InvalidArgumentError(f"TensorArray.{what}: the element shape is not known yet (nothing was written "
                                       "and no fully defined element_shape was given)")
        return self._buffer

    def read(self, index, name=None):
        return A.gather(self._require_buffer("read"), convert_to_tensor(index, dtype=dt.int32))

    def write(self, index, value, name=None):
        value = _converted(value, self._dtype)
        self._check_element(value.shape)
        buffer = self._buffer_for(value.shape)
        index = convert_to_tensor(index, dtype=dt.int32)
        if self._dynamic_size:
            buffer = A._grow_rows(buffer, E.add(index, np.int32(1)))
        return self._new(A.tensor_scatter_nd_update(buffer, reshape(index, (1, 1)), expand_dims(value, 0)))

    def _check_element(self, shape):
        held = TensorShape(self._buffer.shape[1:]) if self._buffer is not None else None
        if not self._infer_shape and held is not None and not held.is_compatible_with(shape):
            raise NotImplementedError("TensorArray elements of different shapes (infer_shape=False) are only "
                                      "supported eagerly: a traced TensorArray is one dense tensor")
        self._merge_element_shape(shape)

    def stack(self, name=None):
        return self._require_buffer("stack")

    def gather(self, indices, name=None):
        return A.gather(self._require_buffer("gather"), convert_to_tensor(indices, dtype=dt.int32))

    def concat(self, name=None):
        buffer = self._require_buffer("concat")
        if buffer.ndim < 2:
            raise InvalidArgumentError("Concat saw a scalar shape but requires at least vectors.")
        return reshape(buffer, (-1,) + tuple(buffer.shape[2:]))

    def unstack(self, value, name=None):
        value = _converted(value, self._dtype)
        if value.ndim == 0:
            raise InvalidArgumentError("TensorArray.unstack needs a value of rank >= 1")
        size = _int(self._size, "size") if self._size is not None else self._buffer.shape[0]
        if not self._dynamic_size and size is not None and value.shape[0] is not None and value.shape[0] > size:
            raise ValueError(f"Cannot unstack {value.shape[0]} tensors into a TensorArray of static size {size}")
        self._merge_element_shape(value.shape[1:])
        return self._new(value)

    def scatter(self, indices, value, name=None):
        value = _converted(value, self._dtype)
        self._check_element(value.shape[1:])
        indices = convert_to_tensor(indices, dtype=dt.int32)
        buffer = self._buffer_for(value.shape[1:])
        if self._dynamic_size:
            buffer = A._grow_rows(buffer, E.add(reduce_max(indices), np.int32(1)))
        return self._new(A.tensor_scatter_nd_update(buffer, expand_dims(indices, -1), value))

    def split(self, value, lengths, name=None):
        value = _converted(value, self._dtype)
        lengths = convert_to_tensor(lengths)
        if lengths.is_symbolic or len(set(np.asarray(lengths.numpy()).reshape(-1).tolist())) > 1:
            raise NotImplementedError("TensorArray.split into lengths that differ (or are not known while tracing) "
                                      "is only supported eagerly: a traced TensorArray is one dense tensor")
        count = int(np.asarray(lengths.numpy()).size)
        return self.unstack(reshape(value, (count, -1) + tuple(value.shape[1:])))

    def size(self, name=None):
        if not self._dynamic_size and self._size is not None:
            return convert_to_tensor(self._size, dtype=dt.int32)
        buffer = self._require_buffer("size")
        if buffer.shape[0] is not None:
            return convert_to_tensor(np.int32(buffer.shape[0]))
        return A.strided_slice(_shape(buffer), (0,))

    def close(self, name=None):
        return None

    # ---- a loop variable of while_loop: the buffer --------------------------------------------------
    def components(self):
        return [self._require_buffer("entering a while_loop")]

    def from_components(self, tensors):
        return self._new(tensors[0])

    def component_invariants(self, shape):
        """The buffer's shape invariant from an element-shape invariant (a dynamic array's length varies)."""
        buffer = self._require_buffer("entering a while_loop")
        rows = None if self._dynamic_size else buffer.shape[0]
        element = tuple(buffer.shape[1:]) if shape is None else tuple(TensorShape(shape))
        return [(rows,) + element]

    @property
    def needs_element_shape(self):
        return self._buffer is None

    def with_element_shape_of(self, written):
        if written is None or getattr(written, "_buffer", None) is None:
            raise InvalidArgumentError("a TensorArray enters a while_loop before its element shape is known, and the "
                                       "loop body does not write it: give element_shape=")
        self._merge_element_shape(written._element_shape)
        return self._new(self._zeros_buffer(tuple(written._buffer.shape[1:])))


def _converted(value, dtype):
    value = value._as_tensor() if hasattr(value, "_as_tensor") and not isinstance(value, Tensor) else \
        convert_to_tensor(value, dtype_hint=dtype)
    _check_dtype(value, dtype)
    return value
