"""Allreduce between 2 local processes: time per call and bandwidth by size, tracejit's polled
(timeout-guarded) allreduce against mpi4py's blocking one, and fused vs one-call-per-array
allreduce of model gradients.

    python3 bench/allreduce.py          (relaunches itself under mpiexec -n 2; --quick for fewer samples)

Needs `pip install -e ".[distributed]"`. Times are medians over samples, rank 0's clock,
each sample started together by a barrier.
"""
import argparse
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tracejit.distribute import find_mpiexec, get_communicator, launched_by_mpi  # noqa: E402
from tracejit.distribute.mpi import MPICommunicator  # noqa: E402

SIZES = [4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20]
GRADIENT_LISTS = {
    "MLP (784x128, 128, 128x10, 10)": [(784, 128), (128,), (128, 10), (10,)],
    "conv (3x3x1x32, 32, 21632x128, 128, 128x10, 10)": [(3, 3, 1, 32), (32,), (21632, 128), (128,), (128, 10), (10,)],
    "60 small (30 x 256 + 30 x 64)": [(256,)] * 30 + [(64,)] * 30,
}
# arrays of 4 KB .. 1 MB, four of each: where does packing stop paying for its copies?
MIXED_SIZES = [(n // 4,) for n in (4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20) for _ in range(4)]
THRESHOLDS = [0, 16 << 10, 64 << 10, 128 << 10, 256 << 10, 1 << 20, 1 << 62]


def interleaved_samples(comm, variants, repetitions, calls_per_sample):
    """Seconds per call of each variant, one list of samples per variant; samples alternate between
    the variants (so that load from other processes hits them alike) and every worker starts each
    sample together."""
    for run in variants:
        run()
    samples = [[] for _ in variants]
    for _ in range(repetitions):
        for run, times in zip(variants, samples):
            comm.barrier()
            start = time.perf_counter()
            for _ in range(calls_per_sample):
                run()
            times.append((time.perf_counter() - start) / calls_per_sample)
    return samples


def interleaved_medians(comm, variants, repetitions, calls_per_sample):
    """Median seconds per call of each variant (see interleaved_samples)."""
    return [float(np.median(times)) for times in interleaved_samples(comm, variants, repetitions, calls_per_sample)]


def calls_for(nbytes):
    return max(1, min(200, (8 << 20) // nbytes))


def format_bytes(n):
    return f"{n >> 20} MB" if n >= 1 << 20 else f"{n >> 10} KB" if n >= 1 << 10 else f"{n} B"


def size_table(comm, repetitions):
    mpi = comm._MPI
    rows = []
    for nbytes in SIZES:
        array = np.ones(nbytes // 4, np.float32)
        ours, blocking = interleaved_medians(
            comm, [lambda: comm.allreduce(array), lambda: comm._comm.Allreduce(mpi.IN_PLACE, array, mpi.SUM)],
            repetitions, calls_for(nbytes))
        rows.append((format_bytes(nbytes), f"{ours * 1e3:.3f}", f"{nbytes / ours / 1e9:.2f}",
                     f"{blocking * 1e3:.3f}", f"{nbytes / blocking / 1e9:.2f}"))
    return ("float32 allreduce (sum), 2 processes", ("size", "tracejit ms", "GB/s", "mpi4py blocking ms", "GB/s"), rows)


def fusion_table(comm, repetitions):
    packs_everything = MPICommunicator(fusion_threshold_bytes=1 << 62)
    rows = []
    for name, shapes in GRADIENT_LISTS.items():
        arrays = [np.ones(shape, np.float32) for shape in shapes]
        nbytes = sum(a.nbytes for a in arrays)
        calls = calls_for(nbytes)

        def one_call_per_array():
            for array in arrays:
                comm.allreduce(array)

        variants = [one_call_per_array, lambda: packs_everything.allreduce_many(arrays), lambda: comm.allreduce_many(arrays)]
        times = interleaved_medians(comm, variants, repetitions, calls)
        rows.append((name, format_bytes(nbytes), *(f"{t * 1e3:.3f}" for t in times)))
    threshold = format_bytes(comm._fusion.threshold_bytes)
    return ("gradient lists (float32, sum)",
            ("arrays", "bytes", "one call per array ms", "all packed ms", f"allreduce_many (packs < {threshold}) ms"), rows)


def threshold_table(comm, repetitions):
    arrays = [np.ones(shape, np.float32) for shape in MIXED_SIZES]
    communicators = [MPICommunicator(fusion_threshold_bytes=threshold) for threshold in THRESHOLDS]
    times = interleaved_medians(comm, [lambda c=c: c.allreduce_many(arrays) for c in communicators], repetitions, 5)
    rows = []
    for threshold, seconds in zip(THRESHOLDS, times):
        label = "none packed" if threshold == 0 else "all packed" if threshold >= 1 << 62 else f"< {format_bytes(threshold)}"
        rows.append((label, f"{seconds * 1e3:.3f}"))
    total = format_bytes(sum(a.nbytes for a in arrays))
    return (f"allreduce_many of 20 arrays, 4 of each of 4 KB .. 1 MB ({total}): which arrays to pack",
            ("packed", "ms"), rows)


def print_table(title, header, rows):
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(cell).rjust(w) if i else str(cell).ljust(w) for i, (cell, w) in enumerate(zip(row, widths))))


def run_as_worker(repetitions):
    comm = get_communicator()
    tables = [size_table(comm, repetitions), fusion_table(comm, repetitions), threshold_table(comm, repetitions)]
    if comm.is_chief:
        for table in tables:
            print_table(*table)


def relaunch_under_mpiexec(arguments):
    mpiexec = find_mpiexec()
    if mpiexec is None:
        sys.exit("mpiexec not found: pip install -e '.[distributed]' installs the mpich wheel, which provides it")
    command = [mpiexec, "-n", "2", sys.executable, os.path.abspath(__file__), *arguments]
    print(" ".join(command), flush=True)
    sys.exit(subprocess.call(command))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    args = parser.parse_args()
    if launched_by_mpi():
        run_as_worker(7 if args.quick else 31)
    else:
        relaunch_under_mpiexec(sys.argv[1:])


if __name__ == "__main__":
    main()
