"""MPICommunicator: the workers of an `mpiexec` job, over mpi4py's COMM_WORLD.

mpi4py is imported when an MPICommunicator is created, never by importing this module.

Failures end the whole job in bounded time, never a hang:
- every collective is started non-blocking and its requests are polled until a deadline
  (TRACEJIT_COLLECTIVE_TIMEOUT seconds, default 60). A worker that never joins (it died, hangs,
  or waits in a different collective) turns into DeadlineExceededError naming this rank and
  the collective; an MPI failure into UnavailableError. MPICH's blocking wait spins too, so
  polling costs no more CPU; it measured within ~1 us per call of mpi4py's blocking Allreduce
  (4 KB: 5 us against 4 us; from 16 KB on the same within noise, bench/allreduce.py);
- an uncaught exception in any worker prints its traceback, then a line naming the rank, and
  calls MPI_Abort, which makes mpiexec kill every worker. Without this a worker that raises
  hangs in MPI_Finalize (measured) and the others wait in their collective until the timeout;
- a process that exits after a caught collective failure, or with a collective never waited
  for, aborts the job at exit for the same reason.
A collective that failed cannot be cancelled (MPI has no cancel for collectives), so after a
failure every later collective on this communicator raises AbortedError.
"""
import atexit
import fcntl
import functools
import os
import struct
import sys
import termios
import time

import numpy as np

from ..errors import AbortedError, DeadlineExceededError, InvalidArgumentError, UnavailableError
from .communicator import (CollectiveHandle, Communicator, check_array, check_packing, check_reduce_op, describe,
                           pack)
from .fusion import FusionBuffers

TIMEOUT_ENV = "TRACEJIT_COLLECTIVE_TIMEOUT"
DEFAULT_TIMEOUT_SECONDS = 60.0
# Arrays below this are packed by allreduce_many; larger ones are reduced where they are.
# Between two local processes packing stops paying off between 64 KB and 256 KB (bench/allreduce.py).
DEFAULT_FUSION_THRESHOLD_BYTES = 128 * 1024
# Polls between looks at the clock (and yields of the core): one Request.Test costs ~0.3 us.
POLLS_PER_CLOCK_CHECK = 256


def import_mpi():
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise ImportError(
            "running several tracejit workers needs mpi4py and an MPI library: "
            "pip install 'tracejit[distributed]' (installs mpi4py and the mpich wheel)") from error
    return MPI


def collective_timeout_from_env():
    """Seconds a collective may wait for the other workers: $TRACEJIT_COLLECTIVE_TIMEOUT or 60."""
    text = os.environ.get(TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_TIMEOUT_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise InvalidArgumentError(f"{TIMEOUT_ENV}={text!r}: expected a positive number of seconds")
    return seconds


class MPICollectiveHandle(CollectiveHandle):
    """Requests in flight; wait() polls them to completion under the communicator's deadline,
    then runs `finish` (divide for a mean, copy back into a non-contiguous array)."""

    def __init__(self, communicator, requests, what, finish):
        self._communicator = communicator
        self._requests = requests
        self._what = what
        self._finish = finish
        self._result = None
        self._completed = False

    def wait(self):
        if not self._completed:
            self._communicator._wait(self._requests, self._what)
            self._result = self._finish()
            self._completed = True
        return self._result

    def done(self):
        return self._completed or self._communicator._test(self._requests, self._what)


class MPICommunicator(Communicator):
    """All processes of the MPI job (MPI.COMM_WORLD). Rank 0 is the chief.

    timeout: seconds a collective waits for the other workers before DeadlineExceededError
    (default $TRACEJIT_COLLECTIVE_TIMEOUT or 60). fusion_threshold_bytes: allreduce_many packs
    arrays smaller than this into one buffer per dtype."""

    def __init__(self, timeout=None, fusion_threshold_bytes=DEFAULT_FUSION_THRESHOLD_BYTES):
        self._MPI = import_mpi()
        self._comm = self._MPI.COMM_WORLD
        self.rank = self._comm.Get_rank()
        self.size = self._comm.Get_size()
        self.timeout = collective_timeout_from_env() if timeout is None else float(timeout)
        self._fusion = FusionBuffers(fusion_threshold_bytes)
        self._reduce_ops = {"sum": self._MPI.SUM, "mean": self._MPI.SUM, "max": self._MPI.MAX, "min": self._MPI.MIN}
        self._failure = None          # the first failure; later collectives raise AbortedError
        self._in_flight = 0           # collectives started and not yet waited for
        self._started = 0             # collectives started, to number them in messages
        _install_failure_hooks(self)

    # -- collectives ---------------------------------------------------------------------------

    def allreduce(self, array, op="sum"):
        check_array(array, "allreduce")
        check_reduce_op(op, array, "allreduce")
        what = self._start(lambda: f"allreduce of {describe(array)} (op={op})")
        buffer = array if array.flags.c_contiguous else np.ascontiguousarray(array)
        self._wait([self._post(what, self._comm.Iallreduce, self._MPI.IN_PLACE, buffer, self._reduce_ops[op])], what)
        return self._finish_reduce(array, buffer, op)

    def iallreduce(self, array, op="sum"):
        check_array(array, "allreduce")
        check_reduce_op(op, array, "allreduce")
        what = self._start(lambda: f"allreduce of {describe(array)} (op={op})")
        buffer = array if array.flags.c_contiguous else np.ascontiguousarray(array)
        request = self._post(what, self._comm.Iallreduce, self._MPI.IN_PLACE, buffer, self._reduce_ops[op])
        return MPICollectiveHandle(self, [request], what, lambda: self._finish_reduce(array, buffer, op))

    def allreduce_many(self, arrays, op="sum"):
        for array in arrays:
            check_array(array, "allreduce_many")
            check_reduce_op(op, array, "allreduce_many")
        what = self._start(lambda: f"allreduce_many of {len(arrays)} arrays (op={op})")
        plan = self._fusion.plan(arrays)
        in_place, mpi_op, start = self._MPI.IN_PLACE, self._reduce_ops[op], self._comm.Iallreduce
        # the large arrays go first so that their transfer is under way while the small ones are packed
        direct = plan.direct_arrays(arrays)
        requests = [self._post(what, start, in_place, array, mpi_op) for array in direct]
        plan.copy_in(arrays)
        requests += [self._post(what, start, in_place, flat, mpi_op) for flat in plan.flats]
        self._wait(requests, what)
        for reduced in direct + plan.flats:
            self._finish_reduce(reduced, reduced, op)
        plan.copy_out(arrays)
        return arrays

    def allreduce_into(self, arrays, out, op="sum"):
        # Everything is copied into `out` and reduced there, in place, as one message: the simplest
        # plan, and as fast as having MPI reduce the large arrays from where they are into their
        # regions (no copy of ours) beside packed small ones. For the conv model's 11 MB between two
        # local processes both take 2.5-3.9 ms and which is faster flips from run to run
        # (bench/distributed.py): MPICH reduces in place faster than from a separate send buffer,
        # which pays for the copy.
        flat = check_packing(arrays, out, op)
        what = self._start(lambda: f"allreduce of {len(arrays)} arrays into {describe(out)} (op={op})")
        pack(arrays, flat)
        self._wait([self._post(what, self._comm.Iallreduce, self._MPI.IN_PLACE, flat, self._reduce_ops[op])], what)
        return self._finish_reduce(out, out, op)

    def broadcast(self, array, root=0):
        check_array(array, "broadcast")
        self._check_root(root)
        what = self._start(lambda: f"broadcast of {describe(array)} from rank {root}")
        buffer = np.ascontiguousarray(array)
        self._wait([self._post(what, self._comm.Ibcast, buffer, root)], what)
        return self._copy_back(array, buffer)

    def allgather(self, array):
        check_array(array, "allgather", writable=False)
        what = self._start(lambda: f"allgather of {describe(array)}")
        gathered = np.empty((self.size,) + array.shape, array.dtype)
        send = np.ascontiguousarray(array)
        self._wait([self._post(what, self._comm.Iallgather, send, gathered)], what)
        return gathered

    def barrier(self):
        what = self._start(lambda: "barrier")
        self._wait([self._post(what, self._comm.Ibarrier)], what)

    def abort(self, message, exit_code=1):
        """Print `message` with this rank to stderr and end every worker of the job (MPI_Abort)."""
        print(f"tracejit.distribute: rank {self.rank} of {self.size}: {message}; "
              f"aborting all {self.size} workers", file=sys.stderr, flush=True)
        _wait_until_output_is_read()
        self._comm.Abort(exit_code)
        # MPICH's MPI_Abort returns (measured) and the job is torn down asynchronously: end this
        # process now rather than run on into MPI_Finalize, which would wait for the others.
        os._exit(exit_code)

    # -- the machinery -------------------------------------------------------------------------

    def _start(self, what):
        """Count a new collective; refuse it after a failure. `what` (a function, so that the
        description is only formatted when a message needs it) names it in errors."""
        if self._failure is not None:
            raise AbortedError(f"rank {self.rank} of {self.size}: {what()} refused: an earlier collective failed "
                               f"({self._failure}) and cannot be recovered; restart the job")
        self._started += 1
        self._in_flight += 1
        number = self._started
        return lambda: f"{what()} [collective #{number}]"

    def _post(self, what, start, *arguments):
        """start(*arguments): one non-blocking MPI call, its failure an UnavailableError."""
        try:
            return start(*arguments)
        except self._MPI.Exception as error:
            raise self._fail(UnavailableError, f"{what()} could not start: {error}") from error

    def _test(self, requests, what):
        try:
            return self._MPI.Request.Testall(requests)
        except self._MPI.Exception as error:
            raise self._fail(UnavailableError, f"{what()} failed: {error}") from error

    def _wait(self, requests, what):
        """Poll until every request completes. Polling (not MPI_Wait) is what lets a worker that
        never joins become an error after self.timeout seconds instead of a hang."""
        # one request's Test() polls ~0.7 us faster than Testall (measured on 4 KB allreduces)
        test = requests[0].Test if len(requests) == 1 else functools.partial(self._MPI.Request.Testall, requests)
        deadline = time.monotonic() + self.timeout
        polls = 0
        try:
            while not test():
                polls += 1
                if polls % POLLS_PER_CLOCK_CHECK == 0:
                    if time.monotonic() > deadline:
                        raise self._fail(DeadlineExceededError, self._timeout_message(what))
                    os.sched_yield()      # a waiting worker leaves the core to whoever has work
        except self._MPI.Exception as error:
            raise self._fail(UnavailableError, f"{what()} failed: {error}") from error
        self._in_flight -= 1

    def _timeout_message(self, what):
        return (f"{what()} did not complete within {self.timeout:g} s: another worker died, hangs, or runs "
                f"different collectives (all must run the same ones in the same order). If workers legitimately "
                f"spend longer between collectives, raise {TIMEOUT_ENV} (seconds)")

    def _fail(self, error_type, message):
        self._failure = f"{error_type.__name__}: {message}"
        return error_type(f"rank {self.rank} of {self.size}: {message}")

    def _finish_reduce(self, array, buffer, op):
        if op == "mean":
            np.divide(buffer, self.size, out=buffer)
        return self._copy_back(array, buffer)

    @staticmethod
    def _copy_back(array, buffer):
        if buffer is not array:
            np.copyto(array, buffer)
        return array

    def _check_root(self, root):
        if not 0 <= root < self.size:
            raise InvalidArgumentError(f"broadcast: root {root} does not exist in a job of {self.size} workers")

    def _abort_if_unfinished(self):
        """At exit: MPI_Finalize would hang with a collective still pending, so abort instead."""
        if self._failure is not None:
            self.abort(f"exiting after a failed collective ({self._failure})")
        elif self._in_flight:
            self.abort(f"exiting with {self._in_flight} collective(s) started but never waited for")


def _unread_bytes(fd):
    """Bytes written to `fd` that its reader has not read yet (0 when it is not a pipe)."""
    try:
        return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
    except OSError:
        return 0


def _wait_until_output_is_read(limit_seconds=1.0):
    """mpiexec (hydra) forwards a worker's stdout/stderr through pipes, and MPI_Abort makes it
    kill the workers and stop forwarding: in 7 of 30 measured runs the traceback printed just
    before MPI_Abort was cut short. Waiting until the launcher has read the pipes keeps it."""
    sys.stdout.flush()
    sys.stderr.flush()
    deadline = time.monotonic() + limit_seconds
    while (_unread_bytes(1) or _unread_bytes(2)) and time.monotonic() < deadline:
        time.sleep(0.001)


_hooked = []


def _install_failure_hooks(communicator):
    """Once per process: an uncaught exception aborts the job, naming this rank, and a process
    leaving a collective unfinished aborts at exit (see the module docstring for why)."""
    _hooked.append(communicator)
    if len(_hooked) > 1:
        return
    previous_hook = sys.excepthook

    def abort_on_uncaught_exception(kind, value, traceback):
        previous_hook(kind, value, traceback)       # the usual traceback first
        message = str(value).removeprefix(f"rank {communicator.rank} of {communicator.size}: ")
        communicator.abort(f"uncaught {kind.__name__}: {message}")

    def abort_if_unfinished():
        for hooked in _hooked:
            hooked._abort_if_unfinished()

    sys.excepthook = abort_on_uncaught_exception
    atexit.register(abort_if_unfinished)
