"""The structure the design promises (docs/architecture.md): import layering without cycles, one
dispatch point per thread, primitives whose traits drive the passes, and an op that is added by
one declaration plus one lowering entry."""
import ast
import os
import threading

import numpy as np
import pytest

import tracejit as tf
from tracejit import dtypes as dt
from tracejit.backend.native.lowering import LOWERINGS, Elementwise
from tracejit.ops.core import REGISTRY, op
from tracejit.primitive import ELEMENTWISE
from conftest import assert_close

ROOT = os.path.join(os.path.dirname(__file__), "..")
OUTER = ("tracejit.compat", "tracejit.keras", "tracejit.data", "tracejit.train", "tracejit.distribute",
         "tracejit.saved_model")


def _modules():
    package = os.path.join(ROOT, "tracejit")
    found = {}
    for directory, _, files in os.walk(package):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                module = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                found[module[: -len(".__init__")] if module.endswith(".__init__") else module] = path
    return found


def _imports(module, path, modules):
    """Modules of tracejit that `module` imports anywhere in its source (function bodies included)."""
    is_package = path.endswith("__init__.py")
    targets = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.ImportFrom):
            base = module.split(".") if is_package else module.split(".")[:-1]
            if node.level:
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                targets.add(candidate if candidate in modules else target)
        elif isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
    return {t for t in targets if t in modules and t != module}


def test_core_never_imports_the_layers_on_top():
    modules = _modules()
    core = [m for m in modules if not m.startswith(OUTER) and m not in ("tracejit", "tracejit.__main__")]
    upward = sorted(f"{m} -> {t}" for m in core for t in _imports(m, modules[m], modules) if t.startswith(OUTER))
    assert upward == []


def test_no_import_cycles():
    modules = _modules()
    edges = {m: _imports(m, p, modules) for m, p in modules.items()}
    edges["tracejit"] = set()              # the package face re-exports everything

    def is_package_face(m, cycle):         # a package's __init__ importing its own submodules
        return any(other.startswith(m + ".") for other in cycle)
    cycles, index, low, stack, on_stack = [], {}, {}, [], set()

    def visit(v):                          # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 and not all(is_package_face(m, component) or m.count(".") <= 1
                                               for m in component):
                cycles.append(sorted(component))
    for module in modules:
        if module not in index:
            visit(module)
    assert cycles == []


def test_importing_tracejit_loads_no_numba_or_scipy():
    import subprocess
    import sys
    code = "import sys, tracejit; print(sorted(m for m in ('numba', 'scipy', 'llvmlite') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


@pytest.fixture
def toy_op():
    """A new op, exactly as a contributor adds one: a declaration (type rule, impl, vjp) and one
    entry in the Numba backend's lowering table. Removed again after the test."""
    @op("test_cube", ELEMENTWISE, dtypes=dt.FLOATS, sample="unary")
    def cube(x):
        return tuple(x.shape), x.dtype
    cube.impl = lambda x: x * x * x
    cube.vjp = lambda g, x, out: (g * 3.0 * x * x,)
    LOWERINGS.register(cube, Elementwise(lambda ops, node, x: x * x * x))
    yield cube
    del REGISTRY["test_cube"]
    del LOWERINGS._rules[cube]


def test_a_toy_op_runs_eagerly_traced_fused_and_differentiated(toy_op):
    x = tf.constant(np.array([[0.5, -1.5], [2.0, 3.0]], np.float32))
    eager = toy_op(x)
    np.testing.assert_array_equal(eager.numpy(), x.numpy() ** 3)
    f = tf.function(lambda x: toy_op(x) * 2.0 + 1.0)
    assert_close(f(x).numpy(), eager.numpy() * 2 + 1, tf.float32)
    concrete = f.get_concrete_function(x)
    assert "test_cube" in str(concrete.graph)
    if tf.config.backend() == "native":
        assert [k.members for k in concrete.kernels] == [["test_cube", "multiply", "add"]]
    x64 = tf.constant(np.array([1.0, -2.0]))
    with tf.GradientTape() as tape:
        tape.watch(x64)
        y = tf.reduce_sum(toy_op(x64))
    np.testing.assert_allclose(tape.gradient(y, x64).numpy(), 3 * x64.numpy() ** 2)


def test_passes_ask_traits_not_names():
    """A primitive declared effectful survives DCE and CSE though its result is unused and duplicated."""
    from tracejit.passes import cse, dce
    from tracejit.primitive import Primitive
    calls = []
    probe = Primitive("test_probe", lambda x: ((), x.dtype), ELEMENTWISE, effect=True)
    probe.impl = lambda x: calls.append(1) or np.zeros((), x.dtype)
    graph = tf.ir.Graph("g")
    x = graph.add_input((2,), tf.float32)
    graph.add_node(probe, [x], {}, (), tf.float32, "here")
    graph.add_node(probe, [x], {}, (), tf.float32, "here")
    graph.outputs = [x]
    assert cse.run(graph) == [] and dce.run(graph) == []
    assert [n.op for n in graph.nodes] == ["test_probe", "test_probe"]


def test_contexts_are_per_thread():
    """A thread tracing a function never makes another thread's eager code symbolic."""
    started, release = threading.Event(), threading.Event()
    seen = {}

    @tf.function
    def slow(x):
        started.set()
        release.wait(10)
        return x + 1.0

    tracer = threading.Thread(target=lambda: seen.setdefault("traced", slow(tf.constant(1.0)).numpy()))
    tracer.start()
    assert started.wait(10)
    eager = tf.constant(2.0) * 3.0           # meanwhile, in this thread
    seen["eager"] = (tf.executing_eagerly(), eager.numpy())
    release.set()
    tracer.join(10)
    assert seen == {"traced": 2.0, "eager": (True, 6.0)}


def test_a_tape_sees_only_its_own_threads_operations():
    x = tf.constant(3.0)
    other_done = threading.Event()
    with tf.GradientTape() as tape:
        tape.watch(x)
        thread = threading.Thread(target=lambda: (x * x, other_done.set()))
        thread.start()
        thread.join(10)
        y = x * 2.0
    assert other_done.is_set()
    assert len(tape._entries) == 1 and tape.gradient(y, x).numpy() == 2.0


def test_variables_change_only_through_their_storage_methods():
    """No module outside variables.py assigns a Variable's buffer attribute directly."""
    offenders = []
    for module, path in _modules().items():
        if module == "tracejit.variables":
            continue
        source = open(path).read()
        if "._value =" in source.replace("tensor._value = ", "").replace("self._value = ", ""):
            offenders.append(module)
    assert offenders == []
