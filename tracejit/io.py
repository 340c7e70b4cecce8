"""tf.io: decoding raw bytes."""
from . import dtypes as dt
from .errors import InvalidArgumentError
from .ops import strings as S
from .ops.core import convert_to_tensor


def decode_raw(input_bytes, out_type, little_endian=True, fixed_length=None, name=None):
    """Each string's bytes reinterpreted as a vector of out_type (all strings the same length)."""
    if fixed_length is not None:
        raise NotImplementedError("decode_raw(fixed_length=...) is not supported: pad or cut the strings to one "
                                  "length with tf.strings.substr first")
    x = convert_to_tensor(input_bytes, dtype_hint=dt.string)
    out_type = dt.as_dtype(out_type)
    if x.dtype != dt.string or out_type.kind not in "fiucb":
        raise InvalidArgumentError(f"decode_raw: needs string input and a numeric out_type, got {x.dtype.name} -> "
                                   f"{out_type.name}")
    return S.decode_raw(x, out_type=out_type, little_endian=bool(little_endian))
