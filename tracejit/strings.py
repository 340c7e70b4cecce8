"""tf.strings: the string ops of ops/strings.py under TF's names and argument conventions."""
import numpy as np

from . import dtypes as dt
from .errors import InvalidArgumentError
from .ops import strings as S
from .ops.core import convert_inputs, convert_to_tensor
from .ops.shape import reshape
from .ragged import RaggedTensor
from .tensor import Tensor

UNITS = ("BYTE", "UTF8_CHAR")


def _bytes(text, what):
    if isinstance(text, Tensor) or hasattr(text, "_as_tensor"):
        tensor = convert_to_tensor(text)
        if tensor.is_symbolic or tensor.ndim or tensor.dtype != dt.string:
            raise NotImplementedError(f"strings: {what} must be a Python string or a scalar string tensor known "
                                      "while tracing")
        text = tensor.numpy()
    return text.encode("utf-8") if isinstance(text, str) else bytes(text)


def _strings(x):
    tensor = convert_to_tensor(x, dtype_hint=dt.string)
    if tensor.dtype != dt.string:
        raise InvalidArgumentError(f"expected a string tensor, got {tensor.dtype.name}")
    return tensor


def _unit(unit):
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}, got {unit!r}")
    return unit


def join(inputs, separator="", name=None):
    return S.string_join(*[_strings(x) for x in inputs], separator=_bytes(separator, "separator"))


def length(input, unit="BYTE", name=None):
    return S.string_length(_strings(input), unit=_unit(unit))


def lower(input, encoding="", name=None):
    return S.string_lower(_strings(input), encoding=encoding)


def upper(input, encoding="", name=None):
    return S.string_upper(_strings(input), encoding=encoding)


def substr(input, pos, len, unit="BYTE", name=None):  # noqa: A002 (TF's parameter name)
    x = _strings(input)
    pos, length_ = convert_inputs(S.substr, (x, pos, len))[1:]
    return S.substr(x, pos, length_, unit=_unit(unit))


def regex_replace(input, pattern, rewrite, replace_global=True, name=None):
    return S.regex_replace(_strings(input), pattern=_bytes(pattern, "pattern"), rewrite=_bytes(rewrite, "rewrite"),
                           replace_global=bool(replace_global))


def as_string(input, precision=-1, scientific=False, shortest=False, width=-1, fill="", name=None):
    return S.as_string(convert_to_tensor(input), precision=int(precision), scientific=bool(scientific),
                       shortest=bool(shortest), width=int(width), fill=fill)


def to_number(string_tensor, out_type=dt.float32, name=None):
    out_type = dt.as_dtype(out_type)
    if out_type not in (dt.float32, dt.float64, dt.int32, dt.int64):
        raise InvalidArgumentError(f"strings.to_number: out_type must be float32, float64, int32 or int64, "
                                   f"got {out_type.name}")
    return S.to_number(_strings(string_tensor), out_type=out_type)


def format(template, inputs, placeholder="{}", summarize=3, name=None):  # noqa: A001 (TF's name)
    """A scalar string: each placeholder replaced by an input, printed as tf.print does."""
    inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    return S.string_format(*[convert_to_tensor(x) for x in inputs], template=_bytes(template, "template"),
                           placeholder=_bytes(placeholder, "placeholder"), summarize=int(summarize))


def split(input, sep=None, maxsplit=-1, name=None):
    """Tokens of each string: a 1-D Tensor for a scalar input, else a RaggedTensor with one ragged
    dimension per input dimension. sep None (or empty) splits on runs of whitespace."""
    x = _strings(input)
    sep = None if sep is None else _bytes(sep, "sep")
    values = S.string_split_values(x, sep=sep, maxsplit=int(maxsplit))
    if x.ndim == 0:
        return values
    if None in x.shape:
        raise NotImplementedError("strings.split of an input with unknown dimensions: give the input a static "
                                  "shape")
    lengths = S.string_split_lengths(x, sep=sep, maxsplit=int(maxsplit))
    result = RaggedTensor.from_row_lengths(values, reshape(lengths, (-1,)), validate=False)
    for outer in range(x.ndim - 1, 0, -1):         # uniform partitions for the outer dimensions
        rows = int(np.prod(x.shape[:outer]))
        uniform = Tensor(np.arange(0, rows * x.shape[outer] + 1, x.shape[outer], dtype=np.int64))
        result = RaggedTensor.from_row_splits(result, uniform, validate=False)
    return result
