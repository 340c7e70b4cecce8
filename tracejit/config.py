"""Global switches: eager execution of @function, backend, tiered compilation, the size above which
captured arrays are passed by reference, and the debug level (TRACEJIT_DEBUG=0..3)."""
import os
import sys

_run_functions_eagerly = False


def run_functions_eagerly(run_eagerly):
    """Make every @function run its Python body eagerly (like tf.config.run_functions_eagerly)."""
    global _run_functions_eagerly
    _run_functions_eagerly = bool(run_eagerly)


def functions_run_eagerly():
    return _run_functions_eagerly


known_backends = {"numba", "numpy"}       # backend.register_backend adds more
_backend = None


def set_backend(name):
    """'numba' (compiled kernels, the default) or 'numpy' (the reference interpreter)."""
    global _backend
    if name not in known_backends:
        raise ValueError(f"unknown backend {name!r}; choose one of {sorted(known_backends)}")
    _backend = name


def backend():
    if _backend is not None:
        return _backend
    name = os.environ.get("TRACEJIT_BACKEND", "numba")
    if name not in known_backends:
        raise ValueError(f"TRACEJIT_BACKEND={name!r} is not one of {sorted(known_backends)}")
    return name


# Tiered compilation. A first call compiles kernels only for fused groups of at least
# min_kernel_elements; smaller groups run op by op on NumPy. After tier_up_calls calls of the
# same concrete function the small groups are compiled too: a small kernel saves ~2 us per call
# but costs ~0.2 s to compile cold (measured), which only a function that keeps running earns back.
_min_kernel_elements = 1024
_tier_up_calls = 20


def set_tier_up_calls(count):
    global _tier_up_calls
    _tier_up_calls = int(count)


def tier_up_calls():
    return _tier_up_calls


def set_min_kernel_elements(count):
    global _min_kernel_elements
    _min_kernel_elements = int(count)


def min_kernel_elements():
    return _min_kernel_elements


# Captured eager arrays larger than this are graph inputs fed by reference at every call rather
# than constants baked into the graph (no copy in the graph, in-place updates seen, no refolding).
_max_constant_bytes = 1 << 20


def set_max_constant_bytes(nbytes):
    """Captured arrays above `nbytes` are passed by reference at call time instead of baked in."""
    global _max_constant_bytes
    _max_constant_bytes = int(nbytes)


def max_constant_bytes():
    return _max_constant_bytes


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
