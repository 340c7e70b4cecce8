"""This process's place in the job: the communicator over all workers, created on first use."""
import threading

from .communicator import LocalCommunicator
from .launch import launched_by_mpi
from .mpi import MPICommunicator

_world = None
_world_lock = threading.Lock()


def get_communicator():
    """This process's communicator, created on first use: an MPICommunicator over all workers
    when an MPI launcher started this process as one of several, else a LocalCommunicator.
    mpi4py is imported only in the first case."""
    global _world
    with _world_lock:
        if _world is None:
            if launched_by_mpi():
                _world = MPICommunicator()
            else:
                _world = LocalCommunicator()
        return _world
