"""tf.distribute: training across processes. This package is the transport: communicators that
run collectives on NumPy arrays, over MPI (mpi4py, imported only when an MPICommunicator is
created) or within one process. Strategies build on it.

Run several workers with `mpiexec -n 2 python train.py` (`pip install 'tracejit[distributed]'`
installs mpi4py and the mpich wheel, whose mpiexec lands beside the Python interpreter).
"""
from .communicator import REDUCE_OPS, CollectiveHandle, Communicator, LocalCommunicator  # noqa: F401
from .world import get_communicator  # noqa: F401
from .mpi import MPICommunicator  # noqa: F401  (mpi4py is imported when one is created)
from .launch import find_mpiexec, launched_by_mpi, rank_from_env, world_size_from_env  # noqa: F401

