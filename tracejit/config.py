"""Global switches: eager execution of @function, backend, compile mode, the size above which
captured arrays are passed by reference, the debug level (TRACEJIT_DEBUG=0..3), and TF's device
queries (one CPU)."""
import os
import sys
import types

from .devices import list_logical_devices, list_physical_devices  # noqa: F401

_run_functions_eagerly = False


def run_functions_eagerly(run_eagerly):
    """Make every @function run its Python body eagerly (like tf.config.run_functions_eagerly)."""
    global _run_functions_eagerly
    _run_functions_eagerly = bool(run_eagerly)


def functions_run_eagerly():
    return _run_functions_eagerly


known_backends = {"native", "numba", "numpy"}       # backend.register_backend adds more ("numba": former name of native)
_backend = None


def set_backend(name):
    """'native' (LLVM code for whole graphs, the default; 'numba' is its former name) or 'numpy'
    (the reference interpreter)."""
    global _backend
    if name not in known_backends:
        raise ValueError(f"unknown backend {name!r}; choose one of {sorted(known_backends)}")
    _backend = name


def backend():
    if _backend is not None:
        return _backend
    name = os.environ.get("TRACEJIT_BACKEND", "native")
    if name not in known_backends:
        raise ValueError(f"TRACEJIT_BACKEND={name!r} is not one of {sorted(known_backends)}")
    return name


# Native code compiles on a background thread while the interpreter runs the first calls
# ("background"), or before the first call returns ("sync": deterministic, for tests and benchmarks
# of steady state). TRACEJIT_COMPILE sets the default.
_COMPILE_MODES = ("background", "sync")
_compile_mode = None


def set_compile_mode(mode):
    global _compile_mode
    if mode not in _COMPILE_MODES:
        raise ValueError(f"compile mode must be one of {_COMPILE_MODES}, got {mode!r}")
    _compile_mode = mode


def compile_mode():
    if _compile_mode is not None:
        return _compile_mode
    mode = os.environ.get("TRACEJIT_COMPILE", "background")
    return mode if mode in _COMPILE_MODES else "background"


# Captured eager arrays larger than this are graph inputs fed by reference at every call rather
# than constants baked into the graph (no copy in the graph, in-place updates seen, no refolding).
_max_constant_bytes = 1 << 20


def set_max_constant_bytes(nbytes):
    """Captured arrays above `nbytes` are passed by reference at call time instead of baked in."""
    global _max_constant_bytes
    _max_constant_bytes = int(nbytes)


def max_constant_bytes():
    return _max_constant_bytes


# Whether this process prints training progress and writes checkpoints, summaries and saved
# weights. In a job of several workers only the chief does by default: MultiWorkerMirroredStrategy
# turns this off on the other workers (their variables are mirrors of the chief's, so their files
# would be copies, written concurrently to the same paths).
_output_enabled = True


def set_output_enabled(enabled):
    """False makes checkpoint, summary and weight writers of this process no-ops and Keras silent."""
    global _output_enabled
    _output_enabled = bool(enabled)


def output_enabled():
    return _output_enabled


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


# ---- devices (tf.config): the CPU is the only device ----
def get_visible_devices(device_type=None):
    return list_physical_devices(device_type)


def set_visible_devices(devices, device_type=None):
    """Only the CPU exists: it must stay visible (no GPU can be chosen)."""
    devices = devices if isinstance(devices, (list, tuple)) else [devices]
    unknown = [d for d in devices if d not in list_physical_devices()]
    if unknown:
        raise ValueError(f"Unrecognized device: {unknown[0]}")


def get_soft_device_placement():
    return True         # ops requested on a missing device run on the CPU


def set_soft_device_placement(enabled):
    if not enabled:
        raise ValueError("tracejit runs every op on the CPU: soft device placement cannot be disabled")


def _set_memory_growth(device, enable):
    raise ValueError("Cannot set memory growth on non-GPU and non-Pluggable devices")


def _get_memory_growth(device):
    raise ValueError("Cannot get memory growth on non-GPU and non-Pluggable devices")


experimental = types.SimpleNamespace(
    list_physical_devices=list_physical_devices, list_logical_devices=list_logical_devices,
    get_visible_devices=get_visible_devices, set_visible_devices=set_visible_devices,
    set_memory_growth=_set_memory_growth, get_memory_growth=_get_memory_growth)
