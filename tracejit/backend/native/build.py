"""Lowering an optimized graph to native code: the memory plan, one LLVM function per native
segment (the whole graph when every node lowers) in one module, the cache lookup, compilation
and loading."""
import time

from ...ir.analysis import is_static, shape_size
from ...ir.primitives import FUSED
from ...ops import REGISTRY
from ...primitive import STRUCTURE
from . import cache
from .emit import PARALLEL_MIN_ELEMENTS, SegmentEmitter
from .driver import NativeExecutable, slot_arguments
from .entry import ENTRY_MAX_WORK, add_entry
from .lowering import LOWERINGS, Elementwise
from .plan import INPUT, RESERVED_SLOTS, Plan
from . import rules  # noqa: F401  (registers the non-elementwise lowerings)

_MATMUL = REGISTRY["matmul"]
_SUPPORTED = {"float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"}


class NotLowerable(Exception):
    """Why a graph cannot run as native code at all (it then runs on the interpreter)."""


def is_loop(node):
    """Does native code compute `node` element by element in a loop?"""
    if node.prim is FUSED or node.prim.monoid is not None:
        return True
    rule = LOWERINGS.get(node.prim)
    return isinstance(rule, Elementwise) and rule.accepts(node)


def is_native(node):
    if any(v.dtype.name not in _SUPPORTED for v in node.inputs + node.outputs):
        return False
    if node.prim is FUSED or node.prim.view or is_loop(node):
        return True
    rule = LOWERINGS.get(node.prim)
    return rule is not None and node.prim.kind != STRUCTURE and rule.accepts(node)


def blocking_nodes(graph, on_host=()):
    """Nodes that run on the host between native segments (for debug output and tests)."""
    return [n for n in graph.nodes if n.prim.kind != STRUCTURE and (not is_native(n) or id(n) in on_host)]


def _parallel_predicate(graph):
    """Large elementwise loops run on all cores, in graphs without BLAS calls: OpenMP-style worker
    threads and OpenBLAS's own threads starve each other on 2 cores (see README)."""
    if any(n.prim is _MATMUL for n in graph.nodes):
        return lambda node: False

    def parallel(node):
        members = node.params["members"] if node.prim is FUSED else [node]
        return is_loop(node) and members[-1].prim.monoid is None and \
            shape_size(node.outputs[0].shape) >= PARALLEL_MIN_ELEMENTS
    return parallel


class Lowered:
    """A graph's native form short of compiled code: the plan and the LLVM IR of every segment.
    `load_cached()` finds the object code in the cache; `compile()` builds and caches it."""

    def __init__(self, graph, on_host=(), profile=False):
        """on_host: ids of nodes that must run on the host even though they lower. profile: count
        each node's cycles (see SegmentEmitter); `profile_entries` then lists (node, KernelInfos)."""
        if not all(is_static(v.shape) for v in _values(graph)):
            raise NotLowerable("the graph has dimensions of unknown size (native code needs static shapes)")
        from llvmlite import ir
        from kernels.blas import array_layout_ok
        if not array_layout_ok():
            raise NotLowerable("this NumPy's array objects keep their data pointer or flags elsewhere than "
                               "native code reads them")
        self.graph = graph
        native = (lambda n: id(n) not in on_host and is_native(n)) if on_host else is_native
        self.plan = Plan(graph, native, is_loop, _parallel_predicate(graph))
        slots = {name: index for index, name in enumerate(RESERVED_SLOTS)}
        native_segments = [i for i, s in enumerate(self.plan.segments) if isinstance(s, list)]
        if not native_segments:
            raise NotLowerable("no node of the graph runs natively")
        module = ir.Module(name=graph.name)
        self.names, self.kernels, self.errors, scratch, functions = {}, [], [], 0, {}
        self.profile_entries = [] if profile else None
        for index in native_segments:
            name = f"segment_{index}"
            emitter = SegmentEmitter(module, self.plan, self.plan.segments[index], name, slots,
                                     self.plan.workspace_bytes, self.errors, parallel=index in self.plan.parallel,
                                     profile=self.profile_entries)
            emitter.build(final_copies=self.plan.native_copies if index == native_segments[-1] else ())
            scratch = max(scratch, emitter.scratch_needed)
            self.kernels += emitter.kernels
            self.names[index], functions[index] = name, emitter.fn.function
        # short segments are called as Python builtins (see entry.py); long ones through ctypes
        self.entries = {i for i in native_segments if i not in self.plan.parallel and sum(
            k.flops + k.bytes for k in self.kernels if k.segment == self.names[i]) <= ENTRY_MAX_WORK}
        for index, bases in slot_arguments(self.plan, self.entries).items():
            add_entry(module, functions[index], [base.slot for base in bases], [base.kind == INPUT for base in bases])
        self.ir = str(module)
        self.key = cache.source_key(self.ir)
        self.workspace_bytes = self.plan.workspace_bytes + scratch
        self.compile_seconds = 0.0

    def load_cached(self):
        """The object code from the cache, loaded (compile.LoadedCode), or None."""
        from .compile import LoadedCode
        entry = cache.lookup(self.key)
        return None if entry is None else LoadedCode(entry[0])

    def compile(self):
        from .compile import LoadedCode, compile_ir
        start = time.perf_counter()
        data = compile_ir(self.ir)
        self.compile_seconds = time.perf_counter() - start
        cache.store(self.key, data, {"graph": self.graph.name, "functions": list(self.names.values()),
                                     "compile_seconds": self.compile_seconds})
        return LoadedCode(data)

    def executable(self, code, lock):
        return NativeExecutable(self.plan, code, self.names, self.entries, self.workspace_bytes, lock,
                                self.kernels, self.errors, self.profile_entries)


def _values(graph):
    yield from graph.inputs
    for v, _ in graph.variables:
        yield v
    for node in graph.nodes:
        yield from node.outputs
