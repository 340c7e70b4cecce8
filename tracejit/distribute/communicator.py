"""The transport under tf.distribute: a Communicator runs collectives on NumPy arrays.

Two implementations share this interface: LocalCommunicator (one worker, no MPI: every
collective is the identity) and MPICommunicator (mpi.py: the processes of an `mpiexec` job).
Reductions write their result into the array they are given, so a strategy can reduce a
gradient buffer or a Variable's storage without copying it.

Every worker must call the same collectives in the same order with arrays of the same shape
and dtype (as with any MPI program); a worker that does not is caught by the collective
timeout (mpi.py) instead of hanging the job.
"""
import abc

import numpy as np

from ..errors import InvalidArgumentError

REDUCE_OPS = ("sum", "mean", "max", "min")


def describe(array):
    """'float32[784,128]': how messages name an array."""
    return f"{array.dtype.name}[{','.join(map(str, array.shape))}]"


def check_array(array, collective, writable=True):
    """Collectives take NumPy arrays of a numeric dtype, writable when they write results in place."""
    if not isinstance(array, np.ndarray):
        raise InvalidArgumentError(
            f"{collective} takes a NumPy array (its result is written into it), got {type(array).__name__}; "
            f"pass np.asarray(x) for a tensor")
    if array.dtype.kind not in "fiu":
        raise InvalidArgumentError(f"{collective} supports float and integer arrays, got {describe(array)}")
    if writable and not array.flags.writeable:
        raise InvalidArgumentError(f"{collective} writes its result into the array, but {describe(array)} is read-only")


def check_reduce_op(op, array, collective):
    if op not in REDUCE_OPS:
        raise InvalidArgumentError(f"{collective}: unknown op {op!r}, expected one of {', '.join(REDUCE_OPS)}")
    if op == "mean" and array.dtype.kind != "f":
        raise InvalidArgumentError(
            f"{collective}: op='mean' needs a floating-point array, got {describe(array)} "
            f"(an integer mean cannot be stored in place: reduce with op='sum' and divide by the worker count)")


def check_packing(arrays, out, op):
    """allreduce_into's arguments: returns a flat view of `out`."""
    if not arrays:
        raise InvalidArgumentError("allreduce_into needs at least one array")
    for array in arrays:
        check_array(array, "allreduce_into", writable=False)
    check_array(out, "allreduce_into")
    check_reduce_op(op, out, "allreduce_into")
    if not out.flags.c_contiguous:
        raise InvalidArgumentError(f"allreduce_into writes into a C-contiguous array, got a strided {describe(out)}")
    mixed = sorted({a.dtype.name for a in arrays if a.dtype != out.dtype})
    if mixed:
        raise InvalidArgumentError(f"allreduce_into: every array must have the output's dtype {out.dtype.name}, "
                                   f"got {', '.join(mixed)}")
    total = sum(a.size for a in arrays)
    if total != out.size:
        raise InvalidArgumentError(f"allreduce_into: the arrays hold {total} elements, the output {describe(out)} "
                                   f"{out.size}")
    return out.reshape(-1)


def pack(arrays, flat):
    """Copy the arrays one after the other into the 1-D array `flat`."""
    offset = 0
    for array in arrays:
        flat[offset:offset + array.size].reshape(array.shape)[...] = array
        offset += array.size


class CollectiveHandle(abc.ABC):
    """A collective started without waiting (iallreduce). wait() finishes it and returns the
    reduced array; until then the array must not be read or written."""

    @abc.abstractmethod
    def wait(self):
        """Block until the collective completes (or fails; see MPICommunicator) and return its result."""

    @abc.abstractmethod
    def done(self):
        """True once wait() would return without blocking."""


class CompletedHandle(CollectiveHandle):
    """A collective that had nothing to wait for (one worker)."""

    def __init__(self, result):
        self._result = result

    def wait(self):
        return self._result

    def done(self):
        return True


class Communicator(abc.ABC):
    """The workers of one job and the collectives between them. Worker 0 is the chief."""

    rank = 0
    size = 1

    @property
    def is_chief(self):
        """The worker that writes checkpoints and summaries (rank 0, as in TF's MultiWorkerMirroredStrategy)."""
        return self.rank == 0

    @abc.abstractmethod
    def allreduce(self, array, op="sum"):
        """Reduce `array` elementwise over all workers with op (sum, mean, max, min), in place; returns it."""

    @abc.abstractmethod
    def iallreduce(self, array, op="sum"):
        """Start allreduce(array, op) and return a CollectiveHandle; handle.wait() returns the array."""

    @abc.abstractmethod
    def allreduce_many(self, arrays, op="sum"):
        """allreduce every array of the list in place (packed into few messages); returns the list."""

    @abc.abstractmethod
    def allreduce_into(self, arrays, out, op="sum"):
        """Reduce the arrays (one dtype) over all workers into `out`, a C-contiguous array of that
        dtype holding as many elements as all of them: their reduced concatenation, flattened.
        The arrays are not modified (they need not be writable). Returns out. The all_reduce op
        (tracejit.ops.collective) runs on this: one message per call."""

    @abc.abstractmethod
    def broadcast(self, array, root=0):
        """Overwrite `array` on every worker with root's; returns it."""

    @abc.abstractmethod
    def allgather(self, array):
        """A new array of shape (size, *array.shape): row r holds worker r's array."""

    @abc.abstractmethod
    def barrier(self):
        """Return once every worker has entered barrier()."""

    def __repr__(self):
        return f"<{type(self).__name__} rank={self.rank} size={self.size}>"


class LocalCommunicator(Communicator):
    """A job of one worker: the collectives check their arguments and change nothing."""

    def allreduce(self, array, op="sum"):
        check_array(array, "allreduce")
        check_reduce_op(op, array, "allreduce")
        return array

    def iallreduce(self, array, op="sum"):
        return CompletedHandle(self.allreduce(array, op))

    def allreduce_many(self, arrays, op="sum"):
        for array in arrays:
            self.allreduce(array, op)
        return arrays

    def allreduce_into(self, arrays, out, op="sum"):
        pack(arrays, check_packing(arrays, out, op))
        return out

    def broadcast(self, array, root=0):
        check_array(array, "broadcast")
        if root != 0:
            raise InvalidArgumentError(f"broadcast: root {root} does not exist in a job of 1 worker")
        return array

    def allgather(self, array):
        check_array(array, "allgather", writable=False)
        return array[np.newaxis].copy()

    def barrier(self):
        pass
