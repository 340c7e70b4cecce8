"""The compiled executable: a straight-line Python driver (generated per graph) that calls
Numba kernels for fused groups, BLAS for matmul and each op's NumPy impl for everything else.

Buffers: every kernel/matmul result has a slot in a pool and is reused on the next call when
nothing else holds it (sys.getrefcount): results the caller kept, or that became a Variable's
value, are never overwritten. After an assign, the Variable's previous array goes back into the
pool (ping-pong), so a training step allocates nothing in steady state."""
import sys
import time

import numpy as np

from ... import config
from ...ir.analysis import shape_size
from ...ir.graph import ASSIGN, CONST, FUSED
from ...ops import REGISTRY
from . import cache, codegen

# A pooled buffer is free when only the pool, the local name and getrefcount's argument refer to it.
_FREE_REFCOUNT = 3


def _contiguous(array):
    return array if array.flags.c_contiguous else np.array(array, order="C")


def _fallback(step, *args):
    """A node without a kernel: its NumPy implementation. step = (primitive, params, NumPy dtype)."""
    result = step[0].apply(args, step[1], step[2])
    return result if result.flags.c_contiguous else np.array(result, order="C")


def _numba_type(kind, value, flat=False):
    import numba
    if kind == "scalar":
        return numba.typeof(value)
    np_dtype = np.dtype(np.uint16) if value.dtype.name == "float16" else value.dtype.np   # bit views
    rank = min(len(value.shape), 1) if flat else len(value.shape)
    return numba.types.Array(numba.from_dtype(np_dtype), rank, "C")


def _loop_size(node):
    return shape_size(node.params["members"][0].outputs[0].shape)


_MATMUL = REGISTRY["matmul"]


class CompiledExecutable:
    def __init__(self, graph, debug=None):
        self.graph = graph
        self.kernels = []
        self.fallbacks = []                 # fused nodes that run member by member (kernel failed to compile)
        self.compile_seconds = 0.0
        self._debug = debug
        self._namespace = {"np": np, "_rc": sys.getrefcount, "_empty": np.empty, "_fallback": _fallback,
                           "_contiguous": _contiguous, "_u16": np.uint16}
        # OpenMP workers (numba prange) and OpenBLAS workers both spin after their parallel regions; on
        # 2 cores they starve each other (measured: the conv training step 26.8 ms with parallel
        # kernels, 12.2 ms without). So graphs that call BLAS get serial kernels.
        self._allow_parallel = not any(n.prim is _MATMUL for n in graph.nodes)
        # values an in-place ASSIGN stores into its variable's buffer (passes/inplace.py) -> the variable input
        self._in_place = {id(n.inputs[1]): n.inputs[0] for n in graph.nodes
                          if n.prim is ASSIGN and n.params.get("in_place")}
        self._build(config.min_kernel_elements())
        self._countdown = config.tier_up_calls() if self._deferred else 0

    def _build(self, min_elements):
        self._min_elements, self._deferred = min_elements, False
        self.kernels, self.fallbacks, self._pool = [], [], []
        self.driver_source = self._generate()
        exec(compile(self.driver_source, f"<tracejit driver {self.graph.name}>", "exec"), self._namespace)
        self._run = self._namespace["run"]
        if config.debug_level(self._debug) >= 3:
            for k in self.kernels:
                config.debug_print(f"{k!r}\n{k.source}")
            config.debug_print(f"driver:\n{self.driver_source}")

    def __call__(self, arrays):
        if self._countdown:
            self._countdown -= 1
            if not self._countdown:
                self._tier_up()
        return self._run(*arrays)

    def _tier_up(self):
        """The function is hot: compile the small fused groups too (see config.tier_up_calls)."""
        if config.debug_level(self._debug) >= 1:
            config.debug_print(f"tier-up: {self.graph.name} is hot, compiling its small fused groups")
        self._build(0)

    # ---- code generation ----
    def _name(self, value):
        return f"x{value.id}"

    def _const(self, value, array):
        self._namespace[f"c{value.id}"] = array
        return f"c{value.id}"

    def _buffer(self, value, lines):
        """Lines that bind the value's name to a free pooled buffer of its shape and dtype."""
        slot = len(self._pool)
        self._pool.append(np.empty(value.shape, value.dtype.np))
        name = self._name(value)
        lines.append(f"    {name} = P[{slot}]")
        lines.append(f"    if _rc({name}) > {_FREE_REFCOUNT}:")
        lines.append(f"        {name} = P[{slot}] = _empty({name}.shape, {name}.dtype)")
        return slot

    def _generate(self):
        g = self.graph
        self._namespace["P"] = self._pool
        static = all(None not in v.shape for n in g.nodes for v in n.outputs)
        self._written_in_place = set()
        args = [self._name(v) for v in g.inputs]
        lines = [f"def run({', '.join(args)}):"]
        lines += [f"    {a} = _contiguous({a})" for a in args]
        for i, (value, variable) in enumerate(g.variables):
            self._namespace[f"V{i}"] = variable
            lines.append(f"    {self._name(value)} = V{i}._read_buffer()")
        slot_of = {}
        for n, node in enumerate(g.nodes):
            if node.prim is CONST:
                lines.append(f"    {self._name(node.outputs[0])} = {self._const(node.outputs[0], node.params['value'])}")
            elif node.prim is ASSIGN:
                self._assign_step(node, lines, slot_of)
            elif node.prim is FUSED and static and _loop_size(node) >= self._min_elements:
                if not self._kernel_step(node, lines, slot_of):
                    self._members_step(node, lines)
            elif node.prim is FUSED and static:
                self._deferred = True
                self._members_step(node, lines)
            elif node.prim is _MATMUL and static and node.outputs[0].dtype.is_floating:
                self._matmul_step(node, lines, slot_of)
            elif node.prim is FUSED:
                self._members_step(node, lines)
            else:
                self._fallback_step(node, lines)
        outputs = []
        for v in g.outputs:
            aliased = v.node is None or v.node.prim is CONST or id(v) in self._written_in_place
            outputs.append(f"np.array({self._name(v)})" if aliased else self._name(v))
        lines.append(f"    return [{', '.join(outputs)}]")
        return "\n".join(lines) + "\n"

    def _assign_step(self, node, lines, slot_of):
        target, value = node.inputs
        i = next(k for k, (v, _) in enumerate(self.graph.variables) if v is target)
        copy = value.node is None or value.node.prim is CONST
        source = f"np.array({self._name(value)})" if copy else self._name(value)
        if id(value) in self._written_in_place:   # the kernel stored into the buffer (or a private copy of it)
            lines.append(f"    V{i}._swap_buffer({source})")
            return
        lines.append(f"    _old = V{i}._swap_buffer({source})")
        if id(value) in slot_of:      # ping-pong: the old array becomes the pool buffer
            lines.append(f"    if _old.shape == {self._name(value)}.shape: P[{slot_of[id(value)]}] = _old")

    def _fallback_step(self, node, lines):
        key = f"f{len(self._namespace)}"
        out = node.outputs[0]
        self._namespace[key] = (node.prim, node.params, out.dtype.np)
        ins = ", ".join(self._name(v) for v in node.inputs)
        lines.append(f"    {self._name(out)} = _fallback({key}{', ' if ins else ''}{ins})")

    def _members_step(self, node, lines):
        for member in node.params["members"]:
            self._fallback_step(member, lines)

    def _matmul_step(self, node, lines, slot_of):
        a, b = node.inputs
        out = node.outputs[0]
        slot_of[id(out)] = self._buffer(out, lines)
        ta = ".swapaxes(-1, -2)" if node.params.get("transpose_a") else ""
        tb = ".swapaxes(-1, -2)" if node.params.get("transpose_b") else ""
        fn = "np.dot" if len(a.shape) == 2 and len(b.shape) == 2 else "np.matmul"
        lines.append(f"    {fn}({self._name(a)}{ta}, {self._name(b)}{tb}, out={self._name(out)})")

    def _kernel_arg(self, value, flat):
        """Kernels see float16 arrays as their uint16 bits (numba cannot load or store float16),
        and flat kernels see 1-D views."""
        name = self._name(value)
        if flat and len(value.shape) > 1:
            name = f"{name}.reshape(-1)"
        return f"{name}.view(_u16)" if value.dtype.name == "float16" else name

    def _kernel_step(self, node, lines, slot_of):
        # results written into a variable's buffer: the kernel overwrites the input holding the old value
        in_place = {}
        for j, out in enumerate(node.outputs):
            target = self._in_place.get(id(out))
            if target is not None:
                in_place[j] = next(k for k, v in enumerate(node.inputs) if v is target)
        try:
            module_text, info, plan = codegen.build(node, self._allow_parallel, in_place)
            start = time.perf_counter()
            module = cache.load(module_text)
            kernel = module.kernel
            signature = tuple(_numba_type(kind, v, info.flat) for kind, v in plan) + tuple(
                _numba_type("array", v, info.flat) for j, v in enumerate(node.outputs) if j not in in_place)
            if info.loop_shape is not None:       # reductions take the loop shape as a last argument
                import numba
                signature += (numba.types.UniTuple(numba.types.int64, len(info.loop_shape)),)
            kernel.compile(signature)
            self.compile_seconds += time.perf_counter() - start
        except Exception as error:          # an expression numba cannot type: run the members with NumPy
            if config.debug_level(self._debug) >= 1:
                config.debug_print(f"kernel for fused[{','.join(m.op for m in node.params['members'])}] fell back "
                                   f"to NumPy: {type(error).__name__}: {str(error).splitlines()[0][:200]}")
            self.fallbacks.append(node)
            return False
        key = f"K{len(self.kernels)}"
        self._namespace[key] = kernel
        self.kernels.append(info)
        for j, k in in_place.items():      # someone else holds the old value: overwrite a private copy
            old = self._name(node.inputs[k])
            lines.append(f"    if _rc({old}) > {_FREE_REFCOUNT}:")
            lines.append(f"        {old} = {old}.copy()")
        args = []
        for i, (kind, v) in enumerate(plan):
            if kind == "scalar":
                self._namespace[f"{key}_s{i}"] = v
                args.append(f"{key}_s{i}")
            else:
                args.append(self._kernel_arg(v, info.flat))
        for j, out in enumerate(node.outputs):
            if j not in in_place:
                slot_of[id(out)] = self._buffer(out, lines)
                args.append(self._kernel_arg(out, info.flat))
        if info.loop_shape is not None:
            self._namespace[f"{key}_shape"] = tuple(int(d) for d in info.loop_shape)
            args.append(f"{key}_shape")
        lines.append(f"    {key}({', '.join(args)})")
        for j, k in in_place.items():
            lines.append(f"    {self._name(node.outputs[j])} = {self._name(node.inputs[k])}")
            self._written_in_place.add(id(node.outputs[j]))
        return True
