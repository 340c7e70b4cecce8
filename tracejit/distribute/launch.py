"""Where a process stands in an MPI job, read from the launcher's environment (no MPI import),
and where `mpiexec` is.

Reading the environment first lets a single-process run never import mpi4py: initializing MPI
costs ~70 ms and, outside a launcher, starts a singleton MPI job for nothing.
"""
import os
import shutil
import sys
import sysconfig

# World-size variables set by the launchers: MPICH's hydra and Intel MPI (PMI), Slurm with
# PMI-2, Open MPI, MVAPICH2. Hydra's MPI_LOCALNRANKS only counts this node's processes, so it
# comes last, as a lower bound of the world size.
WORLD_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "MPI_LOCALNRANKS")
RANK_VARIABLES = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK", "MPI_LOCALRANKID")


def _first_int(names, environ):
    for name in names:
        value = environ.get(name, "").strip()
        if value.isdigit():
            return int(value)
    return None


def world_size_from_env(environ=None):
    """The number of processes an MPI launcher started for this job; 1 when not under one."""
    size = _first_int(WORLD_SIZE_VARIABLES, os.environ if environ is None else environ)
    return size if size else 1


def rank_from_env(environ=None):
    """This process's rank according to the launcher; 0 when not under one."""
    rank = _first_int(RANK_VARIABLES, os.environ if environ is None else environ)
    return rank or 0


def launched_by_mpi(environ=None):
    """True when an MPI launcher started this process as one of several workers."""
    return world_size_from_env(environ) > 1


def find_mpiexec():
    """The `mpiexec` that belongs to this Python environment, else the first one on PATH, else None.

    The mpich wheel installs mpiexec into the environment's scripts directory (beside the
    interpreter), which need not be on PATH (a venv that is not activated, pyenv without shims).
    Preferring it keeps launcher and libmpi (the wheel's lib/libmpi.so.12) from the same MPICH.
    """
    candidates = [os.path.join(os.path.dirname(sys.executable), "mpiexec"),
                  os.path.join(sysconfig.get_path("scripts"), "mpiexec")]
    for path in candidates:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return shutil.which("mpiexec")
