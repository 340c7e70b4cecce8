"""Executables for graphs. The NumPy interpreter is the reference backend."""
from .interpreter import Interpreter

BACKENDS = {"numpy": Interpreter}
_backend = "numpy"


def set_backend(name):
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; available: {sorted(BACKENDS)}")
    global _backend
    _backend = name


def get_backend():
    return _backend


def select_executable(graph, debug=None):
    return BACKENDS[_backend](graph)
