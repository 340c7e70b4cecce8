"""`concrete.profile(n_calls)`: the measured time of every kernel of a concrete function's native
code, as a roofline table against this machine's measured peaks.

The profile runs a build of the same graph whose native code reads the CPU's cycle counter around
each node (so the numbers are of the real fused loops and BLAS calls, not of a model), times the
host steps in the driver, and compares their sum with the wall time of the calls. The function's
Variables are restored afterwards: profiling a training step does not train the model."""
import functools
import time

import numpy as np

from ..ir.primitives import FUSED


class KernelTime:
    """One row: a node of the native code (a fused loop, a BLAS call, ...) or a host step."""

    def __init__(self, members, shape, dtype, seconds, flops, nbytes, host=False):
        self.members, self.shape, self.dtype = members, tuple(shape), dtype
        self.seconds, self.flops, self.bytes, self.host = seconds, flops, nbytes, host

    @property
    def name(self):
        return ("host " if self.host else "") + (f"fused[{','.join(self.members)}]" if len(self.members) > 1
                                                 else self.members[0])

    @property
    def gflops(self):
        return self.flops / self.seconds / 1e9 if self.seconds > 0 else 0.0

    @property
    def gbytes(self):
        return self.bytes / self.seconds / 1e9 if self.seconds > 0 else 0.0

    @property
    def intensity(self):
        """Flops per byte moved: which roof bounds the kernel."""
        return self.flops / self.bytes if self.bytes else float("inf")

    def __repr__(self):
        return f"<KernelTime {self.name} {self.seconds * 1e6:.1f} us>"


class Profile:
    """Rows (KernelTime, slowest first), the wall time per call, and the machine's peaks."""

    def __init__(self, name, rows, call_seconds, peaks, calls):
        """call_seconds and each row's seconds: medians over the calls."""
        self.name, self.rows, self.call_seconds, self.peaks, self.calls = name, rows, call_seconds, peaks, calls

    @property
    def kernel_seconds(self):
        """The sum of the rows (native kernels and host steps) per call."""
        return sum(r.seconds for r in self.rows)

    def roofline_fraction(self, row):
        """Achieved speed / the roof at the row's arithmetic intensity (min of compute and memory)."""
        if row.seconds <= 0 or row.host:
            return None
        roof_gflops = min(self.peaks["gflops"], row.intensity * self.peaks["gbytes"])
        if row.flops == 0:
            return row.gbytes / self.peaks["gbytes"]
        return row.gflops / roof_gflops

    def __str__(self):
        peaks = self.peaks
        lines = [f"profile of {self.name}: {self.calls} calls, median {self.call_seconds * 1e6:.1f} us per call; "
                 f"kernels {self.kernel_seconds * 1e6:.1f} us "
                 f"({self.kernel_seconds / self.call_seconds:.0%} of the call; the rest is the driver)",
                 f"peaks measured here: {peaks['gflops']:.1f} GFLOP/s (sgemm), {peaks['gbytes']:.1f} GB/s (copy)",
                 f"  {'us/call':>9} {'%':>4} {'GFLOP/s':>8} {'GB/s':>6} {'flop/B':>6} {'roof':>5}  kernel"]
        for row in self.rows:
            fraction = self.roofline_fraction(row)
            lines.append(f"  {row.seconds * 1e6:9.1f} {row.seconds / self.call_seconds:4.0%} {row.gflops:8.2f} "
                         f"{row.gbytes:6.2f} {min(row.intensity, 999):6.2f} "
                         f"{'' if fraction is None else format(fraction, '.0%'):>5}  "
                         f"{row.name} {row.dtype}{list(row.shape)}")
        return "\n".join(lines)

    __repr__ = __str__


@functools.lru_cache(maxsize=None)
def machine_peaks():
    """{"gflops": float32 GEMM GFLOP/s, "gbytes": copy bandwidth GB/s (read + write)}, measured
    once per process with NumPy (the same BLAS native code calls) in ~0.3 s."""
    a = np.random.default_rng(0).random((1024, 1024), dtype=np.float32)
    out = np.empty_like(a)
    np.dot(a, a, out=out)
    gemm = min(_seconds(lambda: np.dot(a, a, out=out)) for _ in range(5))
    source = np.ones(1 << 24, np.float32)             # 64 MiB: far past the caches
    target = np.empty_like(source)
    np.copyto(target, source)
    copy = min(_seconds(lambda: np.copyto(target, source)) for _ in range(3))
    return {"gflops": 2 * 1024 ** 3 / gemm / 1e9, "gbytes": 2 * source.nbytes / copy / 1e9}


def _seconds(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _synthesized(specs):
    """Arguments for a signature: normal floats, zero integers (valid indices and labels), False."""
    rng = np.random.default_rng(0)
    arrays = []
    for spec in specs:
        if None in tuple(spec.shape):
            raise ValueError(f"profile: the signature has a dimension of unknown size ({spec}); pass args=")
        dtype = spec.dtype.np
        if spec.dtype.is_floating:
            arrays.append(rng.standard_normal(tuple(spec.shape)).astype(dtype))
        else:
            arrays.append(np.zeros(tuple(spec.shape), dtype))
    return arrays


def profile(concrete, n_calls=100, args=None):
    """Run `concrete`'s instrumented native code `n_calls` times (after one warm-up call) and
    return a Profile of median times per call. args: the call's tensors/arrays (default:
    synthesized from the signature)."""
    from ..backend import current_backend
    backend = current_backend()
    if not hasattr(backend, "profiling_executable"):
        raise NotImplementedError(f"profile needs the native backend (the current one is {backend.__name__})")
    if args is None:
        arrays = _synthesized(concrete._specs)
    else:
        arrays = [np.asarray(getattr(a, "_value", a)) for a in args]
        if len(arrays) != len(concrete._specs):
            raise TypeError(f"profile: {concrete.graph.name} takes {len(concrete._specs)} tensor arguments, "
                            f"got {len(arrays)}")
    arrays += concrete.captured_inputs
    executable = backend.profiling_executable(concrete.optimized_graph)
    host_nodes = [node for node, _ in executable.host_seconds]
    saved = [(v, v.numpy().copy()) for v in concrete.variables]
    walls, native, host = [], [], []
    try:
        executable.run(arrays)                                   # warm-up: pools, pages, caches
        for _ in range(n_calls):
            cycles_before, host_before = executable.cycle_counts.copy(), _host_vector(executable)
            start = time.perf_counter()
            executable.run(arrays)
            walls.append(time.perf_counter() - start)
            native.append(executable.cycle_counts - cycles_before)
            host.append(_host_vector(executable) - host_before)
    finally:
        for variable, value in saved:
            variable._write_buffer(value)
    # medians per call: a call that stalls (a descheduled BLAS thread on a busy machine) does not
    # stand for the kernel
    native_seconds = np.median(np.array(native), axis=0) / backend.cycles_per_second()
    host_seconds = np.median(np.array(host), axis=0) if host_nodes else []
    rows = []
    for (node, kernels), seconds in zip(executable.profile_entries, native_seconds):
        members = [m.op for m in node.params["members"]] if node.prim is FUSED else [node.op]
        rows.append(KernelTime(members, node.outputs[0].shape, node.outputs[0].dtype.name, float(seconds),
                               sum(k.flops for k in kernels), sum(k.bytes for k in kernels)))
    for node, seconds in zip(host_nodes, host_seconds):
        nbytes = sum(int(np.prod(v.shape)) * v.dtype.size for v in node.inputs + node.outputs)
        rows.append(KernelTime([node.op], node.outputs[0].shape, node.outputs[0].dtype.name, float(seconds),
                               0, nbytes, host=True))
    rows.sort(key=lambda r: -r.seconds)
    return Profile(concrete.graph.name, rows, float(np.median(walls)), machine_peaks(), n_calls)


def _host_vector(executable):
    return np.array([seconds for _, seconds in executable.host_seconds])
