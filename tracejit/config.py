"""Global switches: eager execution of @function and the debug level (TRACEJIT_DEBUG=0..4)."""
import os
import sys

_run_functions_eagerly = False


def run_functions_eagerly(run_eagerly):
    """Make every @function run its Python body eagerly (like tf.config.run_functions_eagerly)."""
    global _run_functions_eagerly
    _run_functions_eagerly = bool(run_eagerly)


def functions_run_eagerly():
    return _run_functions_eagerly


_BACKENDS = ("numba", "numpy")
_backend = None


def set_backend(name):
    """'numba' (compiled kernels, the default) or 'numpy' (the reference interpreter)."""
    global _backend
    if name not in _BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {_BACKENDS}")
    _backend = name


def backend():
    if _backend is not None:
        return _backend
    name = os.environ.get("TRACEJIT_BACKEND", "numba")
    if name not in _BACKENDS:
        raise ValueError(f"TRACEJIT_BACKEND={name!r} is not one of {_BACKENDS}")
    return name


def debug_level(override=None):
    """The active debug level: a function's own `debug=` wins over TRACEJIT_DEBUG."""
    if override is not None:
        return int(override)
    try:
        return int(os.environ.get("TRACEJIT_DEBUG", "0") or 0)
    except ValueError:
        return 0


def debug_print(*parts):
    print("[tracejit]", *parts, file=sys.stderr)
