"""On-disk cache of generated kernel modules. Each kernel's source is written once as an
importable module named by the hash of its source, in a directory keyed by the versions of
Python/NumPy/Numba/llvmlite and the CPU; numba's cache=True then stores the machine code beside
it, so a second process loads kernels instead of compiling them (exec()'d code cannot be cached)."""
import hashlib
import importlib.util
import os
import platform
import shutil
import sys

import llvmlite
import numba
import numpy as np

from kernels.loops import source_hash

_loaded = {}          # source hash -> module (kernels are shared by every function in the process)


def cache_root():
    override = os.environ.get("TRACEJIT_CACHE_DIR")
    if override:
        return override
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "tracejit")


def environment_key():
    cpu = numba.core.config.CPU_NAME or llvmlite.binding.get_host_cpu_name()
    parts = [sys.version, np.__version__, numba.__version__, llvmlite.__version__, platform.machine(), cpu,
             _tracejit_version()]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]


def _tracejit_version():
    from ... import __version__
    return __version__


def kernel_dir():
    return os.path.join(cache_root(), f"kernels-{environment_key()}")


def load(module_text):
    """Import (writing first if needed) the module with this source; returns the module."""
    key = source_hash(module_text)
    module = _loaded.get(key)
    if module is not None:
        return module
    directory = kernel_dir()
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, f"k_{key}.py")
    if not os.path.exists(path):          # never rewrite: a new mtime would invalidate numba's cache
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(module_text)
        os.replace(tmp, path)
    name = f"tracejit_kernels.k_{key}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    _loaded[key] = module
    return module


def info():
    root = cache_root()
    entries, size = 0, 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            size += os.path.getsize(os.path.join(dirpath, name))
            entries += name.endswith(".py")
    return {"directory": root, "current": kernel_dir(), "kernel_modules": entries, "bytes": size}


def clear():
    """Remove every kernel directory under the cache root (other files there are left alone)."""
    root = cache_root()
    if os.path.isdir(root):
        for name in os.listdir(root):
            if name.startswith("kernels-"):
                shutil.rmtree(os.path.join(root, name))
    _loaded.clear()
