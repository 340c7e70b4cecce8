"""Dataset: a re-iterable pipeline of elements (nested tuples/dicts of arrays) that yields
Tensors. from_tensor_slices / shuffle / batch / map / repeat / take / prefetch, as in tf.data."""
import numpy as np

from .. import dtypes as dt
from ..ops.core import convert_to_tensor
from ..ops.random import get_seed
from ..ops.rules import integer
from ..tensor import Tensor


def _map_structure(fn, element):
    """Tuples and dicts are structure; everything else (lists included, as in TF) is a tensor."""
    if isinstance(element, dict):
        return {k: _map_structure(fn, v) for k, v in element.items()}
    if isinstance(element, tuple):
        return tuple(_map_structure(fn, v) for v in element)
    return fn(element)


def _leaves(element):
    if isinstance(element, dict):
        return [leaf for v in element.values() for leaf in _leaves(v)]
    if isinstance(element, tuple):
        return [leaf for v in element for leaf in _leaves(v)]
    return [element]


def _as_array(value):
    """Python values convert as TF converts them (int32, float32, strings as bytes); arrays keep their dtype."""
    if isinstance(value, (np.ndarray, np.generic)) and value.dtype.kind not in "USO":
        return np.asarray(value)
    return convert_to_tensor(value)._value


def _owned_array(value):
    """A private copy in native byte order: as in TF, a dataset built from arrays does not change
    when the caller later mutates them."""
    return dt.native_byte_order(np.array(_as_array(value)))


def _to_tensors(element):
    return _map_structure(lambda a: a if isinstance(a, Tensor) else Tensor(dt.native_byte_order(np.asarray(a))),
                          element)


def _read_only(element):
    """as_numpy_iterator's elements, read-only as in TF: they may share the dataset's memory."""
    def freeze(a):
        if isinstance(a, np.ndarray):
            a = a.view()
            a.flags.writeable = False
        return a
    return _map_structure(freeze, element)


def _count(what, count):
    """An element count: an int or an integer scalar tensor (floats are refused, not truncated)."""
    return integer(f"Dataset.{what}", "count", count.numpy() if isinstance(count, Tensor) else count)


class Dataset:
    def __init__(self, make_iterator, length=None):
        self._make_iterator = make_iterator     # () -> iterator of elements (arrays / nested structures)
        self._length = length

    # ---- sources ----
    @staticmethod
    def from_tensor_slices(tensors):
        data = _map_structure(_owned_array, tensors)
        sizes = {len(leaf) for leaf in _leaves(data)}
        if len(sizes) != 1:
            raise ValueError(f"from_tensor_slices: all components need the same first dimension, got {sorted(sizes)}")
        size = sizes.pop()

        def iterate():
            for i in range(size):
                yield _map_structure(lambda a: a[i], data)
        return Dataset(iterate, size)

    @staticmethod
    def from_tensors(tensors):
        data = _map_structure(_owned_array, tensors)
        return Dataset(lambda: iter([data]), 1)

    @staticmethod
    def range(*args):
        values = np.arange(*args, dtype=np.int64)
        return Dataset(lambda: iter(values), len(values))

    # ---- transformations ----
    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=True):
        """Seeded like a random op (TF's rules): with tracejit.random.set_seed, or a `seed`, the order
        of every epoch repeats from run to run; each epoch differs unless reshuffle_each_iteration=False."""
        if buffer_size < 1:
            raise ValueError(f"shuffle: buffer_size must be positive, got {buffer_size}")
        seeds = get_seed(seed)
        epoch = [0]

        def iterate():
            rng = np.random.default_rng(None if seeds is None else
                                        [*seeds, epoch[0] if reshuffle_each_iteration else 0])
            epoch[0] += 1
            buffer = []
            for element in self._make_iterator():
                if len(buffer) < buffer_size:
                    buffer.append(element)
                    continue
                index = rng.integers(len(buffer))
                yield buffer[index]
                buffer[index] = element
            rng.shuffle(buffer)
            yield from buffer
        return Dataset(iterate, self._length)

    def batch(self, batch_size, drop_remainder=False):
        if batch_size < 1:
            raise ValueError(f"batch: batch_size must be positive, got {batch_size}")

        def stack(elements):
            first = elements[0]
            if isinstance(first, dict):
                return {k: stack([e[k] for e in elements]) for k in first}
            if isinstance(first, tuple):
                return tuple(stack([e[i] for e in elements]) for i in range(len(first)))
            return np.stack([_as_array(e) for e in elements])

        def iterate():
            pending = []
            for element in self._make_iterator():
                pending.append(element)
                if len(pending) == batch_size:
                    yield stack(pending)
                    pending = []
            if pending and not drop_remainder:
                yield stack(pending)
        length = None if self._length is None else (
            self._length // batch_size if drop_remainder else -(-self._length // batch_size))
        return Dataset(iterate, length)

    def map(self, map_func, num_parallel_calls=None):
        def iterate():
            for element in self._make_iterator():
                args = _to_tensors(element)
                result = map_func(*args) if isinstance(args, tuple) else map_func(args)
                yield _map_structure(_as_array, result)
        return Dataset(iterate, self._length)

    def repeat(self, count=None):
        def iterate():
            n = 0
            while count is None or count < 0 or n < count:
                yield from self._make_iterator()
                n += 1
        length = None if count is None or count < 0 or self._length is None else self._length * count
        return Dataset(iterate, length)

    def take(self, count):
        """The first `count` elements; count -1 (any negative, as TF's kernel) takes them all."""
        count = _count("take", count)
        if count < 0:
            return Dataset(self._make_iterator, self._length)

        def iterate():
            for i, element in enumerate(self._make_iterator()):
                if i >= count:
                    return
                yield element
        length = count if self._length is None else min(count, self._length)
        return Dataset(iterate, length)

    def skip(self, count):
        """All but the first `count` elements; count -1 (any negative, as TF's kernel) skips them all."""
        count = _count("skip", count)
        if count < 0:
            return Dataset(lambda: iter(()), 0)

        def iterate():
            for i, element in enumerate(self._make_iterator()):
                if i >= count:
                    yield element
        return Dataset(iterate, None if self._length is None else max(self._length - count, 0))

    def prefetch(self, buffer_size=None):
        return self           # elements are produced on demand in this process: nothing to prefetch

    def cache(self, filename=""):
        materialized = []

        def iterate():
            if not materialized:
                materialized.extend(self._make_iterator())
            return iter(materialized)
        return Dataset(iterate, self._length)

    # ---- consumption ----
    def __iter__(self):
        for element in self._make_iterator():
            yield _to_tensors(element)

    def as_numpy_iterator(self):
        return (_read_only(element) for element in self._make_iterator())

    def cardinality(self):
        return -1 if self._length is None else self._length

    def __len__(self):
        if self._length is None:
            raise TypeError("The dataset length is unknown (e.g. after repeat())")
        return self._length
