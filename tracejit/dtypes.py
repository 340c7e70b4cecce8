"""DType objects, the NumPy mapping, and TF's defaults for converting Python values.

Promotion is strict: two tensors of different dtypes never combine implicitly.
"""
import numpy as np


class DType:
    __slots__ = ("name", "short", "kind", "_np")

    def __init__(self, name, np_type, kind, short):
        self.name = name
        self.short = short          # the IR printer's spelling: f32, i64, ...
        self.kind = kind            # 'f' float, 'i' signed int, 'u' unsigned int, 'b' bool, 'c' complex, 's' string
        self._np = np.dtype(np_type)

    @property
    def as_numpy_dtype(self):
        return self._np.type

    @property
    def np(self):
        return self._np

    is_floating = property(lambda self: self.kind == "f")
    is_integer = property(lambda self: self.kind in "iu")
    is_unsigned = property(lambda self: self.kind == "u")
    is_bool = property(lambda self: self.kind == "b")
    is_complex = property(lambda self: self.kind == "c")
    is_numeric = property(lambda self: self.kind in "fiu")
    size = property(lambda self: self._np.itemsize)
    base_dtype = property(lambda self: self)

    @property
    def real_dtype(self):
        """float32 for complex64, float64 for complex128, the dtype itself otherwise."""
        return _REAL.get(self.name, self)

    @property
    def min(self):
        return self._limits().min

    @property
    def max(self):
        return self._limits().max

    def _limits(self):
        if self.kind in "cs":
            raise TypeError(f"Cannot find minimum or maximum value of {self.name}")
        return np.finfo(self._np) if self.is_floating else np.iinfo(self._np)

    def __eq__(self, other):
        if isinstance(other, DType):
            return other.name == self.name
        try:
            return as_dtype(other).name == self.name
        except TypeError:
            return False

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash(self.name)

    def __repr__(self):
        return f"tf.{self.name}"

    def __str__(self):
        return f"<dtype: '{self.name}'>"

    def __reduce__(self):
        return as_dtype, (self.name,)


float16 = DType("float16", np.float16, "f", "f16")
float32 = DType("float32", np.float32, "f", "f32")
float64 = DType("float64", np.float64, "f", "f64")
int8 = DType("int8", np.int8, "i", "i8")
int16 = DType("int16", np.int16, "i", "i16")
int32 = DType("int32", np.int32, "i", "i32")
int64 = DType("int64", np.int64, "i", "i64")
uint8 = DType("uint8", np.uint8, "u", "u8")
bool_ = DType("bool", np.bool_, "b", "bool")
complex64 = DType("complex64", np.complex64, "c", "c64")
complex128 = DType("complex128", np.complex128, "c", "c128")
string = DType("string", np.object_, "s", "str")
# An opaque value a graph passes between host steps (a while loop's per-iteration history for its
# gradient, a py_function's tape): a 0-d object array holding a Python object, as TF's DT_VARIANT.
variant = DType("variant", np.object_, "v", "variant")

half, double = float16, float64
ALL = (float16, float32, float64, int8, int16, int32, int64, uint8, bool_, complex64, complex128, string)
FLOATS = (float16, float32, float64)
INTS = (int8, int16, int32, int64, uint8)
NUMERIC = FLOATS + INTS                 # real numbers: ordered, and what compiled loops compute
COMPLEX = (complex64, complex128)
ARITHMETIC = NUMERIC + COMPLEX          # + - * / and matmul
BOOL = (bool_,)
STRING = (string,)
_REAL = {"complex64": float32, "complex128": float64}

_BY_NAME = {d.name: d for d in ALL}
_BY_NAME.update({"variant": variant, "float": float32, "double": float64, "half": float16, "int": int32, "long": int64,
                 "bool_": bool_, "str": string, "bytes": string, "object": string})


_BY_NUMPY = {d.np: d for d in ALL if d.kind != "s"}


def as_dtype(value):
    """Convert a DType, its name, a NumPy dtype/type, or a Python type to a DType."""
    if isinstance(value, DType):
        return value
    found = _BY_NUMPY.get(value) if isinstance(value, np.dtype) else None
    if found is not None:
        return found
    if isinstance(value, str):
        if value in _BY_NAME:
            return _BY_NAME[value]
        raise TypeError(f"Unknown dtype name {value!r}; expected one of {sorted(d.name for d in ALL)}")
    if value is bool:
        return bool_
    if value is int:
        return int32
    if value is float:
        return float32
    if value in (str, bytes):
        return string
    try:
        np_dtype = np.dtype(value)
    except TypeError:
        raise TypeError(f"Cannot interpret {value!r} as a tracejit dtype") from None
    if np_dtype.kind in "USO":
        return string
    if np_dtype.name in _BY_NAME:
        return _BY_NAME[np_dtype.name]
    raise TypeError(f"dtype {np_dtype.name} is not supported by tracejit "
                    f"(supported: {', '.join(d.name for d in ALL)})")


def native_byte_order(array):
    """`array` itself when its byte order is the machine's, else a native-order copy: compiled
    kernels (Numba) and BLAS handle native byte order only."""
    return array if array.dtype.isnative else array.astype(array.dtype.newbyteorder("="))


def default_dtype_for_array(array):
    """TF's inference for values built from Python objects: int -> int32 (int64 if it does not
    fit), float -> float32, complex -> complex128, bool -> bool, str/bytes -> string."""
    kind = array.dtype.kind
    if kind == "b":
        return bool_
    if kind in "iu":
        if array.size == 0 or (array.min() >= np.iinfo(np.int32).min and array.max() <= np.iinfo(np.int32).max):
            return int32
        return int64
    if kind == "f":
        return float32
    if kind == "c":
        return complex128                   # TF: a Python complex is complex128
    if kind in "USO":
        return string
    raise TypeError(f"Cannot convert values of NumPy dtype {array.dtype} to a tensor")
