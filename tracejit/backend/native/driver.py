"""The native executable of one concrete function: a generated straight-line Python driver that
puts the addresses of this call's arrays into the slot array P, runs host steps, calls the
native segments and returns the outputs.

Buffers: outputs and carries (a Variable's next value) come from pools reused when nobody else
holds the previous array (sys.getrefcount); after the call each carry becomes its Variable's
buffer and the Variable's previous buffer becomes the next carry (ping-pong). Variables written in
place get a private copy first when someone else holds their buffer (e.g. a tensor read earlier).
Intermediates live in one workspace allocated once. A steady-state call allocates nothing.

Calls are serialized by a lock: the workspace and the Variables' buffers are shared."""
import concurrent.futures
import ctypes
import os
import sys

import numpy as np

from ...errors import InvalidArgumentError
from .plan import CARRY, CONSTANT, HOST, INPUT, OUTPUT, VARIABLE, WORKSPACE

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
_pool = []


def _parallel(function, address):
    """Run a parallel segment: chunk 0 on this thread, the others on a pool (ctypes releases the GIL)."""
    if not _pool:
        _pool.append(concurrent.futures.ThreadPoolExecutor(_THREADS - 1, thread_name_prefix="tracejit-native"))
    others = [_pool[0].submit(function, address, chunk, _THREADS) for chunk in range(1, _THREADS)]
    status = function(address, 0, _THREADS)
    return status or max((f.result() for f in others), default=0)


class NativeExecutable:
    def __init__(self, plan, functions, extra_slots, workspace_bytes, lock, kernels):
        self.plan, self.functions, self.kernels = plan, functions, kernels
        self.memory = dict(plan.describe(), workspace_bytes=workspace_bytes)
        self._lock = lock
        n_slots = len(plan.slots) + len(extra_slots)
        self._slots = (ctypes.c_int64 * max(n_slots, 1))()
        self._address = ctypes.addressof(self._slots)
        self._workspace = np.zeros(max(workspace_bytes, 8), np.uint8)
        self._keep = []
        namespace = {"np": np, "P": self._slots, "_rc": sys.getrefcount, "_empty": np.empty,
                     "_contiguous": _contiguous, "_private": _private_buffer, "_host": _host, "_view": _view,
                     "_fail": self._fail, "_parallel": _parallel, "LOCK": lock}
        for index, (kind, value) in enumerate(extra_slots):
            slot = len(plan.slots) + index
            if kind == "workspace":
                self._slots[slot] = id(self._workspace)
            else:                                   # a raw address (BLAS entry point)
                self._slots[slot] = value
        self.driver_source = self._driver(namespace)
        exec(compile(self.driver_source, f"<tracejit driver {plan.graph.name}>", "exec"), namespace)
        self._run = namespace["run"]

    def __call__(self, arrays):
        return self._run(*arrays)

    def _fail(self, index, status):
        raise InvalidArgumentError(f"native code of {self.plan.graph.name} (segment {index}) failed with status {status}")

    # ---- the driver ----
    def _driver(self, ns):
        plan, g = self.plan, self.plan.graph
        args = [f"x{v.id}" for v in g.inputs]
        lines = [f"def run({', '.join(args)}):", "    with LOCK:"]
        emit = lambda text: lines.append("        " + text)  # noqa: E731
        local = {}                      # id(Base) -> the driver's name for its array
        private = {id(b) for b in plan.private}
        for base in plan.slots:
            name = f"r{base.index}"
            local[id(base)] = name
            if base.kind == INPUT:
                value = g.inputs[[b for b in plan.slots if b.kind == INPUT].index(base)]
                emit(f"{name} = _contiguous(x{value.id})")
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
            emit(f"P[{base.slot}] = id({name})")
        for step in plan.hoisted:
            self._host_step(step, emit, ns, local)
        for index, segment in enumerate(plan.segments):
            if isinstance(segment, list):
                ns[f"F{index}"] = self.functions[index]
                call = f"_parallel(F{index}, {self._address})" if index in plan.parallel else \
                    f"F{index}({self._address}, 0, 1)"
                emit(f"status = {call}")
                emit(f"if status: _fail({index}, status)")
            else:
                self._host_step(segment, emit, ns, local)
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
        ns[key] = (node.prim, node.params, dtypes if multiple else dtypes[0])
        arguments = [self._host_input(v, ns, local) for v in node.inputs]
        names = []
        for out in node.outputs:
            base = self.plan.storage[id(out)].base
            names.append(f"r{base.index}")
            local[id(base)] = names[-1]
        results = ("[" + ", ".join(names) + "]" if multiple else names[0]) if names else "_"
        emit(f"{results} = _host({key}{''.join(', ' + a for a in arguments)})")
        for out, name in zip(node.outputs, names):
            emit(f"P[{self.plan.storage[id(out)].base.slot}] = id({name})")

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
