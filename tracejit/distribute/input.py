"""Input for data-parallel training: each worker takes its shard of every global batch.

A global batch of n examples is split into contiguous shards, one per worker, whose sizes differ
by at most one (worker r gets examples [start_r, start_r + size_r)); a batch smaller than the
number of workers leaves some shards empty. Every worker runs the same input pipeline and keeps
its shard, so the union of the shards of one step is exactly the global batch that a single
process would have used: the same examples, the same trajectory. (A pipeline that shuffles must
shuffle the same way on every worker: give `shuffle` a seed, or set tf.random.set_seed.)
"""
import numpy as np

from .. import nest
from ..tensor import Tensor


def shard_bounds(global_size, rank, size):
    """(start, stop) of worker `rank`'s shard of a global batch of `global_size` examples."""
    base, extra = divmod(int(global_size), size)
    start = rank * base + min(rank, extra)
    return start, start + base + (rank < extra)


def _batch_size(leaves):
    sizes = {np.shape(leaf)[0] if np.ndim(leaf) else None for leaf in leaves}
    if None in sizes or len(sizes) != 1:
        raise ValueError("a distributed dataset needs batched elements whose components share their first "
                         f"dimension (dataset.batch(GLOBAL_BATCH_SIZE)); got component shapes "
                         f"{[tuple(np.shape(leaf)) for leaf in leaves]}")
    return sizes.pop()


def local_shard(element, rank, size):
    """This worker's shard of a global batch (a nested structure of arrays or tensors, batched
    along the first dimension), as Tensors."""
    leaves = [leaf.numpy() if isinstance(leaf, Tensor) else np.asarray(leaf) for leaf in nest.flatten(element)]
    start, stop = shard_bounds(_batch_size(leaves), rank, size)
    return nest.pack_sequence_as(element, [Tensor(np.ascontiguousarray(leaf[start:stop])) for leaf in leaves])


class InputContext:
    """What a dataset function of distribute_datasets_from_function learns about its worker (TF's
    tf.distribute.InputContext): one input pipeline per worker."""

    def __init__(self, num_input_pipelines, input_pipeline_id, num_replicas_in_sync):
        self.num_input_pipelines = num_input_pipelines
        self.input_pipeline_id = input_pipeline_id
        self.num_replicas_in_sync = num_replicas_in_sync

    def get_per_replica_batch_size(self, global_batch_size):
        if global_batch_size % self.num_replicas_in_sync:
            raise ValueError(f"the global batch size {global_batch_size} is not divisible by the "
                             f"{self.num_replicas_in_sync} replicas in sync")
        return global_batch_size // self.num_replicas_in_sync

    def __repr__(self):
        return (f"InputContext(num_input_pipelines={self.num_input_pipelines}, "
                f"input_pipeline_id={self.input_pipeline_id}, num_replicas_in_sync={self.num_replicas_in_sync})")


class DistributedDataset:
    """A dataset whose iteration yields this worker's part of each element: its shard of every
    global batch (experimental_distribute_dataset), or the elements of a pipeline the user built
    per worker (distribute_datasets_from_function: already per-replica, yielded as they are)."""

    def __init__(self, dataset, rank, size, shard=True):
        if not hasattr(dataset, "as_numpy_iterator"):
            raise TypeError(f"expected a tf.data.Dataset, got {type(dataset).__name__}")
        self._dataset, self._rank, self._size, self._shard = dataset, rank, size, shard

    def __iter__(self):
        if not self._shard or self._size == 1:
            yield from self._dataset
            return
        for element in self._dataset.as_numpy_iterator():
            yield local_shard(element, self._rank, self._size)

    def __len__(self):
        return len(self._dataset)

    def cardinality(self):
        return self._dataset.cardinality()
