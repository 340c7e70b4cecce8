"""The on-disk cache of native code. Each concrete function's native code is stored as object code beside a
manifest, in a directory keyed by everything the code depends on besides its own source: the
versions of Python, NumPy, llvmlite and tracejit, the CPU and its features, and the
sources of kernels/. An entry's name is the hash of its generated source.

Entries are checked before use: the manifest must name the requested key and the object's
SHA-256 must match its bytes; anything else (truncated, corrupted, foreign) counts as a miss,
is rebuilt and overwritten. Writes go to a temporary file renamed into place, so processes that
share the cache never read half an entry. An unwritable cache directory falls back to a private
temporary one, with one warning."""
import functools
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
import warnings

import numpy as np

_fallback_root = []        # a temporary root used when the configured one cannot be written


def cache_root():
    if _fallback_root:
        return _fallback_root[0]
    override = os.environ.get("TRACEJIT_CACHE_DIR")
    if override:
        return override
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "tracejit")


@functools.lru_cache(maxsize=None)
def environment_key():
    import llvmlite
    from ... import __version__
    from .compile import host_cpu
    parts = [sys.version, np.__version__, llvmlite.__version__, platform.machine(), *host_cpu(), __version__,
             _kernels_hash()]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def _kernels_hash():
    """Generated code is built by kernels/: a change there must miss every cached entry."""
    import kernels
    directory = os.path.dirname(kernels.__file__)
    digest = hashlib.sha256()
    for name in sorted(os.listdir(directory)):
        if name.endswith(".py"):
            with open(os.path.join(directory, name), "rb") as f:
                digest.update(name.encode() + b"\0" + f.read())
    return digest.hexdigest()


def entry_dir():
    return os.path.join(cache_root(), f"native-{environment_key()}")


def source_key(source):
    """An entry's name: the hash of the LLVM IR it was compiled from."""
    return hashlib.sha256(source.encode()).hexdigest()[:32]


def lookup(key):
    """(object bytes, manifest) of a verified entry, or None (also for a damaged entry: it is rebuilt)."""
    directory = entry_dir()
    try:
        with open(os.path.join(directory, f"{key}.json")) as f:
            manifest = json.load(f)
        with open(os.path.join(directory, f"{key}.o"), "rb") as f:
            data = f.read()
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("key") != key or \
            manifest.get("object_sha256") != hashlib.sha256(data).hexdigest():
        return None
    return data, manifest


def store(key, data, manifest):
    """Write an entry (object first, manifest last: a reader never trusts an object without its manifest)."""
    manifest = dict(manifest, key=key, object_sha256=hashlib.sha256(data).hexdigest())
    for attempt in range(2):
        directory = entry_dir()
        try:
            os.makedirs(directory, exist_ok=True)
            _atomic_write(os.path.join(directory, f"{key}.o"), data)
            _atomic_write(os.path.join(directory, f"{key}.json"), json.dumps(manifest, indent=1).encode())
            return True
        except OSError as error:
            if attempt or _fallback_root:
                return False
            _use_temporary_root(error)
    return False


def _atomic_write(path, data):
    fd, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _use_temporary_root(error):
    root = tempfile.mkdtemp(prefix="tracejit-cache-")
    warnings.warn(f"tracejit: the kernel cache directory {cache_root()} cannot be written ({error}); "
                  f"using {root} for this process (set TRACEJIT_CACHE_DIR to a writable directory)",
                  RuntimeWarning, stacklevel=3)
    _fallback_root.append(root)


def info():
    root = cache_root()
    entries, size = 0, 0
    for dirpath, _, files in os.walk(root):
        for name in files:
            try:
                size += os.path.getsize(os.path.join(dirpath, name))
            except OSError:
                continue
            entries += name.endswith(".o")
    current = entry_dir() if os.path.isdir(root) else None
    return {"directory": root, "current": current, "native_entries": entries, "bytes": size}


def clear():
    """Remove tracejit's cache directories under the root; other files there are left alone."""
    root = cache_root()
    if os.path.isdir(root):
        for name in os.listdir(root):
            path = os.path.join(root, name)
            if name.startswith(("native-", "kernels-")) and os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
