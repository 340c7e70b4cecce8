"""Where native code finds BLAS: the CBLAS gemm entry points of the OpenBLAS that NumPy itself
uses (NumPy's wheels bundle scipy-openblas with 64-bit integer symbols), found with ctypes only
(no SciPy import, no Numba import). Also checks the NumPy object layout native code relies on."""
import ctypes
import functools
import glob
import os

import numpy as np

_SYMBOLS = {"float32": ("scipy_cblas_sgemm64_", "cblas_sgemm64_", "cblas_sgemm"),
            "float64": ("scipy_cblas_dgemm64_", "cblas_dgemm64_", "cblas_dgemm")}
_found = {}


def _bundled_openblas():
    package = os.path.dirname(np.__file__)
    candidates = glob.glob(os.path.join(package, "..", "numpy.libs", "libscipy_openblas64*")) + \
        glob.glob(os.path.join(package, ".dylibs", "libscipy_openblas64*"))
    for path in candidates:
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None


def gemm_address(dtype_name):
    """Address of a row-major cblas gemm with 64-bit integers for float32/float64, or None."""
    if dtype_name not in _found:
        address = None
        library = _bundled_openblas() if dtype_name in _SYMBOLS else None
        for symbol in _SYMBOLS.get(dtype_name, ()) if library is not None else ():
            function = getattr(library, symbol, None)
            if function is not None and symbol.endswith("64_"):     # only the 64-bit integer interface
                address = ctypes.cast(function, ctypes.c_void_p).value
                break
        _found[dtype_name] = address
    return _found[dtype_name]


# Where native code reads an ndarray object's fields (PyArrayObject_fields, NumPy 1.x and 2.x)
ARRAY_DATA_OFFSET, ARRAY_FLAGS_OFFSET, C_CONTIGUOUS_FLAG = 16, 64, 0x1


@functools.lru_cache(maxsize=None)
def array_layout_ok():
    """Does this NumPy's array object keep its data pointer and flags where native code reads them?"""
    base = np.arange(12, dtype=np.float64).reshape(3, 4)
    for probe in (base, base.T, base[:, 1:], base[1:]):
        data = ctypes.c_int64.from_address(id(probe) + ARRAY_DATA_OFFSET).value
        flags = ctypes.c_int32.from_address(id(probe) + ARRAY_FLAGS_OFFSET).value
        if data != probe.ctypes.data or bool(flags & C_CONTIGUOUS_FLAG) != probe.flags.c_contiguous:
            return False
    return True
