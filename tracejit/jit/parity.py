"""Eager vs compiled parity, and on a mismatch, which pass (and which fused group) caused it.

check_parity runs one call of a @function both ways from the same Variable values: the Python
function eagerly (the reference semantics) and the compiled graph. It compares every output and
every Variable's value afterwards within per-dtype tolerances. On a mismatch it bisects:

  1. recompile with one pass disabled at a time: a pass whose absence fixes it is named;
  2. if no single pass is to blame, disable them all: still wrong means the backend (or, if the
     NumPy interpreter is wrong too, the trace itself: see f.trace_report());
  3. when fusion or the backend is to blame, split the fused groups back into their ops one at a
     time: the group whose splitting fixes it is named (its kernel computes the wrong thing).

Variables are restored to their values before the check, so it changes no state."""
import numpy as np

from .. import config, nest
from ..backend import current_backend
from ..ir.primitives import FUSED
from ..ops.core import convert_to_tensor
from ..passes import PASSES, PIPELINE, FusedGroup, optimize
from ..tensor import Tensor
from ..variables import Variable

# (rtol, atol) per float dtype name; other dtypes must match exactly
TOLERANCES = {"float16": (1e-2, 1e-3), "float32": (1e-5, 1e-6), "float64": (1e-12, 1e-14)}


class ParityError(AssertionError):
    """Compiled and eager results differ; `report` is the ParityReport."""

    def __init__(self, report):
        super().__init__(str(report))
        self.report = report


class Mismatch:
    """One output or Variable whose compiled value differs from the eager one."""

    def __init__(self, what, expected, actual, rtol, atol):
        self.what, self.rtol, self.atol = what, rtol, atol
        self.expected_shape, self.actual_shape = expected.shape, actual.shape
        self.dtype = expected.dtype.name
        self.max_abs_error = self.worst_index = self.expected_value = self.actual_value = None
        numeric = expected.dtype.kind in "biuf"
        if numeric and expected.shape == actual.shape and expected.dtype == actual.dtype and expected.size:
            error = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
            error = np.where(np.isnan(error) & (np.isnan(actual) == np.isnan(expected)), 0.0, error)
            self.worst_index = tuple(int(i) for i in np.unravel_index(np.argmax(error), error.shape))
            self.max_abs_error = float(error[self.worst_index])
            self.expected_value = expected[self.worst_index].item()
            self.actual_value = actual[self.worst_index].item()

    def __str__(self):
        if self.worst_index is None:
            return (f"{self.what}: eager gives {self.dtype}{list(self.expected_shape)}, compiled "
                    f"{list(self.actual_shape)} with other values, shape or dtype")
        return (f"{self.what} ({self.dtype}{list(self.expected_shape)}): max abs error {self.max_abs_error:.3g} at "
                f"{list(self.worst_index)}: eager {self.expected_value!r}, compiled {self.actual_value!r} "
                f"(rtol={self.rtol}, atol={self.atol})")

    __repr__ = __str__


class ParityReport:
    """ok; mismatches; and after a bisection: culprit ("pass <name>", "backend", "trace" or
    None), culprit_passes (each pass whose removal alone fixes it), culprit_group (FusedGroup),
    culprit_records (the PassRecords of the culprit pass's runs that changed something) and
    steps [(what was tried, ok)]."""

    def __init__(self, function_name, mismatches):
        self.function_name, self.mismatches = function_name, mismatches
        self.culprit = self.culprit_group = None
        self.culprit_passes, self.culprit_records, self.steps = [], [], []

    @property
    def ok(self):
        return not self.mismatches

    def __bool__(self):
        return self.ok

    def __str__(self):
        if self.ok:
            return f"{self.function_name}: compiled results match eager execution"
        lines = [f"{self.function_name}: compiled results differ from eager execution"]
        lines += [f"  {m}" for m in self.mismatches]
        lines += [f"  {'fixed' if ok else 'still wrong'} {what}" for what, ok in self.steps]
        if self.culprit:
            lines.append(f"  culprit: {self.culprit}")
        if self.culprit_group is not None:
            lines.append(f"  fused group: {self.culprit_group}")
        if self.culprit_records:
            lines.append("  what that pass changed:")
            lines += ["    " + c for record in self.culprit_records for c in record.changes]
        return "\n".join(lines)

    __repr__ = __str__


def check_parity(function, args, kwargs, tolerances=None, bisect=True):
    """Compare one call of `function` (a tracejit Function) eager vs compiled; a ParityReport."""
    tolerances = {**TOLERANCES, **(tolerances or {})}
    concrete, arrays, _ = function._lookup(args, kwargs, record_call=False)
    _refuse_random(concrete.graph)
    state = _VariableState(concrete.variables)
    try:
        expected = _run_eagerly(function.python_function, args, kwargs, state)
        report = ParityReport(function._name, _compare(expected, _run(concrete, arrays, state), tolerances))
        if not report.ok and bisect:
            _Bisection(concrete, arrays, expected, state, tolerances, report).run()
    finally:
        state.restore()
    return report


def _refuse_random(graph):
    for node in graph.nodes:
        if node.prim.stateful:
            raise ValueError(f"check_parity cannot compare a function that draws random numbers ({node.op} at "
                             f"{node.loc}): eager and compiled runs draw different values")


class _VariableState:
    """The Variables' values before the check, put back before every run and at the end."""

    def __init__(self, variables):
        self.saved = [(v, np.array(v._read_buffer(), copy=True)) for v in variables]

    def restore(self):
        for variable, array in self.saved:
            variable._write_buffer(array)

    def read(self):
        return [(f"variable '{v.name}'", np.array(v._read_buffer())) for v, _ in self.saved]


def _results(structure, state):
    """[(what, ndarray)] of a call's outputs followed by the Variables' values after it."""
    leaves = [v for v in nest.flatten(structure) if v is not None]
    arrays = []
    for i, leaf in enumerate(leaves):
        if isinstance(leaf, Variable):
            leaf = leaf.read_value()
        tensor = leaf if isinstance(leaf, Tensor) else convert_to_tensor(leaf)
        arrays.append((f"output {i}", np.asarray(tensor._value)))
    return arrays + state.read()


def _run_eagerly(python_function, args, kwargs, state):
    state.restore()
    previous = config.functions_run_eagerly()
    config.run_functions_eagerly(True)          # nested @functions run eagerly too
    try:
        return _results(python_function(*args, **kwargs), state)
    finally:
        config.run_functions_eagerly(previous)


def _run(concrete, arrays, state):
    state.restore()
    return _results(concrete._call_flat(list(arrays)), state)


def _compare(expected, actual, tolerances):
    if len(expected) != len(actual):
        raise AssertionError(f"eager gave {len(expected)} results, compiled {len(actual)}")
    mismatches = []
    for (what, e), (_, a) in zip(expected, actual):
        rtol, atol = tolerances.get(e.dtype.name, (0.0, 0.0))
        if not (e.shape == a.shape and e.dtype == a.dtype and _close(e, a, rtol, atol)):
            mismatches.append(Mismatch(what, e, a, rtol, atol))
    return mismatches


def _close(expected, actual, rtol, atol):
    if expected.dtype.kind == "f":
        return np.allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True)
    return np.array_equal(actual, expected)         # integers, bools, strings: exactly


class _Bisection:
    """Recompiles the same trace with passes disabled or fused groups split, and finds which
    change makes the compiled results match eager ones again."""

    def __init__(self, concrete, arrays, expected, state, tolerances, report):
        self.concrete, self.arrays, self.expected = concrete, arrays, expected
        self.state, self.tolerances, self.report = state, tolerances, report

    def run(self):
        report = self.report
        for name in dict.fromkeys(PIPELINE):
            if self._fixed(f"with pass '{name}' disabled", disabled={name}):
                report.culprit_passes.append(name)
        if report.culprit_passes:
            name = report.culprit_passes[0]
            report.culprit = f"pass '{name}'"
            report.culprit_records = [r for r in self.concrete.passes if r.name == name and r.changes]
        elif self._fixed("with every pass disabled", disabled=set(PASSES)):
            report.culprit = "a combination of passes (no single pass, but all of them together)"
        elif self._fixed("on the NumPy interpreter, every pass disabled", disabled=set(PASSES), backend="numpy"):
            report.culprit = "backend (the unoptimized graph is wrong only when compiled)"
        else:
            report.culprit = "trace (the traced graph differs from eager execution: see f.trace_report())"
        if report.culprit_passes[:1] == ["fuse"]:
            report.culprit_group = self._guilty_group()
        elif report.culprit.startswith("backend"):
            report.culprit_group = self._wrongly_compiled_group()

    def _fixed(self, what, disabled=(), backend=None, split_group=None, host_group=None):
        variant = self._variant(disabled, backend, split_group, host_group)
        ok = not _compare(self.expected, _run(variant, self.arrays, self.state), self.tolerances)
        self.report.steps.append((what, ok))
        return ok

    def _variant(self, disabled, backend_name, split_group, host_group):
        backend = current_backend() if backend_name is None else _backend_module(backend_name)
        graph, _ = optimize(self.concrete.graph, can_lower=backend.can_lower, disabled=disabled)
        if split_group is not None:
            _split(graph, split_group)
        on_host = [] if host_group is None else [[n for n in graph.nodes if n.prim is FUSED][host_group]]
        return self.concrete._variant(graph, backend.executable(graph, on_host=on_host))

    def _wrongly_compiled_group(self):
        """The fused group whose native code is wrong: running it on NumPy fixes the results."""
        graph, _ = optimize(self.concrete.graph, can_lower=current_backend().can_lower)
        groups = [FusedGroup(n) for n in graph.nodes if n.prim is FUSED]
        for index, group in enumerate(groups):
            if self._fixed(f"with {group.name} -> {', '.join(group.outputs)} on NumPy", host_group=index):
                return group
        return None

    def _guilty_group(self):
        graph, _ = optimize(self.concrete.graph, can_lower=current_backend().can_lower)
        groups = [FusedGroup(n) for n in graph.nodes if n.prim is FUSED]
        for index, group in enumerate(groups):
            if self._fixed(f"with {group.name} -> {', '.join(group.outputs)} split into its ops", split_group=index):
                return group
        return None


def _split(graph, index):
    """Replace the index-th FUSED node by its member nodes (their outputs are the same Values)."""
    node = [n for n in graph.nodes if n.prim is FUSED][index]
    position = graph.nodes.index(node)
    graph.nodes[position:position + 1] = node.params["members"]


def _backend_module(name):
    import importlib
    from ..backend import BACKENDS
    return importlib.import_module(BACKENDS[name])       # like backend.current_backend, by name
