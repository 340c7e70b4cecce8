"""Backends turn an optimized graph into an executable. A backend is a module with
  can_lower(node) -> bool     may this elementwise node join a fused loop (asked by fusion)
  executable(graph, debug, on_host=())   the callable that runs the graph: list of arrays -> list of
                              arrays; nodes in `on_host` must run on their NumPy implementation
                              (the parity checker uses it to find a wrongly compiled node)
and owns its lowering table beside it. Registered here by module path and imported on first
use, so `import tracejit` stays light: "native" (LLVM code for the whole graph, the default;
"numba" is its former name and still selects it) and "numpy" (the reference interpreter).
Choose with tracejit.config.set_backend(name)."""
import importlib

from .. import config

BACKENDS = {"native": "tracejit.backend.native", "numba": "tracejit.backend.native",
            "numpy": "tracejit.backend.interpreter"}


def current_backend():
    return importlib.import_module(BACKENDS[config.backend()])


def register_backend(name, module_path):
    """Make a backend selectable with tracejit.config.set_backend(name)."""
    BACKENDS[name] = module_path
    config.known_backends.add(name)
