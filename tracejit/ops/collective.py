"""Collective ops: all_reduce and broadcast between the workers of a job.

A collective is an op like any other: eagerly it runs now, in a trace it becomes a node, and the
compiled step runs that node's `impl` (the backends have no lowering of their own for it). Two
traits matter:
- effect=True: a collective talks to the other workers, so passes never remove, merge, fold or
  reorder it. Every worker traces the same program, so every worker runs the same collectives
  in the same order, which is what MPI needs.
- the `impl` reaches the job's communicator through `communicator()`. The core does not know
  the transport: tracejit.distribute installs it with `install(...)` when it is imported.

all_reduce packs: `all_reduce(x1, x2, ..., reduction=)` returns ONE flat array holding the
reduced concatenation of its inputs (with a single input, an array of that input's shape), so
a training step reduces all its gradients as one node and one contiguous buffer, one message,
and reads each reduced gradient as a view of it (`all_reduce_tensors` does the slicing). The
inputs are copied into the buffer once (the communicator's `allreduce_into`); a backend whose
memory plan made the gradients' producers write into the buffer's regions would save that copy.

Gradients: all_reduce(sum) is linear with every worker's output depending on every worker's
input, so its vjp is all_reduce(sum) of the output gradient (mean: all_reduce(mean)); max and
min have no gradient here. broadcast's vjp sends the sum of every worker's gradient to the root.
"""
import numpy as np

from ..errors import InvalidArgumentError, UnavailableError
from ..primitive import COLLECTIVE
from .broadcast import zeros_like
from .core import convert_to_tensor, op
from .shape import reshape

REDUCTIONS = ("sum", "mean", "max", "min")


# ---- the communicator, installed by tracejit.distribute ----------------------------------------
class _Runtime:
    communicator = None          # () -> the job's Communicator (created on first use)
    replicas_in_sync = None      # () -> replicas of the current tf.distribute strategy


def install(communicator, replicas_in_sync):
    """Called by tracejit.distribute: `communicator()` returns the job's communicator (rank, size,
    allreduce_into, broadcast); `replicas_in_sync()` the replica count of the current strategy."""
    _Runtime.communicator, _Runtime.replicas_in_sync = communicator, replicas_in_sync


def communicator():
    if _Runtime.communicator is None:
        raise UnavailableError("collective ops need a communicator, which tracejit.distribute installs when it is "
                               "imported (import tracejit does that)")
    return _Runtime.communicator()


def replicas_in_sync():
    """Replicas of the current strategy (tf.distribute.get_strategy().num_replicas_in_sync); 1 without one."""
    return 1 if _Runtime.replicas_in_sync is None else _Runtime.replicas_in_sync()


# ---- all_reduce ---------------------------------------------------------------------------------
def _num_elements(shape):
    return int(np.prod(shape, dtype=np.int64))


@op("all_reduce", COLLECTIVE, effect=True, sample="all_reduce")
def all_reduce(*values, reduction="sum"):
    """The elementwise `reduction` over all workers: of the input's shape for one input, else one
    flat array holding the reduced concatenation of the (flattened) inputs."""
    if reduction not in REDUCTIONS:
        raise InvalidArgumentError(f"all_reduce: unknown reduction {reduction!r}, expected one of {REDUCTIONS}")
    if not values:
        raise InvalidArgumentError("all_reduce needs at least one tensor")
    if values[0].dtype.is_bool or values[0].dtype.kind == "s":
        raise InvalidArgumentError(f"all_reduce supports numeric tensors, got {values[0].dtype.name}")
    if len(values) == 1:
        return tuple(values[0].shape), values[0].dtype
    unknown = [tuple(v.shape) for v in values if None in v.shape]
    if unknown:
        raise InvalidArgumentError(f"all_reduce packs several tensors into one buffer, which needs static shapes; "
                                   f"got {unknown}: reduce tensors of unknown shape one at a time")
    return (sum(_num_elements(v.shape) for v in values),), values[0].dtype


def _all_reduce_impl(*arrays, reduction="sum"):
    shape = arrays[0].shape if len(arrays) == 1 else (sum(a.size for a in arrays),)
    out = np.empty(shape, arrays[0].dtype)
    communicator().allreduce_into(arrays, out, reduction)
    return out


def _all_reduce_vjp(g, *values_and_out, reduction="sum"):
    if reduction not in ("sum", "mean"):
        raise NotImplementedError(f"all_reduce with reduction={reduction!r} has no gradient (sum and mean do)")
    values = values_and_out[:-1]
    return tuple(split(all_reduce(g, reduction=reduction), values))


all_reduce.impl = _all_reduce_impl
all_reduce.vjp = _all_reduce_vjp


def split(flat, like):
    """The pieces of all_reduce's output shaped like its inputs `like` (views of one buffer)."""
    if len(like) == 1:
        return [flat]
    pieces, offset = [], 0
    for value in like:
        size = _num_elements(value.shape)
        pieces.append(reshape(flat[offset:offset + size], tuple(value.shape)))
        offset += size
    return pieces


def all_reduce_tensors(tensors, reduction="sum"):
    """Reduce a list of tensors over all workers: one all_reduce node (one buffer) per dtype, in
    order of first appearance; returns the reduced tensors, shaped like the inputs."""
    tensors = [convert_to_tensor(t) for t in tensors]
    groups = {}
    for index, tensor in enumerate(tensors):
        groups.setdefault(tensor.dtype, []).append(index)
    results = [None] * len(tensors)
    for indices in groups.values():
        group = [tensors[i] for i in indices]
        for i, piece in zip(indices, split(all_reduce(*group, reduction=reduction), group)):
            results[i] = piece
    return results


# ---- broadcast ----------------------------------------------------------------------------------
@op("broadcast", COLLECTIVE, effect=True, sample="broadcast")
def broadcast(x, root=0):
    """Every worker gets worker `root`'s value of x."""
    if x.dtype.is_bool or x.dtype.kind == "s":
        raise InvalidArgumentError(f"broadcast supports numeric tensors, got {x.dtype.name}")
    return tuple(x.shape), x.dtype


def _broadcast_impl(x, root=0):
    return communicator().broadcast(np.array(x, copy=True, order="C"), root)


def _broadcast_vjp(g, x, out, root=0):
    total = all_reduce(g, reduction="sum")     # every worker joins, whatever its rank
    return (total if communicator().rank == root else zeros_like(total),)


broadcast.impl = _broadcast_impl
broadcast.vjp = _broadcast_vjp
