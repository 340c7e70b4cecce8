"""tf.print: an effect (a PRINT node with no result) that prints when the graph runs, in program
order with the other effects, in TF's format: tensors summarized to their first and last
`summarize` elements per dimension, floats with 6 significant digits, bools as 1/0, strings
quoted, nested Python structures laid out by pprint around them. Eagerly it prints at once.

The output stream is resolved when the node runs (so a test capturing sys.stderr sees it)."""
import collections
import logging
import os
import pprint
import random
import sys

import numpy as np

from . import nest
from .context import bind, current_context
from .primitive import CONTROL, Primitive
from .tensor import Tensor

_STREAMS = {"stdout": lambda: sys.stdout, "stderr": lambda: sys.stderr}
_LOG_LEVELS = {"log(info)": logging.INFO, "log(warning)": logging.WARNING, "log(error)": logging.ERROR}


def print_v2(*inputs, output_stream=None, summarize=3, sep=" ", end=os.linesep, name=None):
    """tf.print(*inputs, output_stream=sys.stderr, summarize=3, sep=" ", end="\\n"). Returns None
    (in a TF1 graph: the Operation that prints when Session.run fetches it)."""
    stream = _stream_name(sys.stderr if output_stream is None else output_stream)
    tensors, template, placeholder, raw = _template(inputs, sep)
    params = {"template": template, "placeholder": placeholder, "summarize": -1 if summarize is None else summarize,
              "output_stream": stream, "end": end}
    if raw:
        params["raw"] = True
    bind(PRINT, tensors, params)
    return current_context().effect_operation()


def _stream_name(output_stream):
    if isinstance(output_stream, str) and output_stream.startswith("file://"):
        return output_stream
    for name, current in _STREAMS.items():
        if output_stream is current():
            return name
    levels = {logging.info: "log(info)", logging.INFO: "log(info)", logging.warning: "log(warning)",
              logging.WARNING: "log(warning)", logging.error: "log(error)", logging.ERROR: "log(error)"}
    try:
        return levels[output_stream]
    except (KeyError, TypeError):
        raise ValueError(f"Unsupported output stream, logging level, or file.{output_stream}. Supported streams are "
                         "sys.stdout, sys.stderr, tf.logging.info, tf.logging.warning, tf.logging.error. File needs "
                         "to be in the form of 'file://<filepath>'.") from None


# ---- the template: TF's print_v2 ---------------------------------------------------------------------
def _is_tensor(x):
    return isinstance(x, Tensor) or hasattr(x, "_as_tensor")


def _sorted_dicts(structure):
    """Dicts in key order, as tf.nest flattens them and pprint prints them."""
    if isinstance(structure, dict):
        items = [(k, _sorted_dicts(structure[k])) for k in sorted(structure)]
        return collections.OrderedDict(items) if isinstance(structure, collections.OrderedDict) else dict(items)
    if isinstance(structure, (list, tuple)) and not hasattr(structure, "_fields"):
        return type(structure)(_sorted_dicts(v) for v in structure)
    return structure


def _template(inputs, sep):
    """(tensors, template, placeholder, raw): the text with a placeholder where each tensor goes; raw
    when the only input is a scalar string tensor (printed as is, without quotes)."""
    if len(inputs) == 1 and _is_tensor(inputs[0]):
        only = _as_tensor(inputs[0])
        if only.dtype.kind == "s" and only.ndim == 0:
            return [only], "{}", "{}", True
    inputs = [_sorted_dicts(x) for x in inputs]
    tensor_free = " ".join(pprint.pformat(nest.map_structure(lambda x: "" if _is_tensor(x) else x, x))
                           for x in inputs)
    placeholder = _placeholder(tensor_free)
    tensors, templates = [], []
    for item in inputs:
        placeholders = []
        for x in nest.flatten(item):
            if _is_tensor(x):
                tensors.append(_as_tensor(x))
                placeholders.append(placeholder)
            else:
                placeholders.append(x)
        templates.append(item if isinstance(item, str) else pprint.pformat(nest.pack_sequence_as(item, placeholders)))
    template = sep.join(templates).replace(f"'{placeholder}'", placeholder)
    return tensors, template, placeholder, False


def _as_tensor(x):
    return x if isinstance(x, Tensor) else x._as_tensor()


def _placeholder(text):
    placeholder, rng = "{}", random.Random(5)
    while placeholder in text:
        placeholder += str(rng.randint(0, 9))
    return placeholder


# ---- formatting tensors: TF's Tensor::SummarizeValue(summarize, print_v2=true) -------------------------
def summarize(array, limit):
    """TF's text of an array: at most `limit` elements at each end of every dimension (all if < 0)."""
    array = np.asarray(array)
    ends = array.size if limit < 0 else min(limit, array.size)
    if array.dtype.kind == "c":                 # TF has no pretty form for these: "?" per element
        text = " ".join("?" for _ in range(ends)) + ("..." if ends < array.size else "")
        return f"[{text}]" if array.ndim else text
    if array.ndim == 0:
        return _element(array[()]) if ends else ""
    return _dimension(array, ends, 0, array.ndim)


def _dimension(array, ends, depth, ndim):
    if depth == ndim:          # an element: a 0-d array, or the object itself for strings
        return _element(array[()] if isinstance(array, np.ndarray) else array)
    count = array.shape[0]
    spacing = " " if depth == ndim - 1 else "\n" * (ndim - depth - 1) + " " * (depth + 1)
    parts = [_dimension(array[i], ends, depth + 1, ndim) for i in range(min(ends, count))]
    if count > 2 * ends:
        parts.append("...")
    parts += [_dimension(array[i], ends, depth + 1, ndim) for i in range(max(ends, count - ends), count)]
    return "[" + spacing.join(parts) + "]"


def _element(value):
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, (float, np.floating)):
        return "%.6g" % float(value)
    if isinstance(value, bytes):
        return '"' + value.decode("utf-8", "backslashreplace").encode("unicode_escape").decode("ascii")\
            .replace('"', '\\"') + '"'
    return str(value)


def format_text(arrays, template, placeholder, summarize_limit, raw=False):
    if raw:
        value = arrays[0][()]
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    pieces = template.split(placeholder)
    out = [pieces[0]]
    for array, piece in zip(arrays, pieces[1:]):
        out += [summarize(array, summarize_limit), piece]
    return "".join(out)


def _print_impl(*arrays, template, placeholder, summarize, output_stream, end, raw=False):
    text = format_text(arrays, template, placeholder, summarize, raw) + end
    if output_stream in _STREAMS:
        stream = _STREAMS[output_stream]()
        stream.write(text)
        stream.flush()
    elif output_stream in _LOG_LEVELS:
        logging.log(_LOG_LEVELS[output_stream], text.rstrip("\n"))
    else:
        with open(output_stream[len("file://"):], "a") as file:
            file.write(text)
    return []


PRINT = Primitive("print", lambda *inputs, **params: [], CONTROL, effect=True, differentiable=False,
                  multiple_results=True, same_dtype=())
PRINT.impl = _print_impl
