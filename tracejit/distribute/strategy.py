"""tf.distribute strategies: data-parallel training with one replica per worker process.

    strategy = tf.distribute.MultiWorkerMirroredStrategy()   # N workers under `mpiexec -n N`, else 1
    with strategy.scope():
        model = make_model(); model.compile(...)             # variables mirrored: worker 0's values
    model.fit(x, y, batch_size=GLOBAL_BATCH)                   # each worker trains on its shard

Where code runs (TF's contexts, per thread):
- outside any strategy: the default strategy and its default replica context (1 replica);
- inside `strategy.scope()`: the cross-replica context: get_strategy() is the strategy,
  get_replica_context() is None, and new Variables are mirrored (created on every worker, then
  overwritten with worker 0's value by a broadcast);
- inside `strategy.run(fn)`: fn runs as this worker's replica: get_replica_context().all_reduce
  combines values over all replicas (one packed all_reduce op per dtype, usable in @function).

Every worker must create the same variables and run the same collectives in the same order
(they run the same program); one that does not is caught by the collective timeout.
"""
import contextlib
import enum
import os
import threading
import warnings
import weakref

import numpy as np

from .. import config, nest
from ..context import init_scope
from ..ops import cast, convert_to_tensor, reduce_sum, shape
from ..ops import collective
from ..tensor import Tensor
from ..variables import variable_creator_scope
from .communicator import LocalCommunicator
from .input import DistributedDataset, InputContext, shard_bounds
from .world import get_communicator


class ReduceOp(enum.Enum):
    """How values of the replicas combine: SUM or MEAN (TF's tf.distribute.ReduceOp)."""
    SUM = "SUM"
    MEAN = "MEAN"


def _reduction(reduce_op):
    """A ReduceOp or its name ('SUM', 'mean') -> the all_reduce op's reduction ('sum', 'mean')."""
    if isinstance(reduce_op, str):
        try:
            reduce_op = ReduceOp(reduce_op.upper())
        except ValueError:
            raise ValueError(f"unknown reduce op {reduce_op!r}: use tf.distribute.ReduceOp.SUM or MEAN") from None
    if not isinstance(reduce_op, ReduceOp):
        raise ValueError(f"expected a tf.distribute.ReduceOp, got {reduce_op!r}")
    return reduce_op.value.lower()


# ---- where code runs: a stack per thread of ("cross", strategy) and ("replica", ReplicaContext) ----
class _Stack(threading.local):
    def __init__(self):
        self.entries = []


_stack = _Stack()


@contextlib.contextmanager
def _entered(entry):
    _stack.entries.append(entry)
    try:
        yield
    finally:
        _stack.entries.pop()


def get_strategy():
    """The strategy of the enclosing scope() or run(), else the default strategy (one replica)."""
    if not _stack.entries:
        return _default_strategy()
    kind, value = _stack.entries[-1]
    return value if kind == "cross" else value.strategy


def has_strategy():
    """True inside the scope (or run) of a strategy other than the default one."""
    return get_strategy() is not _default_strategy()


def get_replica_context():
    """The ReplicaContext inside strategy.run (and outside any strategy, the default one's);
    None in a cross-replica context (inside strategy.scope(), outside run)."""
    if not _stack.entries:
        return _default_strategy()._replica_context
    kind, value = _stack.entries[-1]
    return value if kind == "replica" else None


def in_cross_replica_context():
    return bool(_stack.entries) and _stack.entries[-1][0] == "cross"


def get_cross_replica_context():
    """The strategy when in a cross-replica context (the default strategy outside any), else None."""
    if not _stack.entries:
        return _default_strategy()
    kind, value = _stack.entries[-1]
    return value if kind == "cross" else None


# ---- strategies ------------------------------------------------------------------------------------
class ClusterResolver:
    """Who this worker is (TF's cluster_resolver.task_type / task_id): worker `rank` of `num_workers`."""

    def __init__(self, rank, num_workers):
        self.task_type, self.task_id, self.num_workers = "worker", rank, num_workers

    def __repr__(self):
        return f"ClusterResolver(task_type='worker', task_id={self.task_id}, num_workers={self.num_workers})"


class StrategyExtended:
    """strategy.extended: what libraries (Keras here) ask a strategy beyond the user API."""

    def __init__(self, strategy):
        self._strategy = strategy

    @property
    def _communicator(self):
        return self._strategy._communicator

    @property
    def should_checkpoint(self):
        """Whether this worker writes checkpoints (the chief, worker 0)."""
        return self._communicator.is_chief

    should_save_summary = should_checkpoint

    @property
    def worker_devices(self):
        return (f"/job:worker/replica:0/task:{self._communicator.rank}/device:CPU:0",)

    def variable_created_in_scope(self, variable):
        """True if `variable` was created inside this strategy's scope (and so is mirrored)."""
        return self._strategy._mirrored.get(id(variable)) is variable

    def local_shard_bounds(self, global_batch_size):
        """(start, stop): the examples of a global batch that are this worker's shard."""
        return shard_bounds(global_batch_size, self._communicator.rank, self._communicator.size)

    def broadcast_from_chief(self, array):
        """Worker 0's value of a NumPy array, on every worker (e.g. an epoch's shuffled order)."""
        return self._communicator.broadcast(np.array(array, order="C"), 0)


class Strategy:
    """Data parallelism over the workers of `communicator`, one replica each."""

    def __init__(self, communicator):
        self._communicator = communicator
        self.extended = StrategyExtended(self)
        self._replica_context = ReplicaContext(self)
        self._mirrored = weakref.WeakValueDictionary()        # id(variable) -> Variable created in scope

    @property
    def num_replicas_in_sync(self):
        return self._communicator.size

    @property
    def cluster_resolver(self):
        return ClusterResolver(self._communicator.rank, self._communicator.size)

    # ---- contexts ----
    @contextlib.contextmanager
    def scope(self):
        """Cross-replica context of this strategy: Variables created inside are mirrored."""
        current = get_strategy()
        if current is self:                           # re-entered (e.g. fit inside scope): mirror once
            with _entered(("cross", self)):
                yield self
            return
        if current is not _default_strategy():
            raise ValueError(f"Mixing different tf.distribute.Strategy objects: {current!r} is active, cannot enter "
                             f"the scope of {self!r}")
        with _entered(("cross", self)), variable_creator_scope(self._create_variable):
            yield self

    def _create_variable(self, next_creator, **arguments):
        variable = next_creator(**arguments)
        if self.num_replicas_in_sync > 1:
            with init_scope():
                variable.assign(_from_chief(variable.read_value()))
        self._mirrored[id(variable)] = variable
        return variable

    def run(self, fn, args=(), kwargs=None, options=None):
        """fn(*args, **kwargs) as this worker's replica (inside @function too): in it,
        get_replica_context() gives the replica context whose all_reduce combines the replicas."""
        with self.scope(), _entered(("replica", self._replica_context)):
            return fn(*args, **(kwargs or {}))

    # ---- values ----
    def reduce(self, reduce_op, value, axis=None):
        """Combine the replicas' values (a tensor or a nested structure of them): with axis=None
        elementwise over the replicas; with an axis, also over that axis of every replica's value
        (MEAN then weighs every element alike, whatever each replica's batch size). Works eagerly and
        inside @function. (TF allows it only in a cross-replica context; here any context.)"""
        reduction = _reduction(reduce_op)
        leaves = [convert_to_tensor(v) for v in nest.flatten(value)]
        if axis is None:
            results = self._replica_context._all_reduce(reduction, leaves)
        else:
            sums = [reduce_sum(t, axis=axis) for t in leaves]
            if reduction == "sum":
                results = self._replica_context._all_reduce("sum", sums)
            else:
                counts = [cast(shape(t)[axis], t.dtype) for t in leaves]
                reduced = self._replica_context._all_reduce("sum", sums + counts)
                results = [s / c for s, c in zip(reduced[:len(sums)], reduced[len(sums):])]
        return nest.pack_sequence_as(value, results)

    def experimental_local_results(self, value):
        """The values of this worker's replicas: one replica per worker, so (value,)."""
        return (value,)

    def gather(self, value, axis):
        raise NotImplementedError("Strategy.gather is not implemented: there is no all_gather op yet. "
                                  "Combine values with strategy.reduce, or gather NumPy arrays eagerly with "
                                  "tf.distribute.get_communicator().allgather")

    # ---- input ----
    def experimental_distribute_dataset(self, dataset, options=None):
        """A dataset of GLOBAL batches -> iteration yields this worker's shard of each batch."""
        return DistributedDataset(dataset, self._communicator.rank, self._communicator.size)

    def distribute_datasets_from_function(self, dataset_fn, options=None):
        """dataset_fn(InputContext) builds this worker's own pipeline (of per-replica batches)."""
        context = InputContext(self._communicator.size, self._communicator.rank, self.num_replicas_in_sync)
        return DistributedDataset(dataset_fn(context), self._communicator.rank, self._communicator.size, shard=False)

    def __repr__(self):
        return f"<{type(self).__name__} replicas={self.num_replicas_in_sync} worker={self._communicator.rank}>"


class ReplicaContext:
    """One replica's view inside strategy.run (TF's tf.distribute.ReplicaContext)."""

    def __init__(self, strategy):
        self.strategy = strategy

    @property
    def num_replicas_in_sync(self):
        return self.strategy.num_replicas_in_sync

    @property
    def replica_id_in_sync_group(self):
        return Tensor(np.array(self.strategy._communicator.rank, np.int32))

    def all_reduce(self, reduce_op, value, options=None):
        """Combine `value` (a tensor or a nested structure of them; None leaves stay None) over all
        replicas: one all_reduce op per dtype, the tensors packed into one buffer. Works eagerly and
        inside @function, where it is a node of the compiled step."""
        leaves = nest.flatten(value)
        present = [i for i, leaf in enumerate(leaves) if leaf is not None]
        reduced = self._all_reduce(_reduction(reduce_op), [convert_to_tensor(leaves[i]) for i in present])
        for i, tensor in zip(present, reduced):
            leaves[i] = tensor
        return nest.pack_sequence_as(value, leaves)

    def _all_reduce(self, reduction, tensors):
        if self.num_replicas_in_sync == 1 or not tensors:
            return list(tensors)                       # one replica: the sum and the mean are the value
        return collective.all_reduce_tensors(tensors, reduction)

    def merge_call(self, merge_fn, args=(), kwargs=None):
        """merge_fn(strategy, *args, **kwargs) in the cross-replica context."""
        with _entered(("cross", self.strategy)):
            return merge_fn(self.strategy, *args, **(kwargs or {}))

    def all_gather(self, value, axis, options=None):
        raise NotImplementedError("ReplicaContext.all_gather is not implemented: there is no all_gather op yet; "
                                  "use all_reduce")


def _from_chief(tensor):
    """Worker 0's value of an eager tensor (bools travel as uint8)."""
    if tensor.dtype.is_bool:
        return cast(collective.broadcast(cast(tensor, "uint8")), "bool")
    if tensor.dtype.kind == "s":
        raise NotImplementedError("mirroring a string Variable is not implemented: create it outside the "
                                  "strategy's scope with the same value on every worker")
    return collective.broadcast(tensor)


class _DefaultStrategy(Strategy):
    """The strategy in effect outside any scope: this process alone, one replica."""

    def __init__(self):
        super().__init__(LocalCommunicator())

    @contextlib.contextmanager
    def scope(self):
        with _entered(("cross", self)):
            yield self


_default = []
_default_lock = threading.Lock()


def _default_strategy():
    if not _default:
        with _default_lock:
            if not _default:
                _default.append(_DefaultStrategy())
    return _default[0]


class MultiWorkerMirroredStrategy(Strategy):
    """Synchronous data parallelism across the processes of an MPI job, one replica per process:
    under `mpiexec -n N python train.py` (on one machine or several: `mpiexec -hosts a,b -n 8`),
    num_replicas_in_sync is N; started without a launcher it is a strategy of one worker, so the
    same script runs anywhere. Variables created in scope() are mirrored (worker 0's initial
    values everywhere); gradients are summed across workers inside the compiled step; workers
    other than 0 print no progress and write no checkpoints or summaries (config.output_enabled).

    With several workers, compiled functions compile before their first call returns (compile
    mode "sync"): a function whose native code were still compiling on one worker would run on
    the interpreter there, and the two tiers round differently (mirrors must stay bitwise equal)
    and may schedule host steps, collectives included, in different orders."""

    def __init__(self, cluster_resolver=None, communication_options=None):
        if cluster_resolver is not None:
            raise NotImplementedError("MultiWorkerMirroredStrategy(cluster_resolver=...) is not supported: the MPI "
                                      "launcher defines the workers (mpiexec -hosts a,b -n 8 python train.py)")
        if communication_options is not None:
            raise NotImplementedError("MultiWorkerMirroredStrategy(communication_options=...) is not supported: "
                                      "collectives always run over MPI")
        if "TF_CONFIG" in os.environ:
            warnings.warn("TF_CONFIG is ignored: tracejit's workers are the processes of an MPI job; start them "
                          "with `mpiexec -n N python train.py`", stacklevel=2)
        super().__init__(get_communicator())
        if self._communicator.size > 1:
            config.set_compile_mode("sync")
        if not self._communicator.is_chief:
            config.set_output_enabled(False)
