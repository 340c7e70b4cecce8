"""What a trace did that the compiled function will not do again: `f.trace_report()`.

While @function traces the user's Python, a TraceMonitor watches the user's own frames (not
tracejit's, the standard library's or installed packages'):

  sys.settrace, 'line' events    reads of global/closure numbers, arrays and eager tensors (they
                                 are baked into the graph as constants), writes of globals and of
                                 enclosing functions' variables
  sys.setprofile, 'c_call'       print(), next(), container mutations (list.append, dict.update,
                                 ...), Python/NumPy random draws
  the trace context              symbolic tensors created (leaked if still alive after the trace),
                                 Variables created while tracing

A mutated container is reported only if it outlives the trace (something outside still refers to
it: a global, a closure, an attribute), so a list a function builds for itself stays quiet.
The monitor runs only while tracing; calls of the compiled function pay nothing. When a debugger,
coverage tool or profiler already owns sys.settrace/setprofile, the monitor stays out of its way
and the report says so."""
import builtins
import collections
import gc
import hashlib
import os
import random
import sys
import sysconfig
import weakref

import numpy as np

from .. import config
from ..autograph.converter import converted_call, user_locals
from ..tensor import Tensor

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_LIBRARY_DIRS = tuple({sysconfig.get_paths()[k] + os.sep for k in ("stdlib", "platstdlib", "purelib", "platlib")})
_MUTATORS = {"append", "extend", "insert", "pop", "popleft", "appendleft", "remove", "clear", "update", "setdefault",
             "add", "discard", "sort", "reverse", "__setitem__", "__delitem__"}
_CONTAINERS = (list, dict, set, collections.deque, bytearray)
_RANDOM_SOURCES = (random.Random, np.random.RandomState, np.random.Generator)
_DATA = (bool, int, float, complex, np.generic, np.ndarray)
_LOADS = {"LOAD_GLOBAL": "global", "LOAD_DEREF": "closure", "LOAD_CLASSDEREF": "closure"}
_STORES = {"STORE_GLOBAL": "global_write", "STORE_DEREF": "nonlocal_write"}

SIDE_EFFECTS = ("print", "container_mutation", "global_write", "nonlocal_write", "next", "python_random")


class Finding:
    """One thing tracing did: `kind` (see TraceReport), `location` file:line, `message`, the
    `name` involved (variable, method, global), the `traces` (numbers) it happened in, and for
    baked values the value read (`value`, arrays by digest) and, if its source now holds
    something else, what (`changed`, filled in by trace_report())."""

    def __init__(self, kind, location, name, message, value=None, source=None):
        self.kind, self.location, self.name, self.message = kind, location, name, message
        self.value, self.changed, self.traces = value, None, []
        self._source = source               # where a baked value can be read again (_BakedSource)

    @property
    def key(self):
        return (self.kind, self.location, self.name)

    def __str__(self):
        changed = f" -- changed since tracing: now {self.changed}" if self.changed is not None else ""
        traces = f" (traces {', '.join(map(str, self.traces))})" if len(self.traces) > 1 else ""
        return f"{self.location}: {self.message}{changed}{traces}"

    def __repr__(self):
        return f"<Finding {self.kind} {self.location} {self.name}>"


class TraceReport(list):
    """The findings of every trace of a function (a list of Finding, in source order), grouped
    when printed."""
    TITLES = {"side_effect": "Python side effects that ran only while tracing", "baked_value":
              "Python values baked in as constants (changing them later does not retrace)",
              "leaked_tensor": "symbolic tensors leaked out of the trace",
              "variable_created": "Variables created while tracing"}

    def __init__(self, function_name, findings, notes=()):
        super().__init__(sorted(findings, key=_line_order))
        self.function_name, self.notes = function_name, list(notes)

    def of_kind(self, *kinds):
        return [f for f in self if f.kind in kinds]

    side_effects = property(lambda self: self.of_kind(*SIDE_EFFECTS))
    baked_values = property(lambda self: self.of_kind("baked_value"))
    leaked_tensors = property(lambda self: self.of_kind("leaked_tensor"))
    variables_created = property(lambda self: self.of_kind("variable_created"))

    def __str__(self):
        lines = [f"trace report for {self.function_name}: {len(self)} finding(s)"]
        groups = [("side_effect", self.side_effects), ("baked_value", self.baked_values),
                  ("leaked_tensor", self.leaked_tensors), ("variable_created", self.variables_created)]
        for key, findings in groups:
            if findings:
                lines.append(f"  {self.TITLES[key]}:")
                lines += [f"    {f}" for f in findings]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def __repr__(self):
        return f"<TraceReport {self.function_name}: {len(self)} finding(s)>"


def _line_order(finding):
    filename, _, line = finding.location.rpartition(":")
    return (filename, int(line) if line.isdigit() else 0)


def _location(frame):
    return f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"


def _is_user_code(code):
    filename = code.co_filename
    return not filename.startswith((_PACKAGE_DIR, "<frozen") + _LIBRARY_DIRS)


def _line_accesses(code):
    """{line: [(opname, name)]} of the global/closure loads and stores in a code object, closure
    accesses limited to free variables (cells of enclosing functions, not the frame's own, nor the
    locals of the function AutoGraph converted, which its generated blocks reach through cells). A
    name the code also writes is a counter or accumulator, reported as a write, not as a baked value."""
    import dis
    instructions = list(dis.get_instructions(code))
    written = {ins.argval for ins in instructions if ins.opname in _STORES}
    own = user_locals(code)
    lines = {}
    for ins in instructions:
        if ins.opname in _LOADS or ins.opname in _STORES:
            if ins.opname.endswith("DEREF") and (ins.argval not in code.co_freevars or ins.argval in own):
                continue
            if ins.opname in _LOADS and ins.argval in written:
                continue
            line = ins.positions.lineno if ins.positions else None
            lines.setdefault(line, []).append((ins.opname, ins.argval))
    return lines


def _is_data(value):
    """Numbers, bools, NumPy values and eager tensors: what a trace bakes in (Variables are inputs)."""
    return isinstance(value, _DATA) or (isinstance(value, Tensor) and value._symbol is None)


def _array_of(value):
    return value._value if isinstance(value, Tensor) else value


def _fingerprint(value):
    """What a baked value was, compactly: numbers as themselves, arrays by content digest."""
    value = _array_of(value)
    if isinstance(value, np.ndarray):
        return (value.dtype.str, value.shape, hashlib.blake2b(np.ascontiguousarray(value).tobytes(), digest_size=16)
                .hexdigest())
    return value


def _short(value):
    if isinstance(value, (np.ndarray, Tensor)):
        dtype = value.dtype.name if isinstance(value, Tensor) else value.dtype
        return f"<{type(value).__name__} {dtype}{list(value.shape)}>"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class _BakedSource:
    """Where a baked value can be read again: a module's globals dict or a closure cell."""

    def __init__(self, namespace=None, name=None, cell=None):
        self.namespace, self.name, self.cell = namespace, name, cell

    def read(self):
        if self.cell is not None:
            return self.cell.cell_contents
        return self.namespace[self.name]


class TraceMonitor:
    """Instruments one trace (a context manager around it); `findings()` once it is over."""

    def __init__(self, python_function, trace_number):
        self.trace_number = trace_number
        self.notes = []
        self._findings = {}                 # (kind, location, name) -> Finding
        self._mutated = {}                  # (id(container), method, location) -> container
        self._tensors = []                  # weakrefs of symbolic tensors the trace created
        self._user_code = {}                # code -> {line: accesses} for user code, None otherwise
        self._cells = _closure_cells(python_function)
        self._capture_bytes = config.max_constant_bytes()
        self.active = False

    # ---- installing and removing the hooks ----
    def __enter__(self):
        if sys.gettrace() is not None or sys.getprofile() is not None:
            self.notes.append("a debugger, coverage tool or profiler was active while tracing: Python side effects "
                              "and baked values were not watched")
            return self
        self.active = True
        sys.settrace(self._on_call)
        sys.setprofile(self._on_c_call)
        return self

    def __exit__(self, *exc):
        if self.active:
            sys.settrace(None)
            sys.setprofile(None)
            self.active = False
        return False

    # ---- hooks ----
    def _accesses(self, code):
        accesses = self._user_code.get(code, False)
        if accesses is False:
            accesses = self._user_code[code] = _line_accesses(code) if _is_user_code(code) else None
        return accesses

    def _on_call(self, frame, event, arg):
        accesses = self._accesses(frame.f_code)
        if not accesses:
            return None

        def on_line(frame, event, arg):
            if event == "line":
                for opname, name in accesses.get(frame.f_lineno, ()):
                    self._on_access(frame, opname, name)
            return on_line
        return on_line

    def _on_access(self, frame, opname, name):
        if opname in _STORES:
            self._on_store(_location(frame), _STORES[opname], name)
        elif ("baked_value", _location(frame), name) not in self._findings:
            self._on_load(frame, opname, name)

    def _on_store(self, location, kind, name):
        what = "global" if kind == "global_write" else "variable of an enclosing function"
        self._add(Finding(kind, location, name, f"{what} '{name}' written while tracing: the compiled function does "
                          "not write it again"))

    def _on_load(self, frame, opname, name):
        if opname == "LOAD_GLOBAL":
            if name not in frame.f_globals:
                return                      # a builtin
            value, source = frame.f_globals[name], _BakedSource(frame.f_globals, name)
        else:
            value = frame.f_locals.get(name)
            cell = self._cells.get(frame.f_code, {}).get(name)
            source = _BakedSource(cell=cell) if cell is not None else None
        if _is_data(value):
            self._add_baked(_LOADS[opname], _location(frame), name, value, source)

    def _add_baked(self, scope, location, name, value, source):
        nbytes = _array_of(value).nbytes if isinstance(value, (np.ndarray, Tensor)) else 0
        if nbytes > self._capture_bytes:
            how = (f"read by reference at every call ({nbytes} bytes, above config.max_constant_bytes): in-place "
                   "updates are seen, rebinding the name is not")
        else:
            how = "baked into the graph as a constant: changing it later does not retrace; pass it as an argument"
        self._add(Finding("baked_value", location, name, f"{scope} '{name}' = {_short(value)} {how}",
                          value=_fingerprint(value), source=source))

    def _on_c_call(self, frame, event, function):
        if event != "c_call":
            return
        if frame.f_code is converted_call.__code__:     # converted code calls builtins through converted_call
            frame = frame.f_back
        if self._accesses(frame.f_code) is None:        # not the user's code
            return
        if function is builtins.print:
            self._add(Finding("print", _location(frame), "print", "print() ran only while tracing: the compiled "
                              "function prints nothing (return the value and print it outside the function)"))
        elif function is builtins.next:
            self._add(Finding("next", _location(frame), "next", "next() on a Python iterator ran only while tracing: "
                              "the compiled function reuses the value it returned then; pass the item as an argument"))
        else:
            owner = getattr(function, "__self__", None)
            name = getattr(function, "__name__", "")
            if isinstance(owner, _CONTAINERS) and name in _MUTATORS:
                self._mutated.setdefault((id(owner), name, _location(frame)), owner)
            elif isinstance(owner, _RANDOM_SOURCES):
                self._add(Finding("python_random", _location(frame), name, f"{type(owner).__name__}.{name}() drew a "
                                  "random number once, while tracing; the compiled function reuses it: use tf.random"))

    # ---- the trace context's observer interface ----
    def on_tensor(self, tensor):
        self._tensors.append(weakref.ref(tensor))

    def on_variable_created(self, variable, location, allowed):
        if allowed:
            message = (f"Variable '{variable.name}' created while tracing: it is created once (on the first trace), "
                       "not on every call as in eager code; create it outside the function to make that explicit")
        else:
            message = (f"Variable '{variable.name}' created while retracing (trace #{self.trace_number}): only the "
                       "first trace may create Variables; create it outside the function")
        self._add(Finding("variable_created", location, variable.name, message))

    def _add(self, finding):
        self._findings.setdefault(finding.key, finding)

    # ---- after the trace ----
    def findings(self, after_error=False):
        """Everything found, once the trace's frames are gone: mutated containers that outlive the
        trace, symbolic tensors still alive (not after an error: its traceback holds them)."""
        self._check_containers()
        if not after_error:
            self._check_leaks()
        for finding in self._findings.values():
            finding.traces = [self.trace_number]
        return list(self._findings.values())

    def _check_containers(self):
        ours = collections.Counter(id(c) for c in self._mutated.values())
        for key in list(self._mutated):
            _, method, location = key
            container = self._mutated.pop(key)
            ours[id(container)] -= 1
            # references besides `container`, getrefcount's argument and our remaining entries: someone outside
            if sys.getrefcount(container) - 2 - ours[id(container)] > 0:
                kind = type(container).__name__
                self._add(Finding("container_mutation", location, f"{kind}.{method}",
                                  f"{kind}.{method}() on a {kind} that outlives the trace ran only while tracing: the "
                                  "compiled function does not do it again"))

    def _check_leaks(self):
        alive = [ref for ref in self._tensors if ref() is not None]
        if alive:
            gc.collect()                    # reference cycles (tapes, frames) are not leaks
            alive = [t for t in (ref() for ref in alive) if t is not None]
        for tensor in alive:
            value = tensor._symbol
            where = value.node.loc if value.node is not None else "?"
            self._add(Finding("leaked_tensor", where, repr(value), f"symbolic tensor {value!r} "
                              f"({tensor.dtype.name}{list(tensor.shape)}) created here is still referenced after "
                              "tracing (kept in a list, global or attribute?): using it outside the trace raises; "
                              "return it from the function instead"))
        self._tensors.clear()


def _closure_cells(fn):
    """{code: {free variable: cell}} of the traced function (unwrapping functools.partial)."""
    fn = getattr(fn, "func", fn)
    code = getattr(fn, "__code__", None)
    if code is None or not fn.__closure__:
        return {}
    return {code: dict(zip(code.co_freevars, fn.__closure__))}


def merge_findings(findings):
    """One Finding per (kind, location, name) over several traces: the latest, with every trace
    number it happened in."""
    merged = {}
    for finding in findings:
        earlier = merged.pop(finding.key, None)
        if earlier is not None:
            finding.traces = sorted(set(earlier.traces + finding.traces))
        merged[finding.key] = finding
    return list(merged.values())


def mark_changed_values(findings):
    """Fill in `changed` for baked values whose global/closure now holds something else."""
    for finding in findings:
        if finding.kind != "baked_value" or finding._source is None:
            continue
        try:
            now = finding._source.read()
        except (KeyError, ValueError):
            finding.changed = "(deleted)"
            continue
        finding.changed = None if _same(_fingerprint(now), finding.value) else _short(now)


def _same(a, b):
    try:
        return bool(a == b) and type(a) is type(b)
    except (TypeError, ValueError):
        return False
