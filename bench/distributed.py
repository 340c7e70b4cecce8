"""Data-parallel training on this machine: the conv model step (Conv2D(32,3)-Flatten-Dense(128)-
Dense(10), Adam; bench/workloads.py) under MultiWorkerMirroredStrategy with 1 and 2 workers.

    python3 bench/distributed.py          (--quick for fewer samples)

Prints, from jobs it launches (each worker with one BLAS thread; the 1-worker job also with two):
- step time and throughput by global batch, and the scaling efficiency of 2 workers: strong
  scaling (same global batch: T1(B) / (2 T2(B))) and weak scaling (same batch per worker:
  T1(b) / T2(2b)), beside two independent 1-worker processes running at once (no communication:
  what two processes get from this machine);
- the time per step spent in the gradient all_reduce (the compiled step's collective node,
  timed inside the communicator) and its achieved bandwidth, against the same allreduce alone;
- whether overlapping the allreduce with computation could pay here: an iallreduce of the
  gradient buffer started before a stretch of BLAS work and waited after it, against the two
  one after the other (with and without MPICH's progress thread).
Each time is "median (best)" over samples started together by a barrier (rank 0's clock): on a
machine shared with other jobs the best sample is the closer estimate of the uncontended time.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import workloads as W  # noqa: E402
from allreduce import interleaved_samples, print_table  # noqa: E402

import tracejit as tf  # noqa: E402
from tracejit.distribute import find_mpiexec, get_communicator  # noqa: E402

GLOBAL_BATCHES = {1: (32, 64, 128), 2: (64, 128)}


class DistributedConvNet:
    """bench/workloads.py's conv model and Adam step, with mirrored variables and the gradients
    summed across workers (loss scaled by the global batch) inside the compiled step."""

    def __init__(self, strategy, global_batch):
        self.strategy, self.global_batch = strategy, global_batch
        with strategy.scope():
            self.params = [tf.Variable(p) for p in W.conv_params()]
            self.m = [tf.Variable(np.zeros_like(p.numpy())) for p in self.params]
            self.v = [tf.Variable(np.zeros_like(p.numpy())) for p in self.params]
            self.t = tf.Variable(0.0)
        self.step = tf.function(lambda x, y: strategy.run(self._replica_step, args=(x, y)))

    def _replica_step(self, x, y):
        k, bc, w1, b1, w2, b2 = self.params
        with tf.GradientTape() as tape:
            features = tf.nn.relu(tf.nn.conv2d(x, k, 1, "VALID") + bc)
            hidden = tf.nn.relu(tf.matmul(tf.reshape(features, [x.shape[0], -1]), w1) + b1)
            logits = tf.matmul(hidden, w2) + b2
            per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=self.global_batch)
        gradients = tf.distribute.get_replica_context().all_reduce(
            tf.distribute.ReduceOp.SUM, tape.gradient(loss, self.params))
        W._adam_tracejit(self.params, gradients, self.m, self.v, self.t)
        return loss


def summary(samples):
    """{"median": ..., "best": ...} of a list of seconds."""
    return {"median": float(np.median(samples)), "best": float(np.min(samples))}


def timings(comm, variants, repetitions, calls_per_sample):
    return [summary(s) for s in interleaved_samples(comm, variants, repetitions, calls_per_sample)]


class TimedCommunicator:
    """Records the duration and bytes of every allreduce_into (what the all_reduce op runs) of `comm`."""

    def __init__(self, comm):
        self.seconds, self.bytes = [], 0
        original = comm.allreduce_into

        def timed(arrays, out, op="sum"):
            start = time.perf_counter()
            result = original(arrays, out, op)
            self.seconds.append(time.perf_counter() - start)
            self.bytes = out.nbytes
            return result
        comm.allreduce_into = timed


def step_times(comm, strategy, repetitions, steps_per_sample):
    timer = TimedCommunicator(comm)
    results = {}
    for global_batch in GLOBAL_BATCHES[comm.size]:
        net = DistributedConvNet(strategy, global_batch)
        x, y = W.conv_data(global_batch)
        start, stop = strategy.extended.local_shard_bounds(global_batch)
        x, y = x[start:stop], y[start:stop]
        for _ in range(5):           # past tracing and compiling (MultiWorkerMirroredStrategy compiles synchronously)
            net.step(x, y)
        timer.seconds.clear()
        (step,) = timings(comm, [lambda: net.step(x, y)], repetitions, steps_per_sample)
        results[global_batch] = {"step": step, "allreduce": summary(timer.seconds or [0.0]), "bytes": timer.bytes}
    return results


def gradient_arrays():
    return [np.random.default_rng(i).random(p.shape, dtype=np.float32) for i, p in enumerate(W.conv_params())]


def allreduce_alone(comm, repetitions):
    """The gradients' allreduce_into by itself (copied into the buffer, reduced in place as one
    message), against MPI reducing the large gradient from where it is into its region beside the
    packed small ones (no copy of ours), and against the buffer reduced in place with nothing to
    copy (the floor). Samples rotate which variant goes first."""
    arrays = gradient_arrays()
    out = np.empty(sum(a.size for a in arrays), np.float32)
    flat, mpi = out.copy(), comm._MPI
    sizes = np.cumsum([0] + [a.size for a in arrays])

    def large_where_it_is():
        small = [i for i in range(len(arrays)) if i != 2]
        for i in small:
            out[sizes[i]:sizes[i + 1]] = arrays[i].reshape(-1)
        requests = [comm._comm.Iallreduce(mpi.IN_PLACE, out[:sizes[2]], mpi.SUM),
                    comm._comm.Iallreduce(arrays[2], out[sizes[2]:sizes[3]], mpi.SUM),
                    comm._comm.Iallreduce(mpi.IN_PLACE, out[sizes[3]:], mpi.SUM)]
        mpi.Request.Waitall(requests)
    variants = [lambda: comm.allreduce_into(arrays, out), large_where_it_is, lambda: comm.allreduce(flat)]
    into, direct, in_place = rotated_timings(comm, variants, repetitions * 3, 3)
    return {"bytes": out.nbytes, "seconds": into, "direct": direct, "in_place": in_place}


def rotated_timings(comm, variants, repetitions, calls_per_sample):
    """timings() with the variants' order rotated from one repetition to the next (the first
    variant after a barrier measured up to 0.5 ms slower here)."""
    samples = [[] for _ in variants]
    for repetition in range(repetitions):
        shift = repetition % len(variants)
        order = list(range(len(variants)))[shift:] + list(range(len(variants)))[:shift]
        for index, times in zip(order, interleaved_samples(comm, [variants[i] for i in order], 1, calls_per_sample)):
            samples[index] += times
    return [summary(s) for s in samples]


def overlap(comm, repetitions):
    """Sequential (work, then allreduce) against overlapped (iallreduce, work, wait) of the
    gradient buffer; `work` is BLAS calls taking about as long as the allreduce."""
    buffer = np.concatenate([a.ravel() for a in gradient_arrays()])
    a = np.random.default_rng(0).random((256, 256), dtype=np.float32)
    product = np.empty_like(a)
    start = time.perf_counter()
    for _ in range(20):
        np.dot(a, a, out=product)
    one = (time.perf_counter() - start) / 20
    alone = allreduce_alone(comm, 3)["seconds"]["best"]
    calls = max(1, int(alone / one))

    def work():
        for _ in range(calls):
            np.dot(a, a, out=product)

    def sequential():
        work()
        comm.allreduce(buffer)

    def overlapped():
        handle = comm.iallreduce(buffer)
        work()
        handle.wait()
    times = rotated_timings(comm, [work, lambda: comm.allreduce(buffer), sequential, overlapped], repetitions * 2, 1)
    return dict(zip(("work", "allreduce", "sequential", "overlapped"), times))


def worker(args):
    comm = get_communicator()
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    tf.config.set_compile_mode("sync")                           # 1 worker too: steady state from the first call
    repetitions = 7 if args.quick else 21
    results = {"workers": comm.size, "steps": step_times(comm, strategy, repetitions, 5)}
    if comm.size > 1:
        results["alone"] = allreduce_alone(comm, repetitions)
        results["overlap"] = overlap(comm, repetitions)
    if comm.is_chief:
        print("RESULTS " + json.dumps(results), flush=True)


def launch(workers, threads, quick, extra_environment=None, copies=1):
    """Run the worker as a job of `workers` (under mpiexec when > 1); `copies` such jobs at once,
    independent of each other. Returns the chief's results (a list of them for several copies)."""
    command = [sys.executable, os.path.abspath(__file__), "--worker"] + ["--quick"] * quick
    if workers > 1:
        mpiexec = find_mpiexec()
        if mpiexec is None:
            sys.exit("mpiexec not found: pip install -e '.[distributed]' installs the mpich wheel, which provides it")
        command = [mpiexec, "-n", str(workers)] + command
    environment = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
                       **(extra_environment or {}))
    processes = [subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(copies)]
    results = []
    for process in processes:
        stdout, stderr = process.communicate()
        line = next((l for l in stdout.splitlines() if l.startswith("RESULTS ")), None)
        if process.returncode or line is None:
            sys.exit(f"{' '.join(command)} failed:\n{stdout}\n{stderr}")
        results.append(json.loads(line[len("RESULTS "):]))
    return results if copies > 1 else results[0]


def report(one_2threads, one, independent, two, progress_thread):
    ms = lambda t: f"{t['median'] * 1e3:.2f} ({t['best'] * 1e3:.2f})"  # noqa: E731
    rate = lambda examples, t: f"{examples / t['median']:.0f} ({examples / t['best']:.0f})"  # noqa: E731
    ratio = lambda a, b: f"{a['median'] / b['median']:.0%} ({a['best'] / b['best']:.0%})"  # noqa: E731
    doubled = lambda t: {k: 2 * v for k, v in t.items()}  # noqa: E731
    rows = []
    for batch in GLOBAL_BATCHES[1]:
        t1, t1b = one["steps"][str(batch)]["step"], one_2threads["steps"][str(batch)]["step"]
        row = [str(batch), ms(t1b), ms(t1), rate(batch, t1)]
        two_step = two["steps"].get(str(batch))
        if two_step is None:
            row += [""] * 6
        else:
            t2, reduce = two_step["step"], two_step["allreduce"]
            gigabytes = {k: two_step["bytes"] / v / 1e9 for k, v in reduce.items()}
            row += [ms(t2), rate(batch, t2), ratio(t1, doubled(t2)), ms(reduce),
                    f"{gigabytes['median']:.2f} ({gigabytes['best']:.2f})",
                    ms(progress_thread["steps"][str(batch)]["step"])]
        rows.append(row)
    print_table("conv model Adam step and throughput by global batch: median (best)",
                ("global batch", "1 worker, 2 threads ms", "1 worker ms", "examples/s", "2 workers ms", "examples/s",
                 "strong scaling eff.", "allreduce ms/step", "GB/s", "2 workers + progress thread ms"), rows)
    weak = []
    for per_worker in (32, 64):
        t1, t2 = one["steps"][str(per_worker)]["step"], two["steps"][str(2 * per_worker)]["step"]
        copies = [copy["steps"][str(per_worker)]["step"] for copy in independent]
        both = {k: float(np.mean([c[k] for c in copies])) for k in ("median", "best")}
        weak.append((str(per_worker), ms(t1), ms(both), ms(t2), ratio(t1, t2), ratio(both, t2)))
    print_table("weak scaling: the same batch per worker (1 BLAS thread per process)",
                ("batch per worker", "1 worker ms", "2 independent processes ms", "2 workers ms", "efficiency",
                 "vs 2 independent"), weak)
    alone = two["alone"]
    bandwidth = lambda nbytes, t: f"{nbytes / t['median'] / 1e9:.2f} ({nbytes / t['best'] / 1e9:.2f})"  # noqa: E731
    size = lambda nbytes: f"{nbytes / 1e6:.1f} MB"  # noqa: E731
    rows = [(label, size(alone["bytes"]), ms(alone[key]), bandwidth(alone["bytes"], alone[key])) for label, key in (
        ("allreduce_into (what the step runs): copied into the buffer, 1 message", "seconds"),
        ("the large gradient reduced from where it is, small ones packed: 3 messages", "direct"),
        ("the buffer alone, reduced in place (nothing to copy)", "in_place"))]
    print_table("the gradients' allreduce by itself (2 workers, 6 arrays, 11.1 MB)", ("how", "bytes", "ms", "GB/s"),
                rows)
    rows = []
    for label, result in (("MPICH default", two["overlap"]),
                          ("MPIR_CVAR_ASYNC_PROGRESS=1", progress_thread["overlap"])):
        rows.append((label, ms(result["work"]), ms(result["allreduce"]), ms(result["sequential"]),
                     ms(result["overlapped"])))
    print_table("overlap: iallreduce of the gradient buffer around BLAS work of about the allreduce's length",
                ("MPI progress", "work ms", "allreduce ms", "one after the other ms", "overlapped ms"), rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    load = os.getloadavg()[0]
    one_2threads = launch(1, 2, args.quick)
    one = launch(1, 1, args.quick)
    independent = launch(1, 1, args.quick, copies=2)      # what two processes get from this machine
    two = launch(2, 1, args.quick)
    progress_thread = launch(2, 1, args.quick, {"MPIR_CVAR_ASYNC_PROGRESS": "1"})
    print(f"(load average before the runs: {load:.2f} on {os.cpu_count()} cores)")
    report(one_2threads, one, independent, two, progress_thread)


if __name__ == "__main__":
    main()
