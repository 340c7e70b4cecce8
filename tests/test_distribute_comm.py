"""The transport under tf.distribute. LocalCommunicator, launcher detection and fusion buffers
run in this process; MPICommunicator runs in real jobs: each test launches
`mpiexec -n 2 python <script>` (the mpiexec beside this interpreter, from the mpich wheel) and
checks what the workers computed, or how fast and how loudly a broken job ends."""
import os
import subprocess
import sys

import numpy as np
import pytest

import tracejit as tf
from tracejit.distribute import (LocalCommunicator, get_communicator, launched_by_mpi, rank_from_env,
                                 world_size_from_env)
from tracejit.distribute.fusion import FusionBuffers
from tracejit.distribute.mpi import TIMEOUT_ENV, collective_timeout_from_env, import_mpi
from mpi_jobs import JOB_TIMEOUT_SECONDS, LAUNCHER_VARIABLES, REPO, mpiexec, run_job  # noqa: F401 (fixture)


# -- one worker, no MPI ---------------------------------------------------------------------------

def test_local_communicator_is_a_job_of_one_chief():
    comm = LocalCommunicator()
    assert (comm.rank, comm.size, comm.is_chief) == (0, 1, True)


@pytest.mark.parametrize("op", ["sum", "mean", "max", "min"])
def test_local_allreduce_returns_the_same_array_unchanged(op):
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert LocalCommunicator().allreduce(array, op) is array
    np.testing.assert_array_equal(array, np.arange(6, dtype=np.float32).reshape(2, 3))


def test_local_collectives_are_identities():
    comm = LocalCommunicator()
    arrays = [np.ones((3, 2), np.float32), np.arange(4, dtype=np.int64)]
    assert comm.allreduce_many(arrays) is arrays
    handle = comm.iallreduce(arrays[0], "mean")
    assert handle.done() and handle.wait() is arrays[0]
    assert comm.broadcast(arrays[1]) is arrays[1]
    np.testing.assert_array_equal(comm.allgather(arrays[1]), arrays[1][np.newaxis])
    comm.barrier()


@pytest.mark.parametrize("call, message", [
    (lambda c: c.allreduce(np.arange(3), "mean"), "op='mean' needs a floating-point array"),
    (lambda c: c.allreduce(np.ones(3), "prod"), "unknown op 'prod'"),
    (lambda c: c.allreduce([1.0, 2.0]), "takes a NumPy array"),
    (lambda c: c.allreduce(np.ones(3, bool)), "supports float and integer arrays"),
    (lambda c: c.allreduce(np.broadcast_to(np.ones(1), (3,))), "read-only"),
    (lambda c: c.broadcast(np.ones(3), root=1), "root 1 does not exist"),
])
def test_collective_arguments_are_checked(call, message):
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        call(LocalCommunicator())


def test_local_allreduce_into_concatenates_and_checks_its_arguments():
    comm = LocalCommunicator()
    parts = [np.arange(4, dtype=np.float32).reshape(2, 2), np.ones((3, 4), np.float32)[:, ::2]]
    out = np.empty((10,), np.float32)
    assert comm.allreduce_into(parts, out, "mean") is out
    np.testing.assert_array_equal(out, [0, 1, 2, 3] + [1] * 6)
    with pytest.raises(tf.errors.InvalidArgumentError, match="the arrays hold 10 elements, the output float32"):
        comm.allreduce_into(parts, np.empty(9, np.float32))
    with pytest.raises(tf.errors.InvalidArgumentError, match="must have the output's dtype float32, got float64"):
        comm.allreduce_into([np.ones(10)], out)


def test_get_communicator_outside_a_launcher_is_local_and_never_imports_mpi4py():
    code = ("import sys, tracejit, tracejit.distribute as d; comm = d.get_communicator(); "
            "print(type(comm).__name__, 'mpi4py' in sys.modules)")
    environment = {k: v for k, v in os.environ.items() if k not in LAUNCHER_VARIABLES}
    environment["PYTHONPATH"] = REPO
    output = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True,
                            check=True, timeout=JOB_TIMEOUT_SECONDS).stdout
    assert output.split() == ["LocalCommunicator", "False"]


def test_this_process_is_not_under_a_launcher():
    assert isinstance(get_communicator(), LocalCommunicator) or launched_by_mpi()


@pytest.mark.parametrize("environ, size, rank", [
    ({}, 1, 0),
    ({"PMI_SIZE": "4", "PMI_RANK": "3"}, 4, 3),                    # MPICH hydra, Intel MPI
    ({"OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "1"}, 2, 1),   # Open MPI
    ({"MPI_LOCALNRANKS": "2", "MPI_LOCALRANKID": "1"}, 2, 1),      # hydra's per-node variables
    ({"PMI_SIZE": "1", "PMI_RANK": "0"}, 1, 0),                    # mpiexec -n 1: one worker, no MPI
])
def test_world_size_and_rank_come_from_the_launchers_environment(environ, size, rank):
    assert (world_size_from_env(environ), rank_from_env(environ)) == (size, rank)
    assert launched_by_mpi(environ) == (size > 1)


def test_collective_timeout_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(TIMEOUT_ENV, raising=False)
    assert collective_timeout_from_env() == 60.0
    monkeypatch.setenv(TIMEOUT_ENV, "2.5")
    assert collective_timeout_from_env() == 2.5
    monkeypatch.setenv(TIMEOUT_ENV, "soon")
    with pytest.raises(tf.errors.InvalidArgumentError, match="positive number of seconds"):
        collective_timeout_from_env()


def test_missing_mpi4py_names_the_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)      # makes `from mpi4py import MPI` fail
    with pytest.raises(ImportError, match=r"tracejit\[distributed\]"):
        import_mpi()


def test_distribute_error_types_have_tensorflows_names():
    for name in ("UnavailableError", "AbortedError", "DeadlineExceededError"):
        assert issubclass(getattr(tf.errors, name), tf.errors.OpError)


# -- packing for allreduce_many --------------------------------------------------------------------

def test_fusion_packs_small_arrays_per_dtype_and_leaves_large_ones_in_place():
    large = np.ones(1024, np.float32)                    # 4 KB: at the threshold
    small32, small64 = np.ones(3, np.float32), np.ones(2, np.float64)
    strided = np.ones((4, 4), np.float32)[:, ::2]         # large enough, but not contiguous: packed
    arrays = [small32, large, small64, strided]
    plan = FusionBuffers(threshold_bytes=4096).plan(arrays)
    assert plan.direct_arrays(arrays) == [large]
    assert [(flat.dtype, flat.size) for flat in plan.flats] == [(np.float32, 11), (np.float64, 2)]


def test_fusion_round_trip_through_one_reused_buffer():
    buffers = FusionBuffers(threshold_bytes=1 << 20)
    arrays = [np.arange(6, dtype=np.float32).reshape(2, 3), np.arange(4, dtype=np.float32)[::2]]
    plan = buffers.plan(arrays)
    plan.copy_in(arrays)
    (flat,) = plan.flats
    np.testing.assert_array_equal(flat, [0, 1, 2, 3, 4, 5, 0, 2])
    flat *= 10
    plan.copy_out(arrays)
    np.testing.assert_array_equal(arrays[0], np.arange(6).reshape(2, 3) * 10)
    np.testing.assert_array_equal(arrays[1], [0, 20])
    same_layout = [np.zeros((2, 3), np.float32), np.zeros(4, np.float32)[::2]]
    assert buffers.plan(same_layout) is plan              # steady state: nothing new is made
    larger = buffers.plan(arrays + [np.ones(100, np.float32)])
    assert larger.flats[0].size == 108
    smaller_again = buffers.plan(arrays)                  # the buffer grew: plans use the new one
    assert smaller_again is not plan and np.shares_memory(smaller_again.flats[0], larger.flats[0])


# -- MPI jobs ---------------------------------------------------------------------------------------

WORKER_COMPUTES_EVERY_COLLECTIVE = """
    import numpy as np
    from tracejit.distribute import get_communicator

    comm = get_communicator()
    r = comm.rank
    out = {"kind": type(comm).__name__, "rank": r, "size": comm.size, "is_chief": comm.is_chief}
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    for op in ("sum", "mean", "max", "min"):
        array = base * (r + 1) + r
        out["returns_same_array_" + op] = comm.allreduce(array, op) is array
        out["allreduce_" + op] = array
    out["allreduce_int64"] = comm.allreduce(np.arange(5, dtype=np.int64) * (r + 1))
    out["allreduce_float64_mean"] = comm.allreduce(np.full(3, r + 1.0), "mean")
    out["allreduce_float16"] = comm.allreduce(np.full(4, r + 0.5, np.float16))
    matrix = np.zeros((4, 4), np.float32) + r
    comm.allreduce(matrix[:, ::2])                         # a strided view is reduced in place too
    out["allreduce_strided"] = matrix

    out["broadcast_from_0"] = comm.broadcast(np.full((2, 3), 10.0 * (r + 1)))
    out["broadcast_from_1"] = comm.broadcast(np.arange(4, dtype=np.int32) * (r + 1), root=1)
    out["allgather"] = comm.allgather(np.array([r, 10 * r], np.int32))

    def gradients():   # an MLP's, a float64 one, a strided one, one above the fusion threshold
        shapes = [(784, 128), (128,), (128, 10), (10,), (300, 200)]
        arrays = [np.arange(np.prod(s), dtype=np.float32).reshape(s) % 7 * (r + 1) for s in shapes]
        return arrays + [np.full(5, r + 2.0), np.ones((6, 6), np.float32)[::2, 1:] * (r + 3)]
    for op in ("sum", "mean", "max"):
        fused, separate = gradients(), gradients()
        comm.allreduce_many(fused, op)
        for array in separate:
            comm.allreduce(array, op)
        out["many_" + op] = np.concatenate([a.ravel() for a in fused]).astype(np.float64)
        out["separate_" + op] = np.concatenate([a.ravel() for a in separate]).astype(np.float64)
    buffer = comm._fusion._buffers[np.dtype(np.float32)]
    comm.allreduce_many(gradients())
    out["fusion_buffer_reused"] = comm._fusion._buffers[np.dtype(np.float32)] is buffer

    # allreduce_into: a large array goes straight into its region, small and strided ones are packed
    parts = [np.full(3, r + 1.0, np.float32), np.arange(40000, dtype=np.float32) * (r + 1),
             np.ones((4, 4), np.float32)[:, ::2] * (r + 2), np.full(2, float(r), np.float32)]
    into = np.empty(sum(p.size for p in parts), np.float32)
    out["allreduce_into_is_out"] = comm.allreduce_into(parts, into) is into
    out["allreduce_into_sum"] = into
    out["allreduce_into_mean"] = comm.allreduce_into(parts, np.empty_like(into), "mean")
    out["allreduce_into_parts_unchanged"] = float(parts[1][1]) == r + 1.0

    first, second = np.full(1000, r + 1.0, np.float32), np.full(7, 2.0 * r, np.float64)
    first_handle, second_handle = comm.iallreduce(first, "mean"), comm.iallreduce(second)
    out["iallreduce_second"] = second_handle.wait()        # completion in any order
    out["iallreduce_first"] = first_handle.wait()
    out["iallreduce_done"] = first_handle.done() and second_handle.done()
    out["iallreduce_result_is_argument"] = first_handle.wait() is first
    comm.barrier()
    np.savez(f"rank{r}.npz", **out)
    print(f"rank {r} ok")
"""


@pytest.fixture(scope="module")
def workers(mpiexec, tmp_path_factory):
    """The results of both workers of one job that ran every collective (one launch for all the
    tests that check them: a launch costs ~0.5 s)."""
    directory = str(tmp_path_factory.mktemp("collectives"))
    job = run_job(mpiexec, directory, WORKER_COMPUTES_EVERY_COLLECTIVE)
    assert job.returncode == 0, job
    return [dict(np.load(os.path.join(directory, f"rank{r}.npz"))) for r in range(2)]


def test_workers_get_mpi_communicators_with_their_ranks(workers):
    assert [(str(w["kind"]), int(w["rank"]), int(w["size"]), bool(w["is_chief"])) for w in workers] == \
        [("MPICommunicator", 0, 2, True), ("MPICommunicator", 1, 2, False)]


@pytest.mark.parametrize("op", ["sum", "mean", "max", "min"])
def test_allreduce_is_exact_on_every_worker(workers, op):
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    contributions = [base * 1 + 0, base * 2 + 1]
    expected = {"sum": contributions[0] + contributions[1], "mean": (contributions[0] + contributions[1]) / 2,
                "max": np.maximum(*contributions), "min": np.minimum(*contributions)}[op]
    for worker in workers:
        np.testing.assert_array_equal(worker["allreduce_" + op], expected)
        assert worker["allreduce_" + op].dtype == np.float32
        assert worker["returns_same_array_" + op]


def test_allreduce_other_dtypes_and_strided_views(workers):
    for rank, worker in enumerate(workers):
        np.testing.assert_array_equal(worker["allreduce_int64"], np.arange(5) * 3)
        np.testing.assert_array_equal(worker["allreduce_float64_mean"], [1.5, 1.5, 1.5])
        assert worker["allreduce_float16"].dtype == np.float16
        np.testing.assert_array_equal(worker["allreduce_float16"], [2.0] * 4)
        # columns 0 and 2 (the view) summed; columns 1 and 3 keep this worker's own value
        np.testing.assert_array_equal(worker["allreduce_strided"], [[1, rank, 1, rank]] * 4)


def test_broadcast_gives_the_roots_array_everywhere(workers):
    for worker in workers:
        np.testing.assert_array_equal(worker["broadcast_from_0"], np.full((2, 3), 10.0))
        np.testing.assert_array_equal(worker["broadcast_from_1"], np.arange(4) * 2)
        assert worker["broadcast_from_1"].dtype == np.int32


def test_allgather_stacks_every_workers_array_by_rank(workers):
    for worker in workers:
        np.testing.assert_array_equal(worker["allgather"], [[0, 0], [1, 10]])


@pytest.mark.parametrize("op", ["sum", "mean", "max"])
def test_allreduce_many_equals_one_allreduce_per_array(workers, op):
    for worker in workers:
        np.testing.assert_array_equal(worker["many_" + op], worker["separate_" + op])
    np.testing.assert_array_equal(workers[0]["many_" + op], workers[1]["many_" + op])


def test_allreduce_many_reuses_its_buffer(workers):
    assert all(worker["fusion_buffer_reused"] for worker in workers)


def _into_parts(r):
    return [np.full(3, r + 1.0), np.arange(40000) * (r + 1.0), np.ones(8) * (r + 2), np.full(2, float(r))]


@pytest.mark.parametrize("op", ["sum", "mean"])
def test_allreduce_into_writes_the_reduced_concatenation(workers, op):
    total = sum(np.concatenate(_into_parts(r)) for r in range(2))
    for worker in workers:
        np.testing.assert_array_equal(worker["allreduce_into_" + op], total / (2 if op == "mean" else 1))
        assert worker["allreduce_into_is_out"] and worker["allreduce_into_parts_unchanged"]


def test_iallreduce_handles_complete_in_any_order(workers):
    for worker in workers:
        np.testing.assert_array_equal(worker["iallreduce_first"], np.full(1000, 1.5, np.float32))
        np.testing.assert_array_equal(worker["iallreduce_second"], np.full(7, 2.0))
        assert worker["iallreduce_done"] and worker["iallreduce_result_is_argument"]


# -- broken jobs end, in bounded time, saying which worker broke -----------------------------------

FIRST_ALLREDUCE = """
    import os, signal, sys, time
    import numpy as np
    from tracejit.distribute import get_communicator
    comm = get_communicator()
    array = np.ones(1000, np.float32)
    comm.allreduce(array)
"""


def test_a_worker_that_raises_aborts_the_job_naming_its_rank(mpiexec, tmp_path):
    job = run_job(mpiexec, str(tmp_path), FIRST_ALLREDUCE + """
    if comm.rank == 1:
        raise RuntimeError("worker failed on purpose")
    comm.allreduce(array)                  # rank 0 waits here for a worker that will never come
    print("rank 0 finished")
    """)
    assert job.returncode != 0, job
    assert "RuntimeError: worker failed on purpose" in job.stderr, job
    assert "rank 1 of 2: uncaught RuntimeError: worker failed on purpose; aborting all 2 workers" in job.stderr, job
    assert "rank 0 finished" not in job.stdout
    assert job.seconds < 15, job              # MPI_Abort, not rank 0's 30 s collective timeout


def test_a_worker_killed_with_sigkill_ends_the_job(mpiexec, tmp_path):
    job = run_job(mpiexec, str(tmp_path), FIRST_ALLREDUCE + """
    if comm.rank == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    comm.allreduce(array)
    print("rank 0 finished")
    """)
    assert job.returncode != 0, job
    assert "rank 0 finished" not in job.stdout
    assert job.seconds < 15, job              # mpiexec kills the others (~0.3 s measured)


def test_a_collective_a_worker_never_joins_times_out_naming_rank_and_collective(mpiexec, tmp_path):
    job = run_job(mpiexec, str(tmp_path), FIRST_ALLREDUCE + """
    if comm.rank == 1:
        time.sleep(JOB_TIMEOUT)            # hangs: only rank 0's timeout can end this job
    comm.allreduce(np.ones((3, 5), np.float32), "mean")
    """.replace("JOB_TIMEOUT", str(JOB_TIMEOUT_SECONDS)), collective_timeout=1)
    assert job.returncode != 0, job
    assert ("DeadlineExceededError: rank 0 of 2: allreduce of float32[3,5] (op=mean) [collective #2] "
            "did not complete within 1 s") in job.stderr, job
    assert f"raise {TIMEOUT_ENV}" in job.stderr
    assert job.seconds < 15, job


def test_after_a_caught_failure_collectives_refuse_and_the_job_aborts_at_exit(mpiexec, tmp_path):
    job = run_job(mpiexec, str(tmp_path), FIRST_ALLREDUCE + """
    from tracejit import errors
    if comm.rank == 1:
        sys.exit(0)                        # leaves without the collectives rank 0 runs next
    try:
        comm.barrier()
    except errors.DeadlineExceededError as error:
        print("caught", type(error).__name__, flush=True)
    try:
        comm.allreduce(array)
    except errors.AbortedError as error:
        print("caught", type(error).__name__, "|", error, flush=True)
    """, collective_timeout=1)
    assert "caught DeadlineExceededError" in job.stdout, job
    assert "caught AbortedError | rank 0 of 2: allreduce of float32[1000] (op=sum) refused" in job.stdout, job
    assert "rank 0 of 2: exiting after a failed collective (DeadlineExceededError: barrier" in job.stderr, job
    assert job.returncode != 0, job        # MPI_Finalize would have hung on the pending barrier
    assert job.seconds < 15, job
