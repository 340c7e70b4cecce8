"""Global switches: eager execution of @function and the debug level (TRACEJIT_DEBUG=0..4), and
TF's device queries (one CPU)."""
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
