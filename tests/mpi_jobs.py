"""Launching test jobs: a script run by `mpiexec -n N python script` (the mpiexec beside this
interpreter, from the mpich wheel), or by plain `python script` (a job of one worker), in a
fresh environment whose PYTHONPATH is this checkout. Used by the distribute tests."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from tracejit.distribute import find_mpiexec
from tracejit.distribute.mpi import TIMEOUT_ENV

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JOB_TIMEOUT_SECONDS = 60
LAUNCHER_VARIABLES = ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK",
                      "MV2_COMM_WORLD_SIZE", "MV2_COMM_WORLD_RANK", "MPI_LOCALNRANKS", "MPI_LOCALRANKID")


@pytest.fixture(scope="module")
def mpiexec():
    pytest.importorskip("mpi4py", reason="mpi4py is not installed: pip install -e '.[distributed]'")
    path = find_mpiexec()
    if path is None:
        pytest.skip("no mpiexec beside the interpreter or on PATH: pip install -e '.[distributed]' (mpich wheel)")
    return path


class Job:
    def __init__(self, returncode, stdout, stderr, seconds):
        self.returncode, self.stdout, self.stderr, self.seconds = returncode, stdout, stderr, seconds

    def __repr__(self):
        return (f"<job exit {self.returncode} after {self.seconds:.1f} s>\n--- stdout\n{self.stdout}"
                f"\n--- stderr\n{self.stderr}")


def run_job(mpiexec, directory, source, collective_timeout=30, workers=2, env=None, args=()):
    """Run `source` as `mpiexec -n <workers> python script` (mpiexec=None: `python script`, one
    worker without a launcher) and return how it ended. A job still running after
    JOB_TIMEOUT_SECONDS is killed (its whole process group) and fails the test."""
    script = os.path.join(directory, "worker.py")
    with open(script, "w") as f:
        f.write(textwrap.dedent(source))
    environment = {k: v for k, v in os.environ.items() if k not in LAUNCHER_VARIABLES}
    environment.update(PYTHONPATH=REPO, **{TIMEOUT_ENV: str(collective_timeout)}, **(env or {}))
    launcher = [] if mpiexec is None else [mpiexec, "-n", str(workers)]
    start = time.monotonic()
    process = subprocess.Popen(launcher + [sys.executable, script, *map(str, args)], cwd=directory,
                               env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=JOB_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail(f"the job hung: killed after {JOB_TIMEOUT_SECONDS} s\n{stdout}\n{stderr}")
    return Job(process.returncode, stdout, stderr, time.monotonic() - start)
