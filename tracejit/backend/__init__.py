"""Executables for graphs: the Numba backend (default) or the NumPy reference interpreter.
Pick one with tracejit.config.set_backend("numba" | "numpy") or TRACEJIT_BACKEND."""
from .. import config
from .interpreter import Interpreter


def _compiled(graph, debug):
    from .compiled import CompiledExecutable       # imports numba only when used
    return CompiledExecutable(graph, debug)


BACKENDS = {"numpy": lambda graph, debug: Interpreter(graph), "numba": _compiled}


def select_executable(graph, debug=None):
    return BACKENDS[config.backend()](graph, debug)
