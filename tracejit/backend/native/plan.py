"""The memory plan of a graph for native execution: where every value's elements live.

A value is stored as an affine map (offset, strides, in elements) over a *base*: a caller's
argument, a Variable's buffer, a constant, an output buffer, a carry buffer (a Variable's next
value, swapped in after the call), an array a host step produced, or a region of the workspace.
View primitives (reshape, transpose, broadcast, basic slicing) only change the map, so they
cost nothing. Uniform constants become literals in the code. Intermediates share one workspace,
allocated once, with regions reused once their last reader has run (liveness, first fit).

Nodes the native code cannot compute run on the host (their NumPy implementation) between
native segments; host steps whose inputs are all known before the first segment (random draws)
run before it, so they do not split the graph; effects are never moved, and stateful steps keep
their program order among themselves."""
import numpy as np

from ...ir.analysis import shape_size
from ...ir.primitives import ASSIGN, CONST, FUSED, uniform_element

ALIGNMENT = 64
# P's first slots, before the bases': the workspace array, the error cell, BLAS entry points (0: none),
# the cycle counters of a profiling build
RESERVED_SLOTS = ("workspace", "errors", "gemm_float32", "gemm_float64", "profile")
# Constants with all elements equal become literals in the loops that read them; a non-loop
# reader (e.g. GEMM) gets the array itself.
INPUT, VARIABLE, CONSTANT, OUTPUT, CARRY, HOST, WORKSPACE = (
    "input", "variable", "const", "output", "carry", "host", "workspace")


class Base:
    """A buffer native code reads or writes: an ndarray object passed in slot P[slot], or a
    region of the workspace at `offset` bytes."""

    def __init__(self, kind, dtype, shape, index):
        self.kind, self.dtype, self.shape, self.index = kind, dtype, tuple(shape), index
        self.slot = None            # P index (all kinds but WORKSPACE)
        self.offset = None          # bytes into the workspace (WORKSPACE)
        self.array = None           # the array itself (CONSTANT)
        self.variable = None        # VARIABLE and CARRY: the Variable
        self.name = f"b{index}"     # the pointer's name in the generated code

    @property
    def nbytes(self):
        return shape_size(self.shape) * self.dtype.np.itemsize

    def __repr__(self):
        return f"<{self.kind} {self.name} {self.dtype.name}{list(self.shape)}>"


class Storage:
    """How to reach a value's elements: base + offset + sum(index[d] * strides[d]), or a literal."""

    def __init__(self, base, shape, offset=0, strides=None, literal=None):
        self.base, self.shape, self.offset, self.literal = base, tuple(shape), offset, literal
        self.strides = tuple(strides) if strides is not None else c_strides(shape)

    @property
    def contiguous(self):
        return self.literal is None and self.offset == 0 and self.strides == c_strides(self.shape)

    def __repr__(self):
        if self.literal is not None:
            return f"literal({self.literal!r})"
        return f"{self.base.name}[{self.offset}; {self.strides}]"


def c_strides(shape):
    strides, step = [], 1
    for d in reversed(shape):
        strides.append(step)
        step *= d
    return tuple(reversed(strides))


def view_storage(node, source):
    """The Storage of a view primitive's result, computed by applying its NumPy implementation to
    a strided probe over a one-byte buffer; None when NumPy would copy (e.g. reshaping a transpose)."""
    if source.literal is not None:
        return Storage(None, node.outputs[0].shape, literal=source.literal)
    probe = _probe(source.shape, source.strides)
    others = [_probe(v.shape, (0,) * len(v.shape)) for v in node.inputs[1:]]     # e.g. broadcast_like's `like`
    result = node.prim.impl(probe, *others, **node.params)
    if not isinstance(result, np.ndarray) or (result.size and not np.shares_memory(result, probe)):
        return None
    shift = result.__array_interface__["data"][0] - probe.__array_interface__["data"][0]
    return Storage(source.base, result.shape, source.offset + shift, result.strides)


def _probe(shape, strides):
    """An array of `shape` with element strides `strides` over a single byte: views of it only
    move pointers, so their strides and offsets are those of the real view."""
    return np.lib.stride_tricks.as_strided(np.zeros(1, np.uint8), tuple(shape), tuple(strides))


class Plan:
    """Storage for every value of `graph`, the ordered steps (native segments and host nodes) and
    what must happen after the native code (copies into outputs and carries, buffer swaps)."""

    def __init__(self, graph, is_native, is_loop, is_parallel=lambda node: False):
        """is_native(node): native code can compute it; is_loop(node): it reads its inputs element
        by element in a loop (so a uniform constant can be a literal for it); is_parallel(node): a
        loop worth splitting across threads (it gets a segment of its own)."""
        self.graph = graph
        self.bases, self.storage = [], {}
        self.slots = []                      # Base per P index (objects); extra raw slots follow
        self.copies = []                     # (destination Base, source Value) done at the end
        self.outputs = []                    # Base per graph output position
        self.carries = []                    # (Variable, carry Base) swapped in after the call
        self.private = []                    # variable Bases written in place (copied if shared)
        self.host_steps = []                 # host nodes, in order
        self.hoisted = []                    # host nodes run before any native code
        self.segments = []                   # [[node, ...]] native code, with host steps between
        self.parallel = set()                # indices of segments run by several threads
        self.views = set()                   # view nodes the storage map expresses: no code
        self._is_native, self._is_loop, self._is_parallel = is_native, is_loop, is_parallel
        self._plan()

    # ---- bases ----
    def _base(self, kind, dtype, shape):
        base = Base(kind, dtype, shape, len(self.bases))
        self.bases.append(base)
        if kind != WORKSPACE:
            base.slot = len(RESERVED_SLOTS) + len(self.slots)
            self.slots.append(base)
        return base

    def add_constant(self, array, dtype):
        """A constant array native code reads (e.g. an index map a lowering rule computed)."""
        base = self._base(CONSTANT, dtype, array.shape)
        base.array = np.asarray(array, order="C")
        return base

    def _plan(self):
        g = self.graph
        for value in g.inputs:
            self.storage[id(value)] = Storage(self._base(INPUT, value.dtype, value.shape), value.shape)
        for value, variable in g.variables:
            base = self._base(VARIABLE, value.dtype, value.shape)
            base.variable = variable
            self.storage[id(value)] = Storage(base, value.shape)
        final_assign = {}
        for node in g.nodes:
            if node.prim is ASSIGN:
                final_assign[id(node.inputs[0])] = node
        in_place = {id(n.inputs[1]): n.inputs[0] for n in final_assign.values() if n.params.get("in_place")}
        carried = {id(n.inputs[1]): n.inputs[0] for n in final_assign.values() if not n.params.get("in_place")}
        returned = {id(v) for v in g.outputs}
        readers = {}
        for node in g.nodes:
            for v in node.inputs:
                readers.setdefault(id(v), []).append(node)
        self._order(g.nodes)
        for node in g.nodes:
            if node.prim is ASSIGN:
                continue
            if node.prim is CONST:
                self._constant(node, readers)
                continue
            steps = node.params["members"] if node.prim is FUSED else [node]
            if steps[0] in self._host_set:
                for out in (v for step in steps for v in step.outputs):
                    self.storage[id(out)] = Storage(self._base(HOST, out.dtype, out.shape), out.shape)
                continue
            if node.prim.view:
                storage = view_storage(node, self.storage[id(node.inputs[0])])
                if storage is not None:
                    self.storage[id(node.outputs[0])] = storage
                    self.views.add(node)
                    continue
            for out in node.outputs:
                self.storage[id(out)] = Storage(self._result_base(out, in_place, carried, returned), out.shape)
        self._finish(g, final_assign, in_place)
        self._allocate_workspace()

    def _order(self, nodes):
        """Split into native segments and host steps. Host nodes that need nothing computed by the
        function (random draws) run first, in program order, so they do not split the native code."""
        self._host_set, late = set(), set()         # late: values computed after the hoisted steps
        segment = []
        ordered_late = False        # an effect or stateful step stayed in place: later ones stay too
        for node in nodes:
            if node.prim in (ASSIGN, CONST):
                continue
            if self._is_native(node):
                late.update(id(v) for v in node.outputs)
                if self._is_parallel(node):
                    if segment:
                        self.segments.append(segment)
                        segment = []
                    self.parallel.add(len(self.segments))
                    self.segments.append([node])
                    continue
                segment.append(node)
                continue
            for step in node.params["members"] if node.prim is FUSED else [node]:   # host steps are single ops
                self._host_set.add(step)
                ordered = step.effect or step.prim.stateful       # keep program order among these
                if not step.effect and not (ordered and ordered_late) and not any(id(v) in late for v in step.inputs):
                    self.hoisted.append(step)
                    continue
                ordered_late = ordered_late or ordered
                late.update(id(v) for v in step.outputs)
                if segment:
                    self.segments.append(segment)
                    segment = []
                self.segments.append(step)          # a host step between native segments
                self.host_steps.append(step)
        if segment:
            self.segments.append(segment)

    def _constant(self, node, readers):
        out = node.outputs[0]
        array = node.params["value"]
        element = uniform_element(array) if out.dtype.kind != "s" else None
        literal = None if element is None else element[()]
        if literal is not None and not self._needs_memory(out, readers):
            self.storage[id(out)] = Storage(None, out.shape, literal=literal)
            return
        base = self._base(CONSTANT, out.dtype, out.shape)
        base.array = np.asarray(array, order="C")          # (ascontiguousarray would make 0-d arrays 1-d)
        self.storage[id(out)] = Storage(base, out.shape)

    def _needs_memory(self, value, readers):
        """Is `value` read by anything but loops (directly or through views), or returned?"""
        if any(v is value for v in self.graph.outputs):
            return True
        for reader in readers.get(id(value), ()):
            if reader.prim is ASSIGN or reader in self._host_set:
                return True
            if reader.prim.view:
                if self._needs_memory(reader.outputs[0], readers):
                    return True
            elif not self._is_loop(reader):
                return True
        return False

    def _result_base(self, value, in_place, carried, returned):
        if id(value) in in_place:
            base = self.storage[id(in_place[id(value)])].base
            self.private.append(base)
            return base
        if id(value) in carried:
            variable_value = carried.pop(id(value))
            base = self._base(CARRY, value.dtype, value.shape)
            base.variable = self.storage[id(variable_value)].base.variable
            self.carries.append((base.variable, base))
            return base
        if id(value) in returned:
            return self._base(OUTPUT, value.dtype, value.shape)
        return self._base(WORKSPACE, value.dtype, value.shape)

    def _finish(self, graph, final_assign, in_place):
        """Outputs and variables' next values that still need a copy: values that live in state,
        in a constant, in another output's or carry's buffer, or only as a view."""
        output_of = {}
        for value in graph.outputs:
            storage = self.storage[id(value)]
            base = storage.base
            owned = base is not None and base.kind in (OUTPUT, HOST) and storage.contiguous and \
                tuple(storage.shape) == base.shape and id(value) not in output_of
            if not owned:
                base = output_of.get(id(value)) or self._base(OUTPUT, value.dtype, value.shape)
                if id(value) not in output_of:
                    self.copies.append((base, value))
            output_of[id(value)] = base
            self.outputs.append(base)
        carried_variables = {id(v) for v, _ in self.carries}
        for variable_value, node in final_assign.items():
            value = node.inputs[1]
            variable_base = self.storage[id(node.inputs[0])].base
            variable = variable_base.variable
            if self.storage[id(value)].base is variable_base or id(variable) in carried_variables:
                continue                      # stored in place (or carried) already
            storage = self.storage[id(value)]
            if storage.base is not None and storage.base.kind == HOST and storage.contiguous and \
                    tuple(storage.shape) == storage.base.shape:
                self.carries.append((variable, storage.base))       # a fresh host array: swap it in as is
                continue
            base = self._base(CARRY, value.dtype, value.shape)
            base.variable = variable
            self.carries.append((variable, base))
            self.copies.append((base, value))

    # ---- workspace ----
    def _allocate_workspace(self):
        """First-fit allocation of WORKSPACE bases over the schedule, freeing a region after the last
        step that reads a value stored in it (views keep their base alive)."""
        steps = self.hoisted + [n for s in self.segments for n in (s if isinstance(s, list) else [s])]
        first, last = {}, {}
        for position, node in enumerate(steps):
            for value in node.outputs:
                base = self.storage[id(value)].base
                if base is not None:
                    first.setdefault(id(base), position)
                    last[id(base)] = max(last.get(id(base), position), position)
            for value in node.inputs:
                base = self.storage[id(value)].base
                if base is not None:
                    last[id(base)] = position
        end = len(steps)
        for _, value in self.copies:
            base = self.storage[id(value)].base
            if base is not None:
                last[id(base)] = end
        free, top = [], 0                     # free: [(offset, size)]
        events = sorted(((first[id(b)], b.index, b) for b in self.bases if b.kind == WORKSPACE and id(b) in first),
                        key=lambda event: event[:2])
        live = []
        self.intermediate_bytes = 0
        for position, _, base in events:
            for other in [b for b in live if last[id(b)] < position]:
                live.remove(other)
                free.append((other.offset, _aligned(other.nbytes)))
            size = _aligned(base.nbytes)
            self.intermediate_bytes += base.nbytes
            base.offset, free, top = _first_fit(free, size, top)
            live.append(base)
        self.workspace_bytes = top

    @property
    def native_copies(self):
        """Copies native code does at the end of the last native segment."""
        return [(b, v) for b, v in self.copies if not self._after_native(v)]

    @property
    def driver_copies(self):
        """Copies the driver does in Python: of values host steps produce after the native code, and
        of values native code cannot hold."""
        return [(b, v) for b, v in self.copies if self._after_native(v)]

    def _after_native(self, value):
        """Values host steps produce, and values native code cannot hold (strings, complex numbers)."""
        base = self.storage[id(value)].base
        return (base is not None and base.kind == HOST) or value.dtype.kind not in "fiub"

    def describe(self):
        return {"workspace_bytes": self.workspace_bytes, "intermediate_bytes": self.intermediate_bytes,
                "segments": sum(isinstance(s, list) for s in self.segments), "host_steps": len(self.host_steps),
                "hoisted": len(self.hoisted)}


def _aligned(size):
    return max(ALIGNMENT, -(-size // ALIGNMENT) * ALIGNMENT)


def _first_fit(free, size, top):
    """(offset, remaining free list, new top) for a block of `size` bytes."""
    free.sort()
    merged = []
    for offset, length in free:                 # coalesce neighbours
        if merged and merged[-1][0] + merged[-1][1] == offset:
            merged[-1] = (merged[-1][0], merged[-1][1] + length)
        else:
            merged.append((offset, length))
    for i, (offset, length) in enumerate(merged):
        if length >= size:
            rest = [(offset + size, length - size)] if length > size else []
            return offset, merged[:i] + rest + merged[i + 1:], top
    if merged and merged[-1][0] + merged[-1][1] == top:      # extend the last free block
        offset = merged[-1][0]
        return offset, merged[:-1], offset + size
    return top, merged, top + size
