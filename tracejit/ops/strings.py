"""String ops (tf.strings, tf.io.decode_raw). String tensors hold bytes in NumPy object arrays;
these ops run on their NumPy implementation everywhere (compiled graphs call it too, and fusion
never puts a string into a loop). None is differentiable. The public wrappers (TF's names and
argument conventions) are in tracejit/strings.py."""
import re

import numpy as np

from .. import dtypes as dt
from ..errors import InvalidArgumentError
from ..primitive import ELEMENTWISE, INDEX
from .core import op
from .rules import broadcast_shapes, dims

STRING = (dt.string,)


def _map(fn, *arrays):
    """fn applied elementwise (with broadcasting); always an object array, even 0-d."""
    return np.asarray(np.frompyfunc(fn, len(arrays), 1)(*arrays), dtype=object)


def _string_op(name, rule, impl, kind=ELEMENTWISE, **traits):
    prim = op(name, kind, differentiable=False, sample=name, **traits)(rule)
    prim.impl = impl
    return prim


def _unary_string(x, **params):
    return dims(x), dt.string


def _check_string(op_name, x):
    if x.dtype != dt.string:
        raise InvalidArgumentError(f"{op_name} expects a string tensor, got {x.dtype.name}")


def _decoded(unit, s):
    """The units an operation counts in: bytes, or Unicode characters for unit='UTF8_CHAR'."""
    return s.decode("utf-8") if unit == "UTF8_CHAR" else s


# ---- join / length / case --------------------------------------------------------------------
string_join = _string_op(
    "string_join", lambda *xs, separator: (broadcast_shapes("strings.join", *(x.shape for x in xs)), dt.string),
    lambda *xs, separator: _map(lambda *parts: separator.join(parts), *xs), dtypes=STRING)

string_length = _string_op(
    "string_length", lambda x, unit: (dims(x), dt.int32),
    lambda x, unit: _map(lambda s: len(_decoded(unit, s)), x), dtypes=STRING)


def _case(method):
    def impl(x, encoding):
        if encoding:          # Unicode-aware; without an encoding only ASCII letters change (as in TF)
            return _map(lambda s: getattr(s.decode(encoding), method)().encode(encoding), x)
        return _map(lambda s: getattr(s, method)(), x)
    return impl


string_lower = _string_op("string_lower", _unary_string, _case("lower"), dtypes=STRING)
string_upper = _string_op("string_upper", _unary_string, _case("upper"), dtypes=STRING)


# ---- substr ----------------------------------------------------------------------------------
def _substr_rule(x, pos, length, unit):
    _check_string("strings.substr", x)
    if not pos.dtype.is_integer:
        raise InvalidArgumentError(f"strings.substr: pos and len must be integers, got {pos.dtype.name}")
    return broadcast_shapes("strings.substr", x.shape, pos.shape, length.shape), dt.string


def _substr_impl(x, pos, length, unit):
    def one(s, p, n):
        units = _decoded(unit, s)
        start = p + len(units) if p < 0 else p
        if not 0 <= start <= len(units):
            raise InvalidArgumentError(f"pos {p} out of range for string {s!r}: strings.substr needs "
                                       f"-{len(units)} <= pos <= {len(units)}")
        if n < 0:
            raise InvalidArgumentError(f"strings.substr: len must be non-negative, got {n}")
        piece = units[start:start + n]
        return piece.encode("utf-8") if unit == "UTF8_CHAR" else piece
    return _map(one, x, pos, length)


substr = _string_op("substr", _substr_rule, _substr_impl, same_dtype=(1, 2), dtypes=(dt.int32, dt.int64))


# ---- regex_replace ---------------------------------------------------------------------------
def _rewrite(template):
    """RE2's rewrite string: \\0..\\9 are groups (0 the whole match), \\\\ is a backslash."""
    parts = re.split(rb"(\\[0-9\\])", template)

    def expand(match):
        out = []
        for part in parts:
            if len(part) == 2 and part[:1] == b"\\":
                out.append(b"\\" if part == b"\\\\" else (match.group(int(part[1:])) or b""))
            else:
                out.append(part)
        return b"".join(out)
    return expand


def _regex_replace_impl(x, pattern, rewrite, replace_global):
    compiled, expand = re.compile(pattern), _rewrite(rewrite)
    return _map(lambda s: compiled.sub(expand, s, count=0 if replace_global else 1), x)


regex_replace = _string_op("regex_replace", _unary_string, _regex_replace_impl, dtypes=STRING)


# ---- numbers <-> strings ---------------------------------------------------------------------
def _as_string_rule(x, precision, scientific, shortest, width, fill):
    if x.dtype == dt.string or (x.dtype.is_complex and x.dtype != dt.complex64):
        raise InvalidArgumentError(f"strings.as_string does not support dtype {x.dtype.name}")
    if not x.dtype.is_floating and not x.dtype.is_complex and (scientific or shortest or precision > -1):
        raise InvalidArgumentError(f"strings.as_string: precision, scientific and shortest need a float "
                                   f"tensor, got {x.dtype.name}")
    if scientific and shortest:
        raise InvalidArgumentError("strings.as_string: cannot select both scientific and shortest notation")
    if len(fill) > 1:
        raise InvalidArgumentError("strings.as_string: fill must be one or fewer characters")
    return dims(x), dt.string


def _as_string_impl(x, precision, scientific, shortest, width, fill):
    """TF's printf format: %[fill][width][.precision](d|f|e|g); bools are true/false."""
    if x.dtype.kind == "b":
        return _map(lambda v: b"true" if v else b"false", x)
    spec = "%" + (f"{fill}{width}" if width > -1 else "") + (f".{precision}" if precision > -1 else "")
    spec += "d" if x.dtype.kind in "iu" else ("g" if shortest else "e" if scientific else "f")
    if x.dtype.kind == "c":
        return _map(lambda v: f"({spec},{spec})".__mod__((v.real, v.imag)).encode(), x)
    return _map(lambda v: (spec % v).encode(), x)


as_string = _string_op("as_string", _as_string_rule, _as_string_impl)


def _to_number_impl(x, out_type):
    parse = float if out_type.is_floating else int

    def one(s):
        try:
            value = parse(s.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise InvalidArgumentError("StringToNumberOp could not correctly convert string: "
                                       f"{s.decode('utf-8', 'replace')}") from None
        if out_type.is_integer and not out_type.min <= value <= out_type.max:
            raise InvalidArgumentError(f"StringToNumberOp: {s!r} is out of range for {out_type.name}")
        return value
    return _map(one, x)


to_number = _string_op("to_number", lambda x, out_type: (dims(x), out_type), _to_number_impl, dtypes=STRING)


def _decode_raw_impl(x, out_type, little_endian):
    np_type = out_type.np.newbyteorder("<" if little_endian else ">")
    flat = [s for s in x.reshape(-1)]
    sizes = {len(s) for s in flat}
    if len(sizes) > 1:
        raise InvalidArgumentError(f"DecodeRaw requires input strings to all be the same size, got sizes "
                                   f"{sorted(sizes)}")
    size = sizes.pop() if sizes else 0
    if size % np_type.itemsize:
        raise InvalidArgumentError(f"Input to DecodeRaw has length {size} that is not a multiple of "
                                   f"{np_type.itemsize}, the size of {out_type.name}")
    decoded = [np.frombuffer(s, np_type) for s in flat]
    out = np.stack(decoded) if decoded else np.zeros((0, 0), out_type.np)
    return out.astype(out_type.np).reshape(x.shape + (size // np_type.itemsize,))


decode_raw = _string_op("decode_raw", lambda x, out_type, little_endian: (tuple(x.shape) + (None,), out_type),
                        _decode_raw_impl, INDEX, dtypes=STRING)


# ---- format ----------------------------------------------------------------------------------
def _c_escape(s):
    """absl::Utf8SafeCEscape: escapes quotes, backslashes and control bytes; UTF-8 passes through."""
    named = {9: "\\t", 10: "\\n", 13: "\\r", 34: '\\"', 39: "\\'", 92: "\\\\"}
    out = []
    for byte in s:
        if byte in named:
            out.append(named[byte].encode())
        elif byte < 32 or byte == 127:
            out.append(b"\\%03o" % byte)
        else:
            out.append(bytes([byte]))
    return b"".join(out)


def _format_element(value):
    """One element as TF's SummarizeValue (print_v2) writes it."""
    if isinstance(value, bytes):
        return b'"' + _c_escape(value) + b'"'
    if isinstance(value, np.bool_):
        return b"1" if value else b"0"
    if isinstance(value, np.floating):
        short, full = (6, 9) if value.dtype.itemsize <= 4 else (15, 17)
        text = "%.*g" % (short, value)
        if value.dtype.type(text) != value and not np.isnan(value):
            text = "%.*g" % (full, value)
        return text.encode()
    return str(value).encode()


def _summarize(array, summarize):
    """TF's PrintOneDimV2: nested brackets, `summarize` elements at each end of every dimension."""
    if array.ndim == 0:
        return _format_element(array[()])
    ends = array.size if summarize < 0 else min(summarize, array.size)

    def dim(index, level):
        if level == array.ndim:
            return _format_element(array[index])
        count = array.shape[level]
        spacing = b" " if level == array.ndim - 1 else b"\n" * (array.ndim - level - 1) + b" " * (level + 1)
        shown = list(range(min(ends, count))) + list(range(max(ends, count - ends), count))
        parts = [dim(index + (i,), level + 1) for i in shown]
        if count > 2 * ends:
            parts.insert(ends, b"...")
        return b"[" + spacing.join(parts) + b"]"
    return dim((), 0)


def _string_format_impl(*inputs, template, placeholder, summarize):
    pieces = template.split(placeholder)
    out = [pieces[0]]
    for value, piece in zip(inputs, pieces[1:]):
        out += [_summarize(value, summarize), piece]
    return np.array(b"".join(out), dtype=object)


def _string_format_rule(*inputs, template, placeholder, summarize):
    if template.count(placeholder) != len(inputs):
        raise InvalidArgumentError(f"strings.format: the template has {template.count(placeholder)} placeholders "
                                   f"but {len(inputs)} inputs were given")
    return (), dt.string


string_format = _string_op("string_format", _string_format_rule, _string_format_impl, INDEX, same_dtype=())


# ---- split (the RaggedTensor's values and row lengths) ----------------------------------------
def _split_one(s, sep, maxsplit):
    return s.split(sep or None, maxsplit)       # sep None/empty: runs of whitespace, no empty tokens


def _split_values_impl(x, sep, maxsplit):
    tokens = [t for s in x.reshape(-1) for t in _split_one(s, sep, maxsplit)]
    out = np.empty(len(tokens), dtype=object)
    out[:] = tokens
    return out


string_split_values = _string_op("string_split_values", lambda x, sep, maxsplit: ((None,), dt.string),
                                 _split_values_impl, INDEX, dtypes=STRING)
string_split_lengths = _string_op(
    "string_split_lengths", lambda x, sep, maxsplit: (dims(x), dt.int64),
    lambda x, sep, maxsplit: _map(lambda s: len(_split_one(s, sep, maxsplit)), x), dtypes=STRING)
