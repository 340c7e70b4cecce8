"""tf.distribute: data-parallel training across processes.

Strategies (strategy.py): MultiWorkerMirroredStrategy runs one replica per process of an MPI job
(`mpiexec -n N python train.py`; one process without a launcher), the default strategy one
replica in this process. Under them, collectives are ops (tracejit.ops.collective: all_reduce,
broadcast) that run inside compiled steps.

The transport (communicator.py, mpi.py): communicators that run collectives on NumPy arrays,
over MPI (mpi4py, imported only when an MPICommunicator is created) or within one process.
`pip install 'tracejit[distributed]'` installs mpi4py and the mpich wheel, whose mpiexec lands
beside the Python interpreter.
"""
from ..ops import collective as _collective
from .communicator import REDUCE_OPS, CollectiveHandle, Communicator, LocalCommunicator  # noqa: F401
from .world import get_communicator  # noqa: F401
from .mpi import MPICommunicator  # noqa: F401  (mpi4py is imported when one is created)
from .launch import find_mpiexec, launched_by_mpi, rank_from_env, world_size_from_env  # noqa: F401
from .input import DistributedDataset, InputContext  # noqa: F401
from .strategy import (  # noqa: F401
    MultiWorkerMirroredStrategy, ReduceOp, ReplicaContext, Strategy, StrategyExtended, get_cross_replica_context,
    get_replica_context, get_strategy, has_strategy, in_cross_replica_context)
from . import experimental  # noqa: F401

# the collective ops of the core reach this job's communicator through this hook
_collective.install(get_communicator, lambda: get_strategy().num_replicas_in_sync)
