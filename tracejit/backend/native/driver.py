"""The native executable of one concrete function: a generated straight-line Python driver that
puts the addresses of this call's arrays into the slot array P, runs host steps, calls the
native segments and returns the outputs.

Buffers: outputs and carries (a Variable's next value) come from pools reused when nobody else
holds the previous array (sys.getrefcount); after the call each carry becomes its Variable's
buffer and the Variable's previous buffer becomes the next carry (ping-pong). Variables written in
place get a private copy first when someone else holds their buffer (e.g. a tensor read earlier).
Intermediates live in one workspace allocated once. A steady-state call allocates nothing.

Calls are serialized by a lock: the workspace and the Variables' buffers are shared."""
import ctypes
import os
import sys
import threading
import time

import numpy as np

from ...errors import InvalidArgumentError
from .entry import NOT_CONTIGUOUS, builtin, set_globals
from .plan import CARRY, CONSTANT, HOST, INPUT, OUTPUT, RESERVED_SLOTS, VARIABLE, WORKSPACE

# A pooled array is free when only its pool, the driver's local name and getrefcount's argument hold it.
_FREE = 3


def _contiguous(array):
    return array if array.flags.c_contiguous else np.asarray(array, order="C")


def _private_buffer(variable, array):
    """Give `variable` a copy of its buffer to write into: someone else holds the current one."""
    copy = array.copy()
    variable._swap_buffer(copy)
    return copy


def _host(step, *arrays):
    """A node native code cannot compute, on its NumPy implementation; results are fresh and contiguous
    (a list of them for a primitive with multiple results)."""
    prim, params, dtype = step
    if prim.multiple_results:
        return [_fresh(result) for result in prim.apply(arrays, params, dtype)]
    return _fresh(prim.apply(arrays, params, dtype))


def _fresh(result):
    if not result.flags.c_contiguous or not result.flags.owndata:
        result = np.array(result, order="C")
    return result


def _view(array, offset, shape, strides):
    itemsize = array.itemsize
    flat = array.reshape(-1)[offset:] if array.size else array.reshape(-1)
    return np.lib.stride_tricks.as_strided(flat, shape, [s * itemsize for s in strides])


_THREADS = max(1, min(os.cpu_count() or 1, 8))


class _Workers:
    """Threads that each run one chunk of a parallel segment per call, handed over through two
    locks per thread: cheaper to start and to join than an executor's futures. One parallel
    segment uses them at a time; a second caller meanwhile runs its chunks itself."""

    def __init__(self, count):
        self.jobs, self.results = [None] * count, [0] * count
        self.start = [threading.Lock() for _ in range(count)]
        self.done = [threading.Lock() for _ in range(count)]
        self.busy = threading.Lock()
        for k in range(count):
            self.start[k].acquire()
            self.done[k].acquire()
            threading.Thread(target=self._serve, args=(k,), name=f"tracejit-native-{k + 1}", daemon=True).start()

    def _serve(self, k):
        while True:
            self.start[k].acquire()
            function, address, chunk, chunks = self.jobs[k]
            try:
                self.results[k] = function(address, chunk, chunks)
            finally:
                self.done[k].release()

    def run(self, function, address):
        chunks = len(self.jobs) + 1
        if not self.busy.acquire(blocking=False):
            return max(function(address, chunk, chunks) for chunk in range(chunks))
        try:
            for k in range(len(self.jobs)):
                self.jobs[k] = (function, address, k + 1, chunks)
                self.start[k].release()
            status = function(address, 0, chunks)
            for k in range(len(self.jobs)):
                self.done[k].acquire()
            return status or max(self.results)
        finally:
            self.busy.release()


_workers, _workers_lock = [], threading.Lock()


def _parallel(function, address):
    """Run a parallel segment: chunk 0 on this thread, the others on the workers (ctypes releases the GIL)."""
    if _THREADS == 1:
        return function(address, 0, 1)
    if not _workers:
        with _workers_lock:
            if not _workers:
                _workers.append(_Workers(_THREADS - 1))
    return _workers[0].run(function, address)


_DYNAMIC = (INPUT, VARIABLE, OUTPUT, CARRY)        # slots the driver sets on every call


def _host_bases(plan, node):
    """The bases a host step's results are stored in (zero or more: print, while_loop)."""
    return [plan.storage[id(out)].base for out in node.outputs]


def slot_arguments(plan, entries):
    """{index of an entry segment: [Base, ...]}: the slots the driver sets after the previous native
    call, which the entry receives as arguments and stores itself. Before a ctypes call the driver
    writes them into P. (The driver's order: per-call slots, hoisted host steps, then segments.)"""
    arguments, pending = {}, [b for b in plan.slots if b.kind in _DYNAMIC]
    pending += [base for node in plan.hoisted for base in _host_bases(plan, node)]
    for index, segment in enumerate(plan.segments):
        if isinstance(segment, list):
            if index in entries:
                arguments[index] = pending
            pending = []
        else:
            pending = pending + _host_bases(plan, segment)
    return arguments


class NativeExecutable:
    def __init__(self, plan, code, names, entries, workspace_bytes, lock, kernels, errors, profile_entries=None):
        """code: the loaded object code; names: {segment index: function name}; entries: indices of
        segments called through their builtin entry; errors: message templates of the native
        code's checks (status k means errors[k - 1]); profile_entries: of a profiling build, the
        (node, KernelInfos) whose cycles `cycle_counts` accumulates (host steps: `host_seconds`)."""
        from kernels.blas import gemm_address
        self.plan, self.kernels, self.code = plan, kernels, code
        self.memory = dict(plan.describe(), workspace_bytes=workspace_bytes)
        self._lock = lock
        self._errors = errors
        self._error_cell = np.zeros(1, np.int64)          # the offending value of a failed check
        self._slots = (ctypes.c_int64 * (len(RESERVED_SLOTS) + len(plan.slots)))()
        self._address = ctypes.addressof(self._slots)
        if entries:
            set_globals(code, self._address)
        self.functions = {index: builtin(code, name) if index in entries else code.function(name)
                          for index, name in names.items()}
        self._entries = entries
        self._arguments = slot_arguments(plan, entries)
        self._workspace = np.zeros(max(workspace_bytes, 8), np.uint8)
        self._keep = []
        self.profile_entries = profile_entries
        self.cycle_counts = np.zeros(max(len(profile_entries or ()), 1), np.int64)
        self._host_nodes, self._host_time = {}, {}      # id(host step) -> its node; -> seconds (profiling)
        host = _host if profile_entries is None else self._timed_host
        namespace = {"np": np, "P": self._slots, "_rc": sys.getrefcount, "_empty": np.empty,
                     "_contiguous": _contiguous, "_private": _private_buffer, "_host": host, "_view": _view,
                     "_fail": self._fail, "_parallel": _parallel, "LOCK": lock,
                     "_code": code}        # ctypes functions do not keep their code alive
        reserved = {"workspace": id(self._workspace), "errors": id(self._error_cell),
                    "gemm_float32": gemm_address("float32") or 0, "gemm_float64": gemm_address("float64") or 0,
                    "profile": id(self.cycle_counts)}
        for index, name in enumerate(RESERVED_SLOTS):
            self._slots[index] = reserved[name]
        self.driver_source = self._driver(namespace)
        exec(compile(self.driver_source, f"<tracejit driver {plan.graph.name}>", "exec"), namespace)
        self.run = namespace["run"]             # run(list of input arrays) -> list of output arrays

    def __call__(self, arrays):
        return self.run(arrays)

    def _timed_host(self, step, *arrays):
        start = time.perf_counter()
        try:
            return _host(step, *arrays)
        finally:
            self._host_time[id(step)] = self._host_time.get(id(step), 0.0) + time.perf_counter() - start

    @property
    def host_seconds(self):
        """Of a profiling build: [(host step node, seconds summed over the calls)]."""
        return [(node, self._host_time.get(key, 0.0)) for key, node in self._host_nodes.items()]

    def _fail(self, index, status):
        """A check in native code failed (e.g. an index out of range): the same error eager execution raises."""
        if 0 < status <= len(self._errors):
            raise InvalidArgumentError(self._errors[status - 1].format(value=int(self._error_cell[0])))
        raise InvalidArgumentError(f"native code of {self.plan.graph.name} (segment {index}) failed with status {status}")

    # ---- the driver ----
    def _driver(self, ns):
        plan, g = self.plan, self.plan.graph
        lines = ["def run(arrays):", "    with LOCK:"]
        emit = lambda text: lines.append("        " + text)  # noqa: E731
        local = {}                      # id(Base) -> the driver's name for its array
        private = {id(b) for b in plan.private}
        pending = []                    # Bases set since the last native call, not yet in P
        # the first native call checks that the inputs are C-contiguous (cheaper than asking NumPy)
        inputs_checked = bool(plan.segments) and 0 in self._entries and not plan.hoisted
        for base in plan.slots:
            name = f"r{base.index}"
            local[id(base)] = name
            if base.kind == INPUT:
                position = [b for b in plan.slots if b.kind == INPUT].index(base)
                emit(f"{name} = arrays[{position}]")
                if not inputs_checked:
                    emit(f"if not {name}.flags.c_contiguous: {name} = _contiguous({name})")
            elif base.kind == VARIABLE:
                ns[f"V{base.index}"] = base.variable
                emit(f"{name} = V{base.index}._read_buffer()")
                if id(base) in private:
                    emit(f"if _rc({name}) > {_FREE}: {name} = _private(V{base.index}, {name})")
            elif base.kind == CONSTANT:
                self._keep.append(base.array)
                self._slots[base.slot] = id(base.array)
                continue
            elif base.kind in (OUTPUT, CARRY):
                ns[f"Q{base.index}"] = [np.empty(base.shape, base.dtype.np)]
                ns[f"S{base.index}"], ns[f"T{base.index}"] = base.shape, base.dtype.np
                emit(f"{name} = Q{base.index}[0]")
                emit(f"if _rc({name}) > {_FREE}: {name} = Q{base.index}[0] = _empty(S{base.index}, T{base.index})")
            else:                       # HOST: set when the host step runs
                continue
            pending.append(base)
        for step in plan.hoisted:
            pending += self._host_step(step, emit, ns, local)
        for index, segment in enumerate(plan.segments):
            if isinstance(segment, list):
                ns[f"F{index}"] = self.functions[index]
                if index in self._entries:
                    assert pending == self._arguments[index], "driver and entry disagree on arguments"
                    call = f"F{index}({''.join(local[id(b)] + ', ' for b in pending)})"
                else:
                    for base in pending:
                        emit(f"P[{base.slot}] = id({local[id(base)]})")
                    call = f"_parallel(F{index}, {self._address})" if index in plan.parallel else \
                        f"F{index}({self._address}, 0, 1)"
                pending = []
                emit(f"status = {call}")
                if index == 0 and inputs_checked:
                    emit(f"if status == {NOT_CONTIGUOUS}: return run([_contiguous(a) for a in arrays])")
                emit(f"if status: _fail({index}, status)")
            else:
                pending += self._host_step(segment, emit, ns, local)
        for base, value in plan.driver_copies:
            emit(f"np.copyto({local[id(base)]}, {self._host_input(value, ns, local)})")
        for variable, base in plan.carries:
            ns[f"W{base.index}"] = variable
            emit(f"old = W{base.index}._swap_buffer({local[id(base)]})")
            if base.kind == CARRY:      # the previous buffer is the next carry (a host result is fresh each call)
                emit(f"if old.shape == S{base.index} and old.dtype == T{base.index}: Q{base.index}[0] = old")
        outputs = [local[id(b)] for b in plan.outputs]
        emit(f"return [{', '.join(outputs)}]")
        return "\n".join(lines) + "\n"

    def _host_step(self, node, emit, ns, local):
        key = f"H{len(ns)}"
        multiple = node.prim.multiple_results
        dtypes = [v.dtype.np for v in node.outputs]
        ns[key] = step = (node.prim, node.params, dtypes if multiple else dtypes[0])
        self._host_nodes[id(step)] = node
        arguments = [self._host_input(v, ns, local) for v in node.inputs]
        bases = _host_bases(self.plan, node)
        names = []
        for base in bases:
            names.append(f"r{base.index}")
            local[id(base)] = names[-1]
        results = ("[" + ", ".join(names) + "]" if multiple else names[0]) if names else "_"
        emit(f"{results} = _host({key}{''.join(', ' + a for a in arguments)})")
        return bases

    def _host_input(self, value, ns, local):
        """Driver text for a host step's input array: the base's array, viewed through the value's map."""
        storage = self.plan.storage[id(value)]
        if storage.literal is not None:
            key = f"L{len(ns)}"
            ns[key] = np.full(value.shape, storage.literal, value.dtype.np)
            return key
        base = storage.base
        if base.kind == WORKSPACE:
            key = f"WS{base.index}"
            if key not in ns:
                ns[key] = np.ndarray(base.shape, base.dtype.np, buffer=self._workspace, offset=base.offset)
            array = key
        elif base.kind == CONSTANT:
            key = f"C{base.index}"
            ns[key] = base.array
            array = key
        else:
            array = local[id(base)]
        if storage.contiguous and tuple(storage.shape) == tuple(base.shape):
            return array
        return f"_view({array}, {storage.offset}, {tuple(storage.shape)}, {tuple(storage.strides)})"
